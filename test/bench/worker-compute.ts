/**
 * The worker's compute step alone (computeGradients + applyGradient, no sync), per backend, at
 * batch 64 (or another): what a worker's vCPU delivers, which sizing and the scheduler's prior need.
 * Run directly for a table: `node --import tsx test/bench/worker-compute.ts [iterations]`.
 */
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { applyGradient, computeGradients, createOptimizer, lossFunction } from '@smlt/shared/model/training';
import { type BackendName, initBackend } from '@smlt/shared/tf/backend';

export type ComputeModel = 'mlp' | 'cnn';

export interface ComputeBench {
  backend: BackendName;
  model: ComputeModel;
  batch: number;
  iterations: number;
  msPerIteration: number;
  samplesPerS: number;
}

const BATCH = 64;
const WARM_UP = 5;

/** MNIST-shaped models: the MLP 784-128-10, and conv2d → maxPooling2d → flatten → dense. */
function build(kind: ComputeModel): { model: tfl.LayersModel; inputShape: number[] } {
  if (kind === 'mlp') {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    return { model, inputShape: [784] };
  }
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  return { model, inputShape: [28, 28, 1] };
}

/**
 * Times `iterations` gradient steps on `backend` after a short warm-up; switches the backend.
 * With `budgetS`, fewer steps (at least 2, one warm-up) when a step is slow: the table stays quick.
 */
export async function benchCompute(
  backend: BackendName,
  kind: ComputeModel,
  iterations: number,
  options: { batch?: number; budgetS?: number } = {},
): Promise<ComputeBench> {
  const active = await initBackend(backend);
  if (active !== backend) throw new Error(`backend ${backend} is not available here (got ${active})`);
  const batch = options.batch ?? BATCH;
  const { model, inputShape } = build(kind);
  const loss = lossFunction({ loss: 'categoricalCrossentropy', fromLogits: false });
  const optimizer = createOptimizer({ optimizer: 'adam', learningRate: 0.001 });
  const x = tf.randomUniform([batch, ...inputShape]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32') as tf.Tensor1D, 10);
  const step = async () => applyGradient(model, optimizer, (await computeGradients(model, loss, x, y)).gradient);
  try {
    const warmStarted = performance.now();
    await step();
    const firstS = (performance.now() - warmStarted) / 1000;
    const warmUps = options.budgetS === undefined ? WARM_UP : Math.min(WARM_UP, Math.floor(options.budgetS / 4 / firstS));
    for (let i = 1; i < warmUps; i++) await step();
    const steps = options.budgetS === undefined ? iterations : Math.max(2, Math.min(iterations, Math.floor(options.budgetS / firstS)));
    const started = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const msPerIteration = (performance.now() - started) / steps;
    return { backend, model: kind, batch, iterations: steps, msPerIteration, samplesPerS: (batch * 1000) / msPerIteration };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

async function main(iterations: number): Promise<void> {
  const rows = [['model', 'wasm ms/it', 'wasm samples/s', 'cpu ms/it', 'cpu samples/s', 'wasm / cpu']];
  for (const kind of ['mlp', 'cnn'] as const) {
    const wasm = await benchCompute('wasm', kind, iterations);
    // The cpu backend's conv gradient is naive JS: fewer iterations keep the table quick.
    const cpu = await benchCompute('cpu', kind, kind === 'cnn' ? Math.max(3, Math.ceil(iterations / 6)) : iterations);
    rows.push([
      kind,
      wasm.msPerIteration.toFixed(1),
      wasm.samplesPerS.toFixed(0),
      cpu.msPerIteration.toFixed(1),
      cpu.samplesPerS.toFixed(0),
      (wasm.samplesPerS / cpu.samplesPerS).toFixed(1),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(`computeGradients + applyGradient, batch ${BATCH}, adam\n`);
  for (const row of rows) process.stdout.write(`${row.map((cell, c) => cell.padStart(widths[c])).join('  ')}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(Number(process.argv[2] ?? 20));
}
