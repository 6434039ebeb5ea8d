/**
 * One registry for the tfjs backend, chosen at run time: native (`@tensorflow/tfjs-node`, when a
 * container image ships it), else wasm with SIMD (the default: it installs without downloading
 * anything), else the pure-JS cpu backend. `webgpu` (Dawn's binding, see tf/webgpu.ts) is only
 * activated when asked for: by `SMLT_BACKEND=webgpu`, or by the run's planner when it measured a
 * real GPU faster (service/backend-choice.ts). Every worker of a run must use the same backend so
 * the workers stay bit-identical; the chosen name is reported with each worker result.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { errorMessage, SmltError } from '../errors.js';
import { registerWasmKernelGaps } from './wasm-kernel-gaps.js';
import { type GpuAdapterReport, probeGpu } from './webgpu.js';

export type BackendName = 'native' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** wasm only: whether the SIMD binary is the one running. */
  simd?: boolean;
  /** Threads the backend computes with: sizing uses it to know what extra vCPUs buy. */
  threads: number;
  /** webgpu only: the adapter it computes on. */
  adapter?: GpuAdapterReport;
  /** Backends tried before this one, and why each was passed over. */
  skipped: { name: BackendName; reason: string }[];
}

/** The fallback chain; webgpu is in it only when it is the preference (see above). */
const ORDER: readonly BackendName[] = ['native', 'webgpu', 'wasm', 'cpu'];
const TFJS_NAME: Record<BackendName, string> = { native: 'tensorflow', webgpu: 'webgpu', wasm: 'wasm', cpu: 'cpu' };

let active: BackendInfo | undefined;
/** Backends that failed once: a failed wasm init cannot be retried in the same process anyway. */
const failed = new Map<BackendName, string>();
let pending: Promise<BackendName> | undefined;

/**
 * Activates the first backend that works, starting at `preference` (default: env `SMLT_BACKEND`,
 * else `native`) and falling back in the order native → wasm → cpu. A second call with no
 * preference, or the active one, returns the active backend without doing anything; a call with
 * another explicit preference switches (benchmarks compare backends in one process).
 */
