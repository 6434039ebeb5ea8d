/**
 * The webgpu backend on a real WebGPU adapter (in CI: Mesa's lavapipe, a software one): the
 * gradients of the model corpus equal the cpu backend's within a stated tolerance; a 2-worker run
 * on webgpu learns as well as on wasm; a worker process that computed on webgpu exits cleanly.
 * Skips, naming the setup command, when no adapter is found (in CI, `SMLT_REQUIRE_E2E=1`, that
 * fails instead).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { captureNotebook } from '@smlt/shared/capture/capture';
import type { BackendName } from '@smlt/shared/tf/backend';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelDocument } from '@smlt/shared/capture/keras';
import { buildModel } from '@smlt/shared/model/build';
import { computeGradients, lossFunction } from '@smlt/shared/model/training';
import { backendInfo, initBackend } from '@smlt/shared/tf/backend';
import { detectGpu } from '@smlt/shared/tf/webgpu';
import { localRun, withEpochs } from '../helpers/local-run.js';

const SETUP = 'bash .ci/setup.d/webgpu.sh (Mesa 25 lavapipe from bookworm-backports)';
const gpu = await detectGpu();
const skip = 'reason' in gpu ? `no WebGPU adapter (${gpu.reason}): ${SETUP}` : false;
if (skip && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${skip}`);

/**
 * Largest difference between the two backends' gradients, relative to the gradient's largest
 * magnitude: float32 sums in another order differ in the last bits, which a long recurrence or a
 * batch-norm over a small batch magnifies. Measured on lavapipe: at most ≈ 1e-5 (see README).
 */
const TOLERANCE = 1e-4;

const MODELS = new URL('../fixtures/models/', import.meta.url).pathname;
/** The topology; `steps` shortens a recurrent model's fixed sequence length (200 steps take minutes on a software GPU). */
function topologyOf(path: string, steps?: number): Record<string, unknown> {
  let text = readFileSync(MODELS + path, 'utf8');
  if (steps) text = text.replaceAll('[null, 200]', `[null, ${steps}]`).replaceAll('"input_length": 200', `"input_length": ${steps}`);
  return modelDocument(JSON.parse(text) as unknown, path).topology;
}

const CORPUS: { name: string; file: string; classes: number; binary?: boolean; integers?: number; steps?: number }[] = [
  { name: 'MLP with dropout (Keras 2)', file: 'keras/k2_mnist_mlp_dropout_keras2.2.4.json', classes: 10 },
  { name: 'CNN (Keras 2, the CIFAR-10 tutorial)', file: 'keras/k2_cifar10_cnn_keras2.5.0.json', classes: 10 },
  { name: 'LeNet with BatchNormalization (Keras 3)', file: 'keras3/k3_fashion_mnist_lenet_batchnorm.json', classes: 10 },
  { name: 'functional toy ResNet with Add (Keras 3)', file: 'keras3/k3_functional_toy_resnet_add.json', classes: 10 },
  { name: 'Embedding → stacked LSTM (Keras 2), 16 of its 200 steps', file: 'keras/k2_imdb_stacked_lstm_keras2.10.0.json', classes: 1, binary: true, integers: 1000, steps: 16 },
  { name: 'Embedding → GRU (tfjs)', file: 'tfjs/tfjs_embedding_gru_model.json', classes: 4, integers: 20 },
];

describe('webgpu gradients equal cpu gradients', { skip }, () => {
  before(async () => {
    assert.equal(await initBackend('webgpu'), 'webgpu');
    const { adapter } = backendInfo();
    process.stdout.write(`# adapter: ${adapter?.vendor} ${adapter?.architecture} (${adapter?.description})\n`);
  });

  for (const entry of CORPUS) {
    it(entry.name, async () => {
      await initBackend('cpu');
      const model = await buildModel(topologyOf(entry.file, entry.steps), { seed: 7 });
      const batch = 4;
      const inputShape = (model.inputs[0]!.shape.slice(1) as number[]).map((d) => d ?? 8);
      const x = entry.integers ? tf.randomUniform([batch, ...inputShape], 0, entry.integers, 'int32', 1) : tf.randomUniform([batch, ...inputShape], -1, 1, 'float32', 1);
      const labels = tf.tensor1d([0, 1, 2, 3].map((v) => v % entry.classes), 'int32');
      const y = entry.binary ? tf.cast(tf.reshape(labels, [batch, 1]), 'float32') : tf.oneHot(labels, entry.classes);
      const loss = lossFunction({ loss: entry.binary ? 'binaryCrossentropy' : 'categoricalCrossentropy', fromLogits: !outputIsProbability(model) });
      try {
        const cpu = await sameRandomness(() => computeGradients(model, loss, x, y));
        await initBackend('webgpu');
        const webgpu = await sameRandomness(() => computeGradients(model, loss, x, y));
        assert.equal(webgpu.gradient.length, cpu.gradient.length);
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < cpu.gradient.length; i++) {
          scale = Math.max(scale, Math.abs(cpu.gradient[i]!));
          diff = Math.max(diff, Math.abs(cpu.gradient[i]! - webgpu.gradient[i]!));
        }
        const relative = diff / Math.max(scale, 1e-12);
        process.stdout.write(`# ${entry.name}: ${cpu.gradient.length} gradients, largest |Δ| ${diff.toExponential(2)} of ${scale.toExponential(2)} (${relative.toExponential(2)})\n`);
        assert.ok(scale > 0, 'the gradient is not all zero');
        assert.ok(relative <= TOLERANCE, `webgpu differs from cpu by ${relative.toExponential(2)} of the gradient's scale (tolerance ${TOLERANCE})`);
        assert.ok(Math.abs(webgpu.loss - cpu.loss) <= TOLERANCE * Math.max(1, Math.abs(cpu.loss)), `loss ${webgpu.loss} on webgpu, ${cpu.loss} on cpu`);
      } finally {
        tf.dispose([x, y, labels]);
        model.dispose();
      }
    });
  }
});

