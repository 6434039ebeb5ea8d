/**
 * Validates the memory footprint estimate (`memoryFootprint`, wasm-simd profile) against the
 * peak resident memory of real local workers: one epoch of real training on 2 worker processes
 * per model, the LocalPlatform sampling each worker's /proc VmRSS every 50 ms. Also measures the
 * bare runtime (a Node process with tfjs-core, tfjs-layers and the wasm backend initialised).
 *
 * Run directly: `node --import tsx test/bench/sizing-rss.ts [--write] [--models a,b]`
 * (`--write` records the numbers in test/fixtures/sizing/measured-rss.json, which
 * test/unit/sizing-rss.test.ts checks the estimate against).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InvokeOptions, InvokeOutcome } from '@smlt/shared/backends/ports';
import { captureNotebook, captureNotebookJson } from '@smlt/shared/capture/capture';
import type { Captured } from '@smlt/shared/run/orchestrator';
import { BACKEND_PROFILES } from '@smlt/shared/sizing/profiles';
import { memoryFootprint, type SizingInput } from '@smlt/shared/sizing/memory';
import type { SyncName } from '@smlt/shared/run/events';
import type { OptimizerName } from '@smlt/shared/spec/job-spec';
import { localRun, withEpochs } from '../helpers/local-run.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
export const FIXTURE = here('../fixtures/sizing/measured-rss.json');
const WORKERS = 2;
const PROFILE = 'wasm-simd' as const;

export interface MeasuredModel {
  name: string;
  source: string;
  paramCount: number;
  /** Inputs of `memoryFootprint` for this run (profile `wasm-simd`). */
  input: {
    optimizer: OptimizerName;
    bytesPerSample: number;
    workers: number;
    perWorkerBatch: number;
    partitionSamples: number;
    sync: SyncName;
  };
  /** Largest peak RSS over every worker invocation of the run (MB). */
  measuredPeakMb: number;
  /** Each invocation's peak RSS (MB). */
  invocationPeaksMb: number[];
  estimateMb: number;
  ratio: number;
}

export interface MeasuredFixture {
  date: string;
  machine: { node: string; platform: string; cpus: string; memoryGb: number; backend: string; profile: typeof PROFILE };
  method: string;
  /** RSS of a bare Node process with tfjs-core + tfjs-layers + the wasm backend initialised (MB). */
  runtimeBaseMb: number;
  models: MeasuredModel[];
}

export function sizingInputOf(m: Pick<MeasuredModel, 'paramCount' | 'input'>): SizingInput {
  const { optimizer, bytesPerSample, ...rest } = m.input;
  return { model: { paramCount: m.paramCount, optimizer, bytesPerSample }, profile: BACKEND_PROFILES[PROFILE], ...rest };
}

/** The mnist notebook with a bigger MLP, 784-1024-1024-10 (≈1.86 M parameters). */
async function bigMlp(): Promise<Captured> {
  const path = here('../../examples/mnist.ipynb');
  const notebook = JSON.parse(readFileSync(path, 'utf8'));
  const cell = notebook.cells.find((c: { source: string[] | string }) => [c.source].flat().join('').includes('smlt: model'));
  cell.source = [
    '// smlt: model\n',
    'const model = tf.sequential();\n',
    "model.add(tf.layers.dense({ inputShape: [784], units: 1024, activation: 'relu' }));\n",
    "model.add(tf.layers.dense({ units: 1024, activation: 'relu' }));\n",
    "model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));\n",
  ];
  return captureNotebookJson(notebook, { notebookDir: dirname(path), name: 'mnist-mlp-1024x2' });
}

const MODELS: Record<string, { source: string; capture: () => Promise<Captured> }> = {
  'mnist-mlp': { source: 'examples/mnist.ipynb', capture: () => captureNotebook(here('../../examples/mnist.ipynb')) },
  'mnist-cnn': { source: 'test/fixtures/notebooks/mnist-cnn.ipynb', capture: () => captureNotebook(here('../fixtures/notebooks/mnist-cnn.ipynb')) },
  'mnist-mlp-1024x2': { source: 'examples/mnist.ipynb with dense 784-1024-1024-10', capture: bigMlp },
  'keras-mlp': { source: 'examples/keras-mlp.ipynb', capture: () => captureNotebook(here('../../examples/keras-mlp.ipynb')) },
};

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** RSS of a fresh Node process once tfjs-core, tfjs-layers and the wasm backend are up (median of 3). */
export function measureRuntimeBaseMb(): number {
  const script = `
    await import('@tensorflow/tfjs-layers');
    const { initBackend } = await import('@smlt/shared/tf/backend');
    const b = await initBackend('wasm');
    if (b !== 'wasm') throw new Error('wasm backend unavailable: ' + b);
    const tf = await import('@tensorflow/tfjs-core');
    tf.tidy(() => tf.matMul(tf.ones([8, 8]), tf.ones([8, 8])).dataSync());
    await new Promise((r) => setTimeout(r, 200));
    console.log(process.memoryUsage().rss / 1048576);`;
  const samples = [0, 1, 2].map(() =>
    Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: here('../..'), encoding: 'utf8' }).trim()),
  );
  return Math.round(samples.sort((a, b) => a - b)[1]);
}