export async function initBackend(preference: BackendName | undefined = requestedBackend()): Promise<BackendName> {
  // Concurrent callers share one initialization: two interleaved setBackend calls would race.
  while (pending) await pending.catch(() => undefined);
  if (active && (preference === undefined || preference === active.name)) return active.name;
  pending = select(preference ?? 'native');
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

/** What is running now; throws before `initBackend`. */
export function backendInfo(): BackendInfo {
  if (!active) throw new Error('No SMLT backend yet: call initBackend() first.');
  return { ...active, skipped: [...active.skipped] };
}

async function select(preference: BackendName): Promise<BackendName> {
  const skipped: BackendInfo['skipped'] = [];
  const chain = ORDER.slice(ORDER.indexOf(preference)).filter((name) => name !== 'webgpu' || preference === 'webgpu');
  for (const name of chain) {
    const known = failed.get(name);
    const result = known === undefined ? await activate(name) : { reason: known };
    if ('threads' in result) {
      active = { name, ...result, skipped };
      return name;
    }
    failed.set(name, result.reason);
    skipped.push({ name, reason: result.reason });
  }
  // Unreachable while cpu is last in ORDER: the cpu backend is pure JS and always initializes.
  throw new SmltError('WORKER_FAILED', `No tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

type Activation = { simd?: boolean; threads: number; adapter?: GpuAdapterReport } | { reason: string };

function activate(name: BackendName): Promise<Activation> {
  switch (name) {
    case 'native':
      return activateNative();
    case 'webgpu':
      return activateWebgpu();
    case 'wasm':
      return activateWasm();
    case 'cpu':
      return activateCpu();
  }
}

async function activateNative(): Promise<Activation> {
  // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
  } catch (err) {
    return { reason: `${specifier} is not installed or failed to load (${errorMessage(err)})` };
  }
  // tfjs-node registers on the tfjs-core copy it resolves; a second copy would leave ours without it.
  if (!tf.findBackendFactory(TFJS_NAME.native)) {
    return { reason: `${specifier} loaded but registered its backend with another copy of @tensorflow/tfjs-core` };
  }
  if (!(await tf.setBackend(TFJS_NAME.native))) return { reason: 'the tensorflow backend failed to initialize' };
  // libtensorflow runs intra-op work on one thread per core.
  return { threads: availableParallelism() };
}

async function activateWebgpu(): Promise<Activation> {
  const gpu = await probeGpu();
  if ('reason' in gpu) return gpu;
  // The backend registers itself on import only if navigator.gpu exists, which probeGpu set up;
  // a variable specifier keeps it out of bundles that never run on a GPU.
  const specifier = '@tensorflow/tfjs-backend-webgpu';
  try {
    await import(specifier);
  } catch (err) {
    return { reason: `${specifier} failed to load (${errorMessage(err)})` };
  }
  if (!tf.findBackendFactory(TFJS_NAME.webgpu)) return { reason: `${specifier} loaded but did not register (no navigator.gpu when it was imported)` };
  if (!(await tf.setBackend(TFJS_NAME.webgpu))) return { reason: `the webgpu backend failed to initialize on ${gpu.adapter.description}` };
  // One host thread dispatches the shaders; the GPU's own parallelism is in the profile's speed.
  return { threads: 1, adapter: gpu.adapter };
}

async function activateWasm(): Promise<Activation> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    return { reason: `@tensorflow/tfjs-backend-wasm failed to load (${errorMessage(err)})` };
  }
  // The flags are registered by the import above; threads are never on in Node (tfjs#3830).
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const binary = simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
  const located = locateWasmDir(binary);
  if ('reason' in located) return located;
  try {
    // Emscripten reads the binary with fs in Node: a plain directory path ending with a separator.
    wasm.setWasmPaths(located.dir.endsWith(sep) ? located.dir : located.dir + sep);
  } catch (err) {
    return { reason: `the wasm backend was already initialized elsewhere (${errorMessage(err)})` };
  }
  if (!(await tf.setBackend(TFJS_NAME.wasm))) return { reason: `the wasm backend failed to initialize from ${located.dir}` };
  registerWasmKernelGaps();
  return { simd, threads: wasm.getThreadsCount() };
}

async function activateCpu(): Promise<Activation> {
  if (!(await tf.setBackend(TFJS_NAME.cpu))) return { reason: 'the cpu backend failed to initialize' };
  return { threads: 1 };
}

/**
 * Where the `.wasm` binaries are: `SMLT_WASM_DIR` when set (and then only there, so a wrong
 * setting is an error rather than a silent fallback), else the installed package's dist folder,
 * else beside this module (a bundled Lambda zip puts them beside the bundle).
 */
function locateWasmDir(binary: string): { dir: string } | { reason: string } {
  const override = process.env.SMLT_WASM_DIR;
  if (override) {
    return existsSync(join(override, binary)) ? { dir: override } : { reason: `SMLT_WASM_DIR=${override} has no ${binary}` };
  }
  const candidates: string[] = [];
  try {
    candidates.push(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm')));
  } catch {
    // Not resolvable inside a bundle: the next candidate covers that case.
  }
  candidates.push(dirname(fileURLToPath(import.meta.url)));
  const dir = candidates.find((d) => existsSync(join(d, binary)));
  return dir ? { dir } : { reason: `${binary} is in none of ${candidates.join(', ')} (set SMLT_WASM_DIR)` };
}

/** The backend `SMLT_BACKEND` asks for, if any (an unknown name is an error naming the choices). */
export function requestedBackend(): BackendName | undefined {
  const value = process.env.SMLT_BACKEND;
  if (value === undefined || value === '') return undefined;
  if ((ORDER as readonly string[]).includes(value)) return value as BackendName;
  throw new SmltError('OPTION_INVALID', `SMLT_BACKEND=${value} is not one of ${ORDER.join(', ')}.`);
}
