/**
 * The `smlt` command line. Thin: parses options, then calls the run service in `shared` (the
 * same one `smlt serve` and the editors use). Exit code 0 only on success; 1 when a run fails or
 * is cancelled; 2 on bad input.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SmltError, isSmltError } from '../errors.js';
import { panelStateFromEvents, renderReportPage } from '../panel/index.js';
import type { RunEventOf } from '../run/events.js';
import type { RunReport } from '../run/outputs.js';
import { RunServiceClient } from '../serve/client.js';
import { startServer } from '../serve/server.js';
import { readServeInfo, removeServeInfo, serveInfoPath, writeServeInfo } from '../serve/token-file.js';
import { DEFAULT_MEMORY_MB, DEFAULT_WORKERS, LocalRunService } from '../service/local-run-service.js';
import type { RunService } from '../service/run-service.js';
import { type OutputMode, outputMode, progressPrinter } from './progress.js';

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
  .option('--epochs <n>', "override the notebook's epochs", positiveInt('--epochs'))
  .option('--batch-size <n>', "override the notebook's global batch size", positiveInt('--batch-size'))
  .option('--sync <strategy>', 'gradient aggregation: hierarchical or flat', syncName, 'hierarchical')
  .option('--backend <name>', 'where workers run: local', backendName, 'local')
  .option('--time-limit <s>', 'per-invocation time limit in seconds (Lambda: 900)', positiveInt('--time-limit'), 900)
  .option('--out <dir>', 'output folder (default: .smlt/runs/<id> next to the notebook)')
  .option('--server <url>', 'start the run on a running `smlt serve` (token from its file or $SMLT_TOKEN)')
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (notebook: string, opts: TrainOptions) => {
    await withService(opts.timeLimit, async (local) => {
      const service = opts.server ? await remoteService(opts.server) : local;
      const { runId } = await service.start({
        source: { path: resolve(notebook) },
        overrides: {
          ...(opts.epochs ? { epochs: opts.epochs } : {}),
          ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
        },
        workers: opts.workers,
        memoryMb: opts.memory,
        sync: opts.sync,
        ...(opts.out ? { outDir: resolve(opts.out) } : {}),
      });
      await follow(service, runId, outputMode(Boolean(opts.json)));
    });
  });

program
  .command('resume')
  .description('Continue a run that stopped (crash, failure, cancel) from its last checkpoint')
  .argument('<run>', 'run id (see `smlt runs`)')
  .option('--time-limit <s>', 'per-invocation time limit in seconds', positiveInt('--time-limit'), 900)
  .option('--force', "take over even if the run's orchestrator seems alive (it crashed moments ago)")
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (runId: string, opts: { timeLimit: number; force?: boolean; json?: boolean }) => {
    await withService(opts.timeLimit, async (service) => {
      const { fromSeq } = await service.resume(runId, { force: Boolean(opts.force) });
      await follow(service, runId, outputMode(Boolean(opts.json)), fromSeq);
    });
  });

program
  .command('cancel')
  .description('Stop a run; it keeps its last checkpoint and report')
  .argument('<run>', 'run id')
  .action(async (runId: string) => {
    await withService(900, async (service) => {
      const { outcome } = await service.cancel(runId);
      const messages = {
        requested: `Cancel requested; run ${runId} stops within a few seconds and keeps its last checkpoint.`,
        cancelled: `Run ${runId} had no live orchestrator; it is now marked cancelled.`,
        finished: `Run ${runId} has already finished.`,
      };
      process.stdout.write(`${messages[outcome]}\n`);
    });
  });

program
  .command('runs')
  .description('List runs started from this machine')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    await withService(900, async (service) => {
      const runs = await service.list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(runs)}\n`);
        return;
      }
      if (runs.length === 0) process.stdout.write('No runs yet. Start one with `smlt train <notebook>`.\n');
      for (const r of runs) {
        const accuracy = r.metrics?.valAccuracy !== undefined ? `${(r.metrics.valAccuracy * 100).toFixed(1)}%` : '-';
        process.stdout.write(
          `${r.runId}  ${r.status.padEnd(9)}  epochs ${`${r.epochsDone}/${r.epochs}`.padEnd(5)}  ` +
            `accuracy ${accuracy.padEnd(6)}  $${r.costUsd.toFixed(4)}  ${r.notebook ?? r.name}\n`,
        );
      }
    });
  });

program
  .command('serve')
  .description('Serve the run service over HTTP + SSE on loopback, for the editors and `train --server`')
  .option('--port <n>', 'port (default: a free one)', positiveInt('--port'))
  .option('--time-limit <s>', 'per-invocation time limit in seconds', positiveInt('--time-limit'), 900)
  .action(async (opts: { port?: number; timeLimit: number }) => {
    await withService(opts.timeLimit, async (service) => {
      const server = await startServer(service, { ...(opts.port ? { port: opts.port } : {}) });
      // The token goes to a file only this user can read, never to the terminal or logs.
      await writeServeInfo({ url: server.url, token: server.token, pid: process.pid, startedAt: new Date().toISOString() });
      process.stdout.write(`smlt serve: ${server.url} (token in ${serveInfoPath()}); Ctrl-C stops it\n`);
      await new Promise<void>((resolveStop) => {
        process.once('SIGINT', resolveStop);
        process.once('SIGTERM', resolveStop);
      });
      await removeServeInfo(server.token);
      await server.close();
    });
  });

program
  .command('report')
  .description("Summarize a run; with --html, write its panel as a self-contained page to share")
  .argument('<run>', 'run id')
  .option('--html <file>', 'write the report page here')
  .action(async (runId: string, opts: { html?: string }) => {
    await withService(900, async (service) => {
      const state = panelStateFromEvents(await service.history(runId));
      const { reportPath } = await service.artifacts(runId);
      const report = reportPath ? (JSON.parse(await readFile(reportPath, 'utf8')) as RunReport) : undefined;
      if (opts.html) {
        await writeFile(resolve(opts.html), renderReportPage(state, report));
        process.stdout.write(`Report of run ${runId} written to ${resolve(opts.html)}\n`);
        return;
      }
      const summary = await service.get(runId);
      process.stdout.write(`run ${runId} (${summary.name}): ${summary.status}, ${summary.epochsDone}/${summary.epochs} epochs, ` +
        `${summary.elapsedS.toFixed(1)} s, $${summary.costUsd.toFixed(4)} as if on AWS Lambda\n`);
      for (const e of report?.epochs ?? []) {
        const accuracy = e.valAccuracy !== undefined ? `, held-out accuracy ${(e.valAccuracy * 100).toFixed(2)}%` : '';
        process.stdout.write(
          `  epoch ${e.epoch + 1}: ${e.workers} × ${e.memoryMb} MB, loss ${e.loss.toFixed(4)}${accuracy}, ${e.durationS.toFixed(1)} s, $${e.costUsd.toFixed(4)}\n`,
        );
      }
    });
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
  server?: string;
  json?: boolean;
}

/** A client of `smlt serve` at `url`, authenticated with the token its server wrote (or $SMLT_TOKEN). */
async function remoteService(url: string): Promise<RunService> {
  const info = await readServeInfo();
  const token = process.env.SMLT_TOKEN ?? (info && info.url === url.replace(/\/+$/, '') ? info.token : undefined);
  if (!token) {
    throw new SmltError('OPTION_INVALID', `No token for ${url}: start it with \`smlt serve\` on this machine, or set SMLT_TOKEN.`);
  }
  return new RunServiceClient({ url, token });
}