export async function measureModel(name: string): Promise<MeasuredModel> {
  const entry = MODELS[name];
  if (!entry) throw new Error(`unknown model ${name}; known: ${Object.keys(MODELS).join(', ')}`);
  const captured = withEpochs(await entry.capture(), 1);
  const run = await localRun();
  const peaks: number[] = [];
  const platform = run.platform;
  const invoke = platform.invoke.bind(platform);
  platform.invoke = async <E, R>(event: E, options: InvokeOptions): Promise<InvokeOutcome<R>> => {
    const outcome = await invoke<E, R>(event, options);
    if (outcome.peakMemoryMb !== undefined) peaks.push(outcome.peakMemoryMb);
    return outcome;
  };
  try {
    const result = await run.train(captured, { workers: WORKERS, memoryMb: 4096 });
    if (result.status !== 'succeeded') throw new Error(`${name}: run ${result.status}: ${JSON.stringify(result.error)}`);
    const started = run.events.find((e) => e.type === 'run_started');
    const plan = run.events.find((e) => e.type === 'plan');
    if (started?.type !== 'run_started' || plan?.type !== 'plan') throw new Error(`${name}: no run_started/plan event`);
    const { spec } = captured;
    const bytesPerSample = 4 * (product(spec.data.xShape) + product(spec.data.yShape));
    const measured: MeasuredModel = {
      name,
      source: entry.source,
      paramCount: spec.model.paramCount,
      input: {
        optimizer: spec.training.optimizer as OptimizerName,
        bytesPerSample,
        workers: WORKERS,
        perWorkerBatch: plan.perWorkerBatch,
        partitionSamples: Math.ceil(started.trainSamples / WORKERS),
        sync: plan.sync,
      },
      measuredPeakMb: Math.max(...peaks),
      invocationPeaksMb: peaks,
      estimateMb: 0,
      ratio: 0,
    };
    const estimate = memoryFootprint(sizingInputOf(measured)).hostMb;
    measured.estimateMb = Math.round(estimate * 10) / 10;
    measured.ratio = Math.round((estimate / measured.measuredPeakMb) * 1000) / 1000;
    return measured;
  } finally {
    await run.dispose();
  }
}

export async function main(args: string[] = []): Promise<MeasuredFixture> {
  process.env.SMLT_BACKEND = 'wasm';
  const write = args.includes('--write');
  const i = args.indexOf('--models');
  const names = i >= 0 ? args[i + 1].split(',') : ['mnist-mlp', 'mnist-cnn', 'mnist-mlp-1024x2', 'keras-mlp'];
  const runtimeBaseMb = measureRuntimeBaseMb();
  const models: MeasuredModel[] = [];
  for (const name of names) models.push(await measureModel(name));
  const rows = [['model', 'params', 'estimate MB', 'measured MB', 'ratio']];
  for (const m of models) rows.push([m.name, String(m.paramCount), m.estimateMb.toFixed(1), String(m.measuredPeakMb), m.ratio.toFixed(2)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(`runtime base (node + tfjs-core/layers + wasm): ${runtimeBaseMb} MB`);
  for (const r of rows) console.log(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '));
  const fixture: MeasuredFixture = {
    date: new Date().toISOString().slice(0, 10),
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      backend: 'wasm (SMLT_BACKEND=wasm)',
      profile: PROFILE,
    },
    method: `test/bench/sizing-rss.ts: 1 epoch on ${WORKERS} LocalPlatform workers; peak = max VmRSS (sampled every 50 ms) over every invocation`,
    runtimeBaseMb,
    models,
  };
  if (write) {
    mkdirSync(dirname(FIXTURE), { recursive: true });
    writeFileSync(FIXTURE, JSON.stringify(fixture, null, 2) + '\n');
    console.log(`wrote ${FIXTURE}`);
  }
  return fixture;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
