/**
 * The `smlt` command line. Thin: parses options, then calls the run service in `shared` (the
 * same one `smlt serve` and the editors use). Exit code 0 only on success; 1 when a run fails or
 * is cancelled; 2 on bad input.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { SmltError, isSmltError } from '../errors.js';
import { costOn } from '../panel/format.js';
import { panelStateFromEvents, renderReportPage } from '../panel/index.js';
import type { RunEventOf } from '../run/events.js';
import type { RunReport } from '../run/outputs.js';
import { RunServiceClient } from '../serve/client.js';
import { startServer } from '../serve/server.js';
import { readServeInfo, removeServeInfo, serveInfoPath, writeServeInfo } from '../serve/token-file.js';
import { resolvePython } from '../capture/python-cells.js';
import { probeCostUsd } from '../service/step-probe.js';
import { collectGarbage } from '../service/garbage.js';
import { DEFAULT_MEMORY_MB, LocalRunService } from '../service/local-run-service.js';
import type { RunRequest, RunService } from '../service/run-service.js';
import { backendName, channelSpec, formatDuration, formatUsd, parseDuration, parseObjective, parseUsd, parseWorkers, positiveInt, syncName } from './parse.js';
import { addAwsCommands } from './aws-commands.js';
import { printKerasLoad } from './keras-load.js';
import { addSweepCommands, cancelSweepCommand, reportSweep, resumeSweepCommand, sweepListLines } from './sweep-commands.js';
import { isSweepId } from '../sweep/sweep-store.js';
import { LocalSweepService } from '../sweep/sweep-service.js';
import { type OutputMode, outputMode, progressPrinter } from './progress.js';

const program = new Command()
  .name('smlt')
  .description('Train notebook models on serverless workers (local worker processes by default).')
  .showHelpAfterError();

program
  .command('train')
  .description('Train the model of a notebook (cells tagged smlt:model, smlt:data, smlt:config)')
  .argument('<notebook>', '.ipynb file')
  .option('--workers <n|auto>', 'fix the number of workers (default auto: the adaptive scheduler chooses)', (v) => parseWorkers(v))
  .option('--memory <mb>', 'fix the memory per worker in MB (Lambda sizes CPU with it; default: the scheduler chooses)', positiveInt('--memory'))
  .option('--epochs <n>', "override the notebook's epochs", positiveInt('--epochs'))
  .option('--batch-size <n>', "override the notebook's global batch size", positiveInt('--batch-size'))
  .option('--deadline <duration>', 'finish within this long: 90s, 20m, 1h or seconds (the scheduler plans for it)', (v) => parseDuration(v, '--deadline'))
  .option('--budget <usd>', 'spend at most this many US dollars (as if on AWS Lambda); stops before exceeding it', (v) => parseUsd(v, '--budget'))
  .option('--objective <time|cost>', 'what the scheduler minimises within the constraints (default time)', (v) => parseObjective(v, '--objective'))
  .option('--sync <strategy>', 'gradient aggregation: hierarchical or flat', syncName, 'hierarchical')
  .option('--backend <name>', 'where workers run: local processes, or aws (Lambda + S3, after `smlt deploy`)', backendName, 'local')
  .option('--channel <channel>', 'where workers exchange gradients: store (default), redis (a private redis-server), redis://HOST:PORT, or auto (the scheduler chooses, with a constraint)', channelSpec)
  .option('--time-limit <s>', 'per-invocation time limit in seconds (Lambda: 900)', positiveInt('--time-limit'), 900)
  .option('--out <dir>', 'output folder (default: .smlt/runs/<id> next to the notebook)')
  .option('--python <path>', "the Python (with Keras) that runs a Keras notebook's cells up to model.fit (default: the notebook's kernelspec, $SMLT_PYTHON, python3)")
  .option('--python-timeout <s>', "how long those cells may run, in seconds (default 600)", positiveInt('--python-timeout'))
  .option('--server <url>', 'start the run on a running `smlt serve` (token from its file or $SMLT_TOKEN)')
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (notebook: string, opts: TrainOptions) => {
    await withService(opts.timeLimit, async (local) => {
      const service = opts.server ? await remoteService(opts.server) : local;
      const { runId } = await service.start({
        ...planRequest(notebook, opts),
        sync: opts.sync,
        backend: opts.backend,
        ...(opts.channel ? { channel: opts.channel } : {}),
        ...(opts.out ? { outDir: resolve(opts.out) } : {}),
      });
      await follow(service, runId, outputMode(Boolean(opts.json)));
    });
  });

program
  .command('plan')
  .description('Predict the time and cost of training a notebook under a deadline or budget, and the plan the scheduler would follow')
  .argument('<notebook>', '.ipynb file')
  .option('--deadline <duration>', 'finish within this long: 90s, 20m, 1h or seconds', (v) => parseDuration(v, '--deadline'))
  .option('--budget <usd>', 'spend at most this many US dollars (as if on AWS Lambda)', (v) => parseUsd(v, '--budget'))
  .option('--objective <time|cost>', 'what to minimise within the constraints (default time)', (v) => parseObjective(v, '--objective'))
  .option('--workers <n|auto>', 'fix the number of workers (default auto)', (v) => parseWorkers(v))
  .option('--memory <mb>', 'fix the memory per worker in MB (default: chosen)', positiveInt('--memory'))
  .option('--epochs <n>', "override the notebook's epochs", positiveInt('--epochs'))
  .option('--batch-size <n>', "override the notebook's global batch size", positiveInt('--batch-size'))
  .option('--time-limit <s>', 'per-invocation time limit in seconds (Lambda: 900)', positiveInt('--time-limit'), 900)
  .option('--channel <channel>', 'plan for gradients through store (default), redis, or auto (the scheduler chooses)', channelSpec)
  .option('--python <path>', "the Python (with Keras) that runs a Keras notebook's cells up to model.fit (default: the notebook's kernelspec, $SMLT_PYTHON, python3)")
  .option('--python-timeout <s>', "how long those cells may run, in seconds (default 600)", positiveInt('--python-timeout'))
  .option('--json', 'print the plan as one JSON object')
  .action(async (notebook: string, opts: PlanOptions) => {
    await withService(opts.timeLimit, async (service) => {
      const request = { ...planRequest(notebook, { ...opts, objective: opts.objective ?? 'time' }), ...(opts.channel ? { channel: opts.channel } : {}) };
      const { adaptive, backend, computeMsPerSample, probe, trainSamples, captured, platform } = await service.plan(request);
      const first = adaptive.planner.estimate().plan[0];
      const probeShown = { steps: probe.steps, seconds: probe.seconds, costUsd: probeCostUsd(probe, first?.memoryMb ?? DEFAULT_MEMORY_MB) };
      const estimate = adaptive.planner.estimate();
      const constraints = {
        objective: request.objective ?? 'time',
        ...(request.deadlineS !== undefined ? { deadlineS: request.deadlineS } : {}),
        ...(request.budgetUsd !== undefined ? { budgetUsd: request.budgetUsd } : {}),
      };
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({
            type: 'plan',
            name: captured.spec.name,
            epochs: captured.spec.training.epochs,
            batchSize: captured.spec.training.batchSize,
            trainSamples,
            computeMsPerSample,
            probe: probeShown,
            constraints,
            channel: adaptive.channel,
            backend: { name: backend.name, reason: backend.reason, profile: backend.profile },
            platform,
            ...estimate,
          })}\n`,
        );
      } else {
        const range = (i: { expected: number; low: number; high: number }, f: (x: number) => string) =>
          `${f(i.expected)} (90%: ${f(i.low)} to ${f(i.high)})`;
        const wanted = [
          constraints.deadlineS !== undefined ? `deadline ${formatDuration(constraints.deadlineS)}` : undefined,
          constraints.budgetUsd !== undefined ? `budget ${formatUsd(constraints.budgetUsd)}` : undefined,
          `objective ${constraints.objective}`,
        ].filter(Boolean);
        process.stdout.write(
          `${captured.spec.name}: ${captured.spec.training.epochs} epochs of ${trainSamples} samples, batch ${captured.spec.training.batchSize} ` +
            `(${wanted.join(', ')}; gradient step ${computeMsPerSample.toFixed(3)} ms/sample measured here by a ` +
            `${probeShown.steps}-step probe: ${probeShown.seconds.toFixed(2)} s, ${formatUsd(probeShown.costUsd)} as if on Lambda)\n` +
            `  backend ${backend.reason}\n` +
            `  time  ${range(estimate.timeS, formatDuration)}\n` +
            `  cost  ${costOn(range(estimate.costUsd, formatUsd), platform)}\n` +
            (adaptive.channel.reason ? `  ${adaptive.channel.reason}\n` : adaptive.channel.name === 'redis' ? '  gradients through Redis\n' : ''),
        );
        for (const p of estimate.plan) {
          const epochs = p.fromEpoch === p.toEpoch ? `epoch ${p.fromEpoch + 1}` : `epochs ${p.fromEpoch + 1}-${p.toEpoch + 1}`;
          process.stdout.write(
            `  ${epochs}: ${p.workers} × ${p.memoryMb} MB, ${p.sync} sync, batch ${p.batchSize}, ${p.iterationsPerEpoch} iterations an epoch\n`,
          );
        }
        process.stdout.write(
          estimate.feasible
            ? `Feasible at ${(estimate.confidence * 100).toFixed(0)}% confidence${estimate.binding !== 'none' ? ` (the ${estimate.binding} binds)` : ''}.\n`
            : `Not feasible: ${estimate.advice?.message ?? 'no plan meets the constraints.'}\n`,
        );
      }
      process.exitCode = estimate.feasible ? 0 : 1;
    });
  });

program
  .command('resume')
  .description('Continue a run that stopped (crash, failure, cancel) from its last checkpoint')
  .argument('<run>', 'run or sweep id (see `smlt runs`)')
  .option('--time-limit <s>', 'per-invocation time limit in seconds', positiveInt('--time-limit'), 900)
  .option('--force', "take over even if the run's orchestrator seems alive (it crashed moments ago)")
  .option('--json', 'print one JSON object per line; the last is the result')
  .action(async (runId: string, opts: { timeLimit: number; force?: boolean; json?: boolean }) => {
    await withService(opts.timeLimit, async (service) => {
      if (isSweepId(runId)) return resumeSweepCommand(service, runId, Boolean(opts.json));
      const { fromSeq } = await service.resume(runId, { force: Boolean(opts.force) });
      await follow(service, runId, outputMode(Boolean(opts.json)), fromSeq);
    });
  });

program
  .command('cancel')
  .description('Stop a run; it keeps its last checkpoint and report')
  .argument('<run>', 'run or sweep id')
  .action(async (runId: string) => {
    await withService(900, async (service) => {
      if (isSweepId(runId)) return cancelSweepCommand(service, runId);
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
  .description("List runs and sweeps started from this machine (a sweep's trial runs with --trials)")
  .option('--trials', "also list each sweep's trial runs")
  .option('--json', 'print JSON (every run, trials with their sweepId)')
  .action(async (opts: { json?: boolean; trials?: boolean }) => {
    await withService(900, async (service) => {
      const all = await service.list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(all)}\n`);
        return;
      }
      const runs = opts.trials ? all : all.filter((r) => !r.sweepId);
      const sweeps = await sweepListLines();
      if (sweeps.length > 0) process.stdout.write(`${sweeps.join('\n')}\n`);
      const trials = all.length - runs.length;
      if (trials > 0) process.stdout.write(`(${trials} trial run${trials === 1 ? '' : 's'} of sweeps not shown: smlt runs --trials)\n`);
      if (all.length === 0) process.stdout.write('No runs yet. Start one with `smlt train <notebook>`.\n');
      for (const r of runs) {
        const accuracy = r.metrics?.valAccuracy !== undefined ? `${(r.metrics.valAccuracy * 100).toFixed(1)}%` : '-';
        process.stdout.write(
          `${r.runId}  ${r.status.padEnd(9)}  epochs ${`${r.epochsDone}/${r.epochs}`.padEnd(5)}  ` +
            `accuracy ${accuracy.padEnd(6)}  $${r.costUsd.toFixed(4)}  ${r.notebook ?? r.name}${r.sweepId ? `  (trial of ${r.sweepId})` : ''}\n`,
        );
      }
    });
  });

program
  .command('gc')
  .description('Remove what crashed runs left behind (unfinished run folders, exchange keys, temp files, unused datasets)')
  .option('--dry-run', 'only list what would be removed')
  .option('--json', 'print JSON')
  .action(async (opts: { dryRun?: boolean; json?: boolean }) => {
    const found = await collectGarbage({ dryRun: Boolean(opts.dryRun) });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ removed: opts.dryRun ? [] : found, ...(opts.dryRun ? { wouldRemove: found } : {}) })}\n`);
      return;
    }
    if (found.length === 0) process.stdout.write('Nothing to remove.\n');
    for (const { what, why } of found) process.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} ${what}: ${why}\n`);
  });

program
  .command('serve')
  .description('Serve the run service over HTTP + SSE on loopback, for the editors and `train --server`')
  .option('--port <n>', 'port (default: a free one)', positiveInt('--port'))
  .option('--time-limit <s>', 'per-invocation time limit in seconds', positiveInt('--time-limit'), 900)
  .action(async (opts: { port?: number; timeLimit: number }) => {
    await withService(opts.timeLimit, async (service) => {
      const sweeps = new LocalSweepService(service);
      const server = await startServer(service, { sweeps, ...(opts.port ? { port: opts.port } : {}) });
      // The token goes to a file only this user can read, never to the terminal or logs.
      await writeServeInfo({ url: server.url, token: server.token, pid: process.pid, startedAt: new Date().toISOString() });
      process.stdout.write(`smlt serve: ${server.url} (token in ${serveInfoPath()}); Ctrl-C stops it\n`);
      await new Promise<void>((resolveStop) => {
        process.once('SIGINT', resolveStop);
        process.once('SIGTERM', resolveStop);
      });
      await removeServeInfo(server.token);
      await server.close();
      await sweeps.close();
    });
  });

program
  .command('report')
  .description("Summarize a run; with --html, write its panel as a self-contained page to share")
  .argument('<run>', 'run or sweep id')
  .option('--html <file>', 'write the report page here')
  .action(async (runId: string, opts: { html?: string }) => {
    if (isSweepId(runId)) return reportSweep(runId, opts.html);
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

interface ConstraintOptions {
  python?: string;
  pythonTimeout?: number;
  workers?: number | 'auto';
  memory?: number;
  epochs?: number;
  batchSize?: number;
  deadline?: number;
  budget?: number;
  objective?: 'time' | 'cost';
}

interface PlanOptions extends ConstraintOptions {
  timeLimit: number;
  channel?: string;
  json?: boolean;
}

/**
 * The request of `train` and `plan`: the adaptive scheduler chooses what `--workers`/`--memory`
 * do not fix, within the deadline and budget, minimising the objective (default time).
 */
