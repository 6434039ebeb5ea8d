/**
 * `smlt sweep <notebook>`: a design sweep under one budget and deadline (shared/src/sweep), shown
 * as one line per decision and trial, then the leaderboard; `--json` prints its events and a
 * result. `runs`, `report`, `cancel` and `resume` take a sweep's id too (main.ts routes them here).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDuration, formatUsd } from '../panel/format.js';
import type { LocalRunService } from '../service/local-run-service.js';
import { trialTable } from '../sweep/run-sweep.js';
import { LocalSweepService } from '../sweep/sweep-service.js';
import { describeValues } from '../capture/search-space.js';
import type { SweepEvent, SweepEventOf } from '../sweep/sweep-events.js';
import { SmltError } from '../errors.js';
import { listSweeps, readSweep, readSweepEvents } from '../sweep/sweep-store.js';
import { formatSweepMetric, renderSweepReportPage, sweepOutcomeText, sweepStateFromEvents } from '../sweep/sweep-panel.js';
import { printKerasLoad } from './keras-load.js';
import { backendName, parseDuration, parseUsd, positiveInt } from './parse.js';

type WithService = (timeLimitS: number, use: (service: LocalRunService) => Promise<void>) => Promise<void>;

export function addSweepCommands(program: Command, withService: WithService): void {
  program
    .command('sweep')
    .description('Search hyper-parameters and model variants (an smlt:sweep cell, hp in the model cell) under one budget and deadline; brings back the best model')
    .argument('<notebook>', '.ipynb file')
    .option('--trials <n>', "how many configurations to try (default: the sweep cell's trials, else 12)", positiveInt('--trials'))
    .option('--epochs <n>', "the most epochs a trial trains (default: the sweep cell's epochs, else the notebook's)", positiveInt('--epochs'))
    .option('--deadline <duration>', 'finish the whole sweep within this long: 90s, 20m, 1h or seconds', (v) => parseDuration(v, '--deadline'))
    .option('--budget <usd>', 'spend at most this many US dollars on all trials together (as if on AWS Lambda)', (v) => parseUsd(v, '--budget'))
    .option('--backend <name>', 'where workers run: local processes, or aws (Lambda + S3, after `smlt deploy`)', backendName, 'local')
    .option('--time-limit <s>', 'per-invocation time limit in seconds (Lambda: 900)', positiveInt('--time-limit'), 900)
    .option('--out <dir>', 'output folder (default: .smlt/sweeps/<id> next to the notebook)')
    .option('--python <path>', "the Python (with Keras) that runs a Keras notebook's cells up to model.fit")
    .option('--json', 'print one JSON object per line; the last is the result')
    .action(async (notebook: string, opts: SweepOptions) => {
      await withService(opts.timeLimit, async (service) => {
        const sweeps = new LocalSweepService(service);
        const { sweepId } = await sweeps.start({
          notebook,
          ...(opts.trials !== undefined ? { trials: opts.trials } : {}),
          ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
          ...(opts.budget !== undefined ? { budgetUsd: opts.budget } : {}),
          ...(opts.deadline !== undefined ? { deadlineS: opts.deadline } : {}),
          backend: opts.backend,
          ...(opts.out ? { outDir: opts.out } : {}),
          ...(opts.python ? { python: opts.python } : {}),
        });
        await followSweep(service, sweeps, sweepId, Boolean(opts.json));
      });
    });
}

interface SweepOptions {
  trials?: number;
  epochs?: number;
  deadline?: number;
  budget?: number;
  backend: 'local' | 'aws';
  timeLimit: number;
  out?: string;
  python?: string;
  json?: boolean;
}

export async function resumeSweepCommand(service: LocalRunService, sweepId: string, json: boolean): Promise<void> {
  const sweeps = new LocalSweepService(service);
  const { fromSeq } = await sweeps.resume(sweepId);
  await followSweep(service, sweeps, sweepId, json, fromSeq);
}

export async function cancelSweepCommand(service: LocalRunService, sweepId: string): Promise<void> {
  const { outcome } = await new LocalSweepService(service).cancel(sweepId);
  const messages = {
    requested: `Cancel requested; sweep ${sweepId} stops its trials within a few seconds (each keeps its checkpoint).`,
    cancelled: `Sweep ${sweepId} had no live driver; it is now marked cancelled.`,
    finished: `Sweep ${sweepId} has already finished.`,
  };
  process.stdout.write(`${messages[outcome]}\n`);
}

/** Lines for `smlt runs`: each sweep with its best trial. */
export async function sweepListLines(): Promise<string[]> {
  return (await listSweeps()).map((s) => {
    const best = trialTable(s).find((t) => t.status === 'best');
    const metric = best?.metric !== undefined ? `${s.definition.objective.metric} ${formatSweepMetric(best.metric, s.definition.objective.metric)}` : 'no trial done';
    return `${s.sweepId}  ${s.status.padEnd(9)}  ${s.values.length} trials  best ${metric}${best ? ` (${describeValues(best.values)})` : ''}  $${s.spentUsd.toFixed(4)}  ${s.notebook}`;
  });
}