async function withService(timeLimitS: number, use: (service: LocalRunService) => Promise<void>): Promise<void> {
  const service = new LocalRunService({ timeLimitMs: timeLimitS * 1000 });
  try {
    await use(service);
  } finally {
    await service.close();
  }
}

/** Shows a run's events until it ends; Ctrl-C cancels it (it keeps its checkpoint and report). */
async function follow(service: RunService, runId: string, mode: OutputMode, fromSeq = 0): Promise<void> {
  const printer = progressPrinter(mode);
  const onSigint = () => void service.cancel(runId);
  process.once('SIGINT', onSigint);
  let finished: RunEventOf<'run_finished'> | undefined;
  try {
    for await (const event of service.events(runId, { fromSeq })) {
      printer.onEvent(event);
      if (event.type === 'run_finished') finished = event;
    }
  } finally {
    printer.stop();
    process.off('SIGINT', onSigint);
  }
  if (!finished) throw new SmltError('RUN_FAILED', `Run ${runId} stopped without finishing; resume it with \`smlt resume ${runId}\`.`);
  if (mode === 'json') {
    const { metrics } = finished;
    process.stdout.write(
      `${JSON.stringify({
        type: 'result',
        status: finished.status,
        runId,
        metrics: { loss: metrics?.valLoss ?? metrics?.loss, accuracy: metrics?.valAccuracy, trainLoss: metrics?.loss },
        durationS: finished.durationS,
        costUsd: finished.costUsd,
        modelPath: finished.modelPath,
        reportPath: finished.reportPath,
        ...(finished.error ? { error: finished.error } : {}),
      })}\n`,
    );
  }
  process.exitCode = finished.status === 'succeeded' ? 0 : 1;
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