function planRequest(notebook: string, opts: ConstraintOptions): RunRequest {
  const workers = opts.workers === 'auto' ? undefined : opts.workers;
  const request: RunRequest = {
    source: { path: resolve(notebook) },
    overrides: {
      ...(opts.epochs ? { epochs: opts.epochs } : {}),
      ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    },
    ...(workers !== undefined ? { workers } : {}),
    ...(opts.memory !== undefined ? { memoryMb: opts.memory } : {}),
    ...(opts.deadline !== undefined ? { deadlineS: opts.deadline } : {}),
    ...(opts.budget !== undefined ? { budgetUsd: opts.budget } : {}),
    ...(opts.objective !== undefined ? { objective: opts.objective } : {}),
    ...(opts.python ? { python: resolvePython(opts.python) } : {}),
    ...(opts.pythonTimeout ? { pythonTimeoutS: opts.pythonTimeout } : {}),
  };
  return request;
}

interface TrainOptions extends ConstraintOptions {
  sync: 'hierarchical' | 'flat';
  backend: 'local' | 'aws';
  channel?: string;
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
  const service = new LocalRunService({
    timeLimitMs: timeLimitS * 1000,
    // On stderr, so that --json output stays one JSON object per line.
    onCapture: {
      progress: (message) => process.stderr.write(`${message}\n`),
      found: (notes) => {
        process.stderr.write(`found: ${notes.summary}\n`);
        for (const warning of notes.warnings) process.stderr.write(`warning: ${warning}\n`);
      },
    },
  });
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
        ...(finished.warnings ? { warnings: finished.warnings } : {}),
      })}\n`,
    );
  }
  else if (finished.status === 'succeeded') await printKerasLoad(service, runId);
  process.exitCode = finished.status === 'succeeded' ? 0 : 1;
}

addAwsCommands(program);
addSweepCommands(program, withService);

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
