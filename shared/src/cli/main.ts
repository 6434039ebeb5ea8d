/**
 * The `smlt` command line. Thin: parses options, then calls capture, the orchestrator and the
 * local backend in `shared`. Exit code 0 only on success; 1 when a run fails or is cancelled;
 * 2 on bad input.
 */
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { LocalPlatform } from '../backends/local/local-platform.js';
import { FolderStore } from '../backends/local/folder-store.js';
import { captureNotebook } from '../capture/capture.js';
import { isSmltError } from '../errors.js';
import { readManifest, readStatus } from '../run/run-state.js';
import { type RunOptions, type RunResult, requestCancel, resume, train } from '../run/orchestrator.js';
import type { TrainingConfig } from '../spec/job-spec.js';
import { findIndexedRun, indexRun, listIndexedRuns } from './run-index.js';
import { outputMode, progressPrinter } from './progress.js';

const DEFAULT_WORKERS = 4;
/** 1,769 MB buys one full vCPU on Lambda; a single-threaded wasm worker gains nothing above it. */
const DEFAULT_MEMORY_MB = 1769;

const program = new Command()
  .name('smlt')
  .description('Train notebook models on serverless workers (local worker processes by default).')
  .showHelpAfterError();

program
  .command('train')
  .description('Train the model of a notebook (cells tagged smlt:model, smlt:data, smlt:config)')
  .argument('<notebook>', '.ipynb file')
  .option('--workers <n>', 'number of workers', positiveInt('--workers'), DEFAULT_WORKERS)
  .option('--memory <mb>', 'memory per worker in MB (Lambda sizes CPU with it)', positiveInt('--memory'), DEFAULT_MEMORY_MB)
  .option('--epochs <n>', 'override the notebook\'s epochs', positiveInt('--epochs'))
  .option('--batch-size <n>', 'override the notebook\'s global batch size', positiveInt('--batch-size'))
  .option('--sync <strategy>', 'gradient aggregation: hierarchical or flat', syncName, 'hierarchical')
  .option('--backend <name>', 'where workers run: local', backendName, 'local')
  .option('--time-limit <s>', 'per-invocation time limit in seconds (Lambda: 900)', positiveInt('--time-limit'), 900)
  .option('--out <dir>', 'output folder (default: .smlt/runs/<id> next to the notebook)')
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (notebook: string, opts: TrainOptions) => {
    const mode = outputMode(Boolean(opts.json));
    const overrides: Partial<TrainingConfig> = {
      ...(opts.epochs ? { epochs: opts.epochs } : {}),
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    };
    const notebookPath = resolve(notebook);
    const captured = await captureNotebook(notebookPath, overrides);
    const storeRoot = join(dirname(notebookPath), '.smlt');
    await runAndReport(mode, opts.timeLimit, storeRoot, (base) =>
      train(captured, {
        ...base,
        workers: opts.workers,
        memoryMb: opts.memory,
        sync: opts.sync,
        notebook: notebookPath,
        ...(opts.out ? { outDir: resolve(opts.out) } : {}),
      }),
      notebookPath,
    );
  });

program
  .command('resume')
  .description('Continue a run that stopped (crash, failure, cancel) from its last checkpoint')
  .argument('<run>', 'run id (see `smlt runs`)')
  .option('--workers <n>', 'change the number of workers', positiveInt('--workers'))
  .option('--memory <mb>', 'change the memory per worker', positiveInt('--memory'))
  .option('--time-limit <s>', 'per-invocation time limit in seconds', positiveInt('--time-limit'), 900)
  .option('--force', 'take over even if the run\'s orchestrator seems alive (it crashed moments ago)')
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (runId: string, opts: { workers?: number; memory?: number; timeLimit: number; force?: boolean; json?: boolean }) => {
    const storeRoot = await storeOf(runId);
    await runAndReport(outputMode(Boolean(opts.json)), opts.timeLimit, storeRoot, (base) =>
      resume(runId, {
        ...base,
        force: Boolean(opts.force),
        ...(opts.workers ? { workers: opts.workers } : {}),
        ...(opts.memory ? { memoryMb: opts.memory } : {}),
      }),
    );
  });

