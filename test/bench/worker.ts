/**
 * `npm run bench -- worker`: what the worker machinery costs and buys on this machine.
 *  1. one SMLT worker vs a plain tfjs `fit` on the same data, model and backend (goal ≥ 0.9x),
 *  2. two workers vs one (goal ≥ 1.7x on 2 cores),
 *  3. the wasm backend vs cpu for the gradient step.
 * Throughput counts the training epoch only (samples / epoch seconds), not process start-up.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { captureNotebook } from '@smlt/shared/capture/capture';
import { splitHoldout } from '@smlt/shared/data/dataset';
import { buildModel } from '@smlt/shared/model/build';
import { createOptimizer, lossFunction } from '@smlt/shared/model/training';
import type { Captured, RunOptions } from '@smlt/shared/run/orchestrator';
import { initBackend } from '@smlt/shared/tf/backend';
import { localRun, withEpochs } from '../helpers/local-run.js';
import { benchCompute } from './worker-compute.js';

const notebooks = {
  mlp: fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url)),
  cnn: fileURLToPath(new URL('../fixtures/notebooks/mnist-cnn.ipynb', import.meta.url)),
};

/** Model and global batch size: small batches show the fixed cost per iteration, large ones the scaling. */
const CASES: Array<[keyof typeof notebooks, number]> = [
  ['mlp', 64],
  ['mlp', 512],
  ['cnn', 64],
  ['cnn', 256],
];

export async function main(args: string[]): Promise<void> {
  const cases = args.length ? CASES.filter(([kind]) => args.includes(kind)) : CASES;
  await initBackend('wasm');
  const rows: string[][] = [['model', 'batch', 'plain fit', '1 worker', '2 workers', '1w / fit', '2w / 1w']];
  for (const [kind, batchSize] of cases) {
    const captured = withEpochs(await captureNotebook(notebooks[kind], { batchSize }), 1);
    const fit = await plainFit(captured);
    const one = await smltEpoch(captured, 1);
    const two = await smltEpoch(captured, 2);
    rows.push([kind, String(batchSize), rate(fit), rate(one), rate(two), (one / fit).toFixed(2), (two / one).toFixed(2)]);
  }
  printTable('samples/s over one training epoch (wasm backend; SMLT epochs include sync, checkpoint and held-out evaluation)', rows);

  const computeRows: string[][] = [['model', 'wasm samples/s', 'cpu samples/s', 'wasm / cpu']];
  for (const kind of ['mlp', 'cnn'] as const) {
    const wasm = await benchCompute('wasm', kind, 30);
    const cpu = await benchCompute('cpu', kind, kind === 'cnn' ? 5 : 30);
    computeRows.push([kind, rate(wasm.samplesPerS), rate(cpu.samplesPerS), (wasm.samplesPerS / cpu.samplesPerS).toFixed(1)]);
  }
  await initBackend('wasm');
  printTable('gradient step (computeGradients + applyGradient), batch 64', computeRows);
}

/** The baseline: tfjs `fit` in this process, same model, data, batch and optimizer. */
async function plainFit(captured: Captured): Promise<number> {
  const { spec } = captured;
  const { train } = splitHoldout(captured.dataset, spec.training.validationSplit);
  const model = await buildModel(spec.model.topology, { seed: spec.training.seed });
  model.compile({ optimizer: createOptimizer(spec.training), loss: lossFunction(spec.training) });
  const x = tf.tensor(train.x, [train.count, ...train.xShape]);
  const y = tf.tensor(train.y, [train.count, ...train.yShape]);
  const started = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize: spec.training.batchSize, shuffle: false, verbose: 0 });
  const seconds = (performance.now() - started) / 1000;
  x.dispose();
  y.dispose();
  model.dispose();
  return train.count / seconds;
}

/**
 * Samples/s of one epoch on `workers` local workers (on `compute`'s backend when given): the
 * epoch's own duration, after warm-up of the containers.
 */
export async function smltEpoch(captured: Captured, workers: number, compute?: RunOptions['compute']): Promise<number> {
  const run = await localRun();
  const extra = { workers, ...(compute ? { compute } : {}) };
  try {
    await run.train(captured, extra); // warm-up: cold starts, data download
    const result = await run.train(captured, extra);
    const epoch = run.events.find((e) => e.runId === result.runId && e.type === 'epoch_finished');
    const plan = run.events.find((e) => e.runId === result.runId && e.type === 'plan');
    if (!epoch || epoch.type !== 'epoch_finished' || !plan || plan.type !== 'plan') throw new Error(`run ${result.status}`);
    return (plan.iterations * captured.spec.training.batchSize) / epoch.durationS;
  } finally {
    await run.dispose();
  }
}

const rate = (samplesPerS: number) => samplesPerS.toFixed(0);

export function printTable(title: string, rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  process.stdout.write(`\n${title}\n`);
  for (const row of rows) process.stdout.write(`${row.map((cell, c) => cell.padStart(widths[c])).join('  ')}\n`);
}
