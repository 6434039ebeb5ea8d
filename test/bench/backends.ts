/**
 * `npm run bench -- backends [--quick]`: every tfjs backend this machine has (webgpu, wasm, cpu),
 * as ratios against wasm measured in the same process, with the WebGPU adapter named:
 *  1. the gradient step (computeGradients + applyGradient) of an MLP and a CNN at batch 64, 512, 4096;
 *  2. a whole SMLT epoch (one local worker: step, exchange, checkpoint, held-out metrics) of the
 *     same models from their notebooks at the same batches;
 *  3. the backend the run's planner then chooses for each (service/backend-choice.ts), and why.
 * `--quick`: batch 64 and 512 only. The cpu backend's CNN epochs are left out (minutes each).
 */
import { fileURLToPath } from 'node:url';
import { captureNotebook } from '@smlt/shared/capture/capture';
import { chooseBackend } from '@smlt/shared/service/backend-choice';
import { type BackendName, initBackend } from '@smlt/shared/tf/backend';
import { adapterLabel, detectGpu } from '@smlt/shared/tf/webgpu';
import { withEpochs } from '../helpers/local-run.js';
import { printTable, smltEpoch } from './worker.js';
import { benchCompute, type ComputeModel } from './worker-compute.js';

const NOTEBOOKS: Record<ComputeModel, string> = {
  mlp: fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url)),
  cnn: fileURLToPath(new URL('../fixtures/notebooks/mnist-cnn.ipynb', import.meta.url)),
};

export async function main(args: string[]): Promise<void> {
  const batches = args.includes('--quick') ? [64, 512] : [64, 512, 4096];
  const gpu = await detectGpu();
  const backends: BackendName[] = 'adapter' in gpu ? ['webgpu', 'wasm', 'cpu'] : ['wasm', 'cpu'];
  process.stdout.write(`WebGPU adapter: ${'adapter' in gpu ? adapterLabel(gpu.adapter) : `none (${gpu.reason})`}\n`);
  const others = backends.filter((b) => b !== 'wasm');
  const header = (what: string) => ['model', 'batch', ...backends.map((b) => `${b} ${what}`), ...others.map((b) => `${b} / wasm`)];

  const steps: string[][] = [header('samples/s')];
  for (const kind of ['mlp', 'cnn'] as const) {
    for (const batch of batches) {
      const rates = new Map<BackendName, number>();
      for (const backend of backends) rates.set(backend, (await benchCompute(backend, kind, 30, { batch, budgetS: 3 })).samplesPerS);
      steps.push(row(kind, batch, backends, others, rates));
    }
  }
  printTable('gradient step (computeGradients + applyGradient, adam), samples/s', steps);

  await initBackend('wasm');
  const epochs: string[][] = [header('samples/s')];
  const choices: string[][] = [['model', 'batch', 'planner chose', 'why']];
  for (const kind of ['mlp', 'cnn'] as const) {
    for (const batch of batches) {
      const captured = withEpochs(await captureNotebook(NOTEBOOKS[kind], { batchSize: batch }), 1);
      const rates = new Map<BackendName, number>();
      for (const backend of backends) {
        if (backend === 'cpu' && kind === 'cnn') continue;
        rates.set(backend, await smltEpoch(captured, 1, { name: backend, reason: 'the benchmark', pinned: true }));
      }
      epochs.push(row(kind, batch, backends, others, rates));
      const { choice } = await chooseBackend(captured, batch, { name: 'local' });
      choices.push([kind, String(batch), choice.name, choice.reason]);
    }
  }
  printTable('one SMLT epoch on 1 local worker (step, exchange, checkpoint, held-out metrics), samples/s; cpu CNN epochs left out', epochs);
  printTable('what the planner chooses (no SMLT_BACKEND)', choices);
}

function row(kind: string, batch: number, backends: BackendName[], others: BackendName[], rates: Map<BackendName, number>): string[] {
  const wasm = rates.get('wasm')!;
  const cell = (b: BackendName) => (rates.has(b) ? rates.get(b)!.toFixed(0) : '—');
  const ratio = (b: BackendName) => (rates.has(b) ? `${(rates.get(b)! / wasm).toFixed(2)}x` : '—');
  return [kind, String(batch), ...backends.map(cell), ...others.map(ratio)];
}