/** `smlt report <sweep>`: the leaderboard; with `html`, the sweep's panel as a page to share. */
export async function reportSweep(sweepId: string, htmlFile?: string): Promise<void> {
  const state = await readSweep(sweepId);
  if (htmlFile) {
    await writeFile(resolve(htmlFile), renderSweepReportPage(sweepStateFromEvents(await readSweepEvents(sweepId))));
    process.stdout.write(`Report of sweep ${sweepId} written to ${resolve(htmlFile)}\n`);
    return;
  }
  const { metric } = state.definition.objective;
  process.stdout.write(
    `sweep ${sweepId} (${state.name}): ${state.status}, ${state.values.length} trials, ${formatDuration(state.elapsedS)}, ` +
      `${formatUsd(state.spentUsd)} as if on AWS Lambda${state.constraints.budgetUsd !== undefined ? ` of a ${formatUsd(state.constraints.budgetUsd)} budget` : ''}\n`,
  );
  printTable(trialTable(state), metric);
}

/** Shows a sweep's events until it ends, then its leaderboard; Ctrl-C cancels it (its trials keep their checkpoints). */
async function followSweep(service: LocalRunService, sweeps: LocalSweepService, sweepId: string, json: boolean, fromSeq = 0): Promise<void> {
  const onSigint = () => void sweeps.cancel(sweepId);
  process.once('SIGINT', onSigint);
  let metric: 'accuracy' | 'loss' = (await sweeps.get(sweepId).catch(() => undefined))?.objective.metric ?? 'accuracy';
  let finished: SweepEventOf<'sweep_finished'> | undefined;
  try {
    for await (const event of sweeps.events(sweepId, { fromSeq })) {
      if (event.type === 'sweep_started') metric = event.objective.metric;
      if (event.type === 'sweep_finished') finished = event;
      if (json) process.stdout.write(`${JSON.stringify(event)}\n`);
      else printEvent(event, metric);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (!finished) throw new SmltError('RUN_FAILED', `Sweep ${sweepId} stopped without finishing; resume it with \`smlt resume ${sweepId}\`.`);
  const { status, costUsd, durationS, best, outDir } = finished;
  if (json) process.stdout.write(`${JSON.stringify({ type: 'result', sweepId, status, costUsd, durationS, ...(best ? { best } : {}), outDir })}\n`);
  else {
    printTable(trialTable(await readSweep(sweepId)), metric);
    if (best) {
      // Layer settings (`dense.units`) change the weights' shapes: the notebook's model must have them first.
      const layers = Object.entries(best.values).filter(([name]) => name.includes('.'));
      const first = layers.length > 0 ? `the best trial's ${describeValues(Object.fromEntries(layers))} (best-settings.yaml)` : undefined;
      await printKerasLoad(service, best.runId, first);
    }
  }
  process.exitCode = status === 'succeeded' || status.startsWith('stopped') ? 0 : 1;
}

function printEvent(event: SweepEvent, metric: 'accuracy' | 'loss'): void {
  const out = (text: string) => process.stderr.write(`${text}\n`);
  switch (event.type) {
    case 'sweep_started': {
      const f = event.forecast;
      out(
        `sweep ${event.sweepId}${event.resumed ? ' (resumed)' : ''}: ${event.trials.length} trials of ${event.name}, rungs of ${event.rungs.join(', ')} epochs, ` +
          `the best 1/${event.eta} go on; ${event.objective.direction} val_${event.objective.metric}`,
      );
      out(
        `  predicted ${formatDuration(f.timeS.expected)} (up to ${formatDuration(f.timeS.high)}), ${formatUsd(f.costUsd.expected)} (up to ${formatUsd(f.costUsd.high)}) ` +
          `as if on Lambda, ${f.concurrency} trial${f.concurrency === 1 ? '' : 's'} at a time`,
      );
      break;
    }
    case 'trial_started':
      out(`  ${event.reason}`);
      break;
    case 'decision':
      out(`  ${event.reason}`);
      break;
    case 'trial_finished': {
      const result = event.metric !== undefined ? `val_${metric} ${formatSweepMetric(event.metric, metric)}` : event.error ? `failed: ${event.error}` : 'stopped';
      out(`  trial ${event.trial + 1}: ${event.epochs} epoch${event.epochs === 1 ? '' : 's'}, ${result}, ${formatUsd(event.costUsd)}, ${event.durationS.toFixed(1)} s`);
      break;
    }
    case 'sweep_finished':
      out(`sweep ${sweepOutcomeText(event, metric)}`);
      if (event.settingsPath) out(`  its settings, to paste into the notebook: ${event.settingsPath}`);
      if (event.modelPath) out(`  its model: ${event.modelPath}`);
      break;
  }
}

function printTable(trials: ReturnType<typeof trialTable>, metric: 'accuracy' | 'loss'): void {
  const ranked = [...trials].sort((a, b) => (b.metric ?? -Infinity) * (metric === 'loss' ? -1 : 1) - (a.metric ?? -Infinity) * (metric === 'loss' ? -1 : 1) || a.trial - b.trial);
  const rows = ranked.map((t) => [
    String(t.trial + 1),
    describeValues(t.values),
    String(t.epochs),
    t.metric !== undefined ? formatSweepMetric(t.metric, metric) : '-',
    formatUsd(t.costUsd),
    t.status,
  ]);
  const header = ['trial', 'settings', 'epochs', `val_${metric}`, 'cost', 'status'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
}