program
  .command('cancel')
  .description('Stop a run; it keeps its last checkpoint and report')
  .argument('<run>', 'run id')
  .action(async (runId: string) => {
    const outcome = await requestCancel(new FolderStore(await storeOf(runId)), runId);
    const messages = {
      requested: `Cancel requested; run ${runId} stops within a few seconds and keeps its last checkpoint.`,
      cancelled: `Run ${runId} had no live orchestrator; it is now marked cancelled.`,
      finished: `Run ${runId} has already finished.`,
    };
    process.stdout.write(`${messages[outcome]}\n`);
  });

program
  .command('runs')
  .description('List runs started from this machine')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const rows = [];
    for (const run of await listIndexedRuns()) {
      const store = new FolderStore(run.storeRoot);
      const status = await readStatus(store, run.runId).catch(() => undefined);
      const last = status?.epochs.at(-1);
      rows.push({
        runId: run.runId,
        status: status?.status ?? 'missing',
        epochs: status ? `${status.epochsDone}` : '-',
        accuracy: last?.valAccuracy,
        costUsd: status ? status.cost.computeUsd : undefined,
        notebook: run.notebook,
        createdAt: run.createdAt,
      });
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    if (rows.length === 0) process.stdout.write('No runs yet. Start one with `smlt train <notebook>`.\n');
    for (const r of rows) {
      const accuracy = r.accuracy !== undefined ? `${(r.accuracy * 100).toFixed(1)}%` : '-';
      process.stdout.write(`${r.runId}  ${r.status.padEnd(9)}  epochs ${r.epochs.padEnd(3)}  accuracy ${accuracy.padEnd(6)}  ${r.notebook ?? ''}\n`);
    }
  });

interface TrainOptions {
  workers: number;
  memory: number;
  epochs?: number;
  batchSize?: number;
  sync: 'hierarchical' | 'flat';
  backend: 'local';
  timeLimit: number;
  out?: string;
  json?: boolean;
}

type BaseOptions = Pick<RunOptions, 'platform' | 'store' | 'storeLocation' | 'signal' | 'onEvent'>;

/** Sets up the local backend, shows progress, stops cleanly on Ctrl-C, prints the result. */
async function runAndReport(
  mode: ReturnType<typeof outputMode>,
  timeLimitS: number,
  storeRoot: string,
  start: (base: BaseOptions) => Promise<RunResult>,
  notebook?: string,
): Promise<void> {
  const platform = new LocalPlatform({ timeLimitMs: timeLimitS * 1000 });
  const store = new FolderStore(storeRoot);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const printer = progressPrinter(mode);
  let indexing: Promise<void> = Promise.resolve();
  try {
    const result = await start({
      platform,
      store,
      storeLocation: { kind: 'folder', root: storeRoot },
      signal: abort.signal,
      onEvent: (event) => {
        if (event.type === 'run_started' && event.resumedFromEpoch === undefined) {
          indexing = indexRun({ runId: event.runId, storeRoot, createdAt: event.time, notebook });
        }
        printer.onEvent(event);
      },
    });
    printer.stop();
    await indexing;
    if (mode === 'json') {
      process.stdout.write(
        `${JSON.stringify({
          type: 'result',
          status: result.status,
          runId: result.runId,
          metrics: { loss: result.metrics?.valLoss ?? result.metrics?.loss, accuracy: result.metrics?.valAccuracy, trainLoss: result.metrics?.loss },
          durationS: result.durationS,
          costUsd: result.costUsd,
          modelPath: result.modelPath,
          reportPath: result.reportPath,
          ...(result.error ? { error: result.error } : {}),
        })}\n`,
      );
    }
    process.exitCode = result.status === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await platform.close();
  }
}

async function storeOf(runId: string): Promise<string> {
  const indexed = await findIndexedRun(runId);
  if (indexed) return indexed.storeRoot;
  // Not started from this machine's index: look next to the current folder.
  const local = resolve('.smlt');
  await readManifest(new FolderStore(local), runId);
  return local;
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1.`);
    return n;
  };
}

function syncName(value: string): 'hierarchical' | 'flat' {
  if (value !== 'hierarchical' && value !== 'flat') throw new InvalidArgumentError('choose hierarchical or flat.');
  return value;
}

function backendName(value: string): 'local' {
  if (value !== 'local') {
    throw new InvalidArgumentError('only the local backend is available in this version (AWS Lambda comes with `smlt deploy`).');
  }
  return value;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const json = process.argv.includes('--json');
  if (isSmltError(err)) {
    if (json) process.stdout.write(`${JSON.stringify({ type: 'result', status: 'failed', error: err.toJSON() })}\n`);
    else process.stderr.write(`error [${err.code}]: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