/** Dropout draws its mask from Math.random: the same draws on both backends give the same mask. */
async function sameRandomness<T>(run: () => Promise<T>): Promise<T> {
  const random = Math.random;
  let state = 1;
  Math.random = () => ((state = (state * 16807) % 2147483647) / 2147483647);
  try {
    return await run();
  } finally {
    Math.random = random;
  }
}

function outputIsProbability(model: LayersModel): boolean {
  const last = model.layers.at(-1)!.getConfig() as { activation?: string };
  return last.activation === 'softmax' || last.activation === 'sigmoid';
}

describe('runs on webgpu workers', { skip }, () => {
  it('trains 2 workers on webgpu to the held-out accuracy of wasm, within 1 point', async () => {
    const captured = withEpochs(await captureNotebook(fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url))), 2);
    const accuracy: Partial<Record<BackendName, number>> = {};
    for (const name of ['wasm', 'webgpu'] as const) {
      const run = await localRun();
      try {
        const result = await run.train(captured, { workers: 2, memoryMb: 1024, compute: { name, reason: 'the test', pinned: true } });
        assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
        const workers = run.events.filter((e) => e.type === 'worker_finished');
        assert.ok(workers.length >= 4 && workers.every((e) => e.type === 'worker_finished' && e.backend === name), `every worker computed on ${name}`);
        const adapters = workers.map((e) => (e.type === 'worker_finished' ? e.adapter?.description : undefined));
        assert.deepEqual(new Set(adapters), new Set([name === 'webgpu' && 'adapter' in gpu ? gpu.adapter.description : undefined]), 'a webgpu worker names its adapter');
        const plan = run.events.find((e) => e.type === 'plan');
        assert.equal(plan?.type === 'plan' ? plan.backend?.name : undefined, name, 'the plan event names the backend');
        accuracy[name] = result.metrics?.valAccuracy;
      } finally {
        await run.dispose();
      }
    }
    process.stdout.write(`# held-out accuracy after 2 epochs: wasm ${accuracy.wasm}, webgpu ${accuracy.webgpu}\n`);
    assert.ok(accuracy.wasm! > 0.8, `wasm learned (${accuracy.wasm})`);
    assert.ok(Math.abs(accuracy.webgpu! - accuracy.wasm!) <= 0.01, `webgpu ${accuracy.webgpu} vs wasm ${accuracy.wasm}`);
  });

  it('a worker refuses to compute on another backend than the run\'s', async () => {
    // The Vulkan loader finds no driver: Dawn has no adapter in the worker, as on a machine without a GPU.
    const run = await localRun({ env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' } as Record<string, string> });
    try {
      const captured = withEpochs(await captureNotebook(fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url))), 1);
      const result = await run.train(captured, { workers: 1, memoryMb: 1024, maxRetries: 0, compute: { name: 'webgpu', reason: 'the test', pinned: true } });
      assert.equal(result.status, 'failed');
      assert.match(result.error?.message ?? '', /compute on webgpu, which this worker cannot use/);
    } finally {
      await run.dispose();
    }
  });

  for (const ending of ['its parent disconnects (as a local worker does)', 'its work is done (no process.exit)']) {
    it(`a process that trained on webgpu exits with code 0 when ${ending}`, async () => {
      const child = fork(fileURLToPath(new URL('../fixtures/workers/webgpu-step.ts', import.meta.url)), [ending.startsWith('its parent') ? 'wait' : 'return'], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      const stepped = new Promise<unknown>((resolve) => child.once('message', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      try {
        assert.deepEqual(await stepped, { backend: 'webgpu', finite: true });
        if (child.connected) child.disconnect();
        assert.deepEqual(await exited, { code: 0, signal: null });
      } finally {
        clearTimeout(timer);
      }
    });
  }
});
