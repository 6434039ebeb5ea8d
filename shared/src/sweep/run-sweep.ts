/**
 * Drives a design sweep: captures the notebook once, draws the trials, builds every variant (a bad
 * one is refused before anything starts), predicts the whole sweep against its budget and deadline,
 * then runs ASHA's jobs as ordinary runs of the run service — a first rung is a new run, a
 * promotion trains the same run further from its checkpoint — and brings back the best model with
 * a leaderboard and its settings. Every decision is an event with its reason; the state is saved
 * after each, so a cancelled or crashed sweep resumes without redoing a finished rung.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Captured } from '../capture/capture-types.js';
import { type RoleCell, readNotebookFile, roleCellsOf } from '../capture/notebook.js';
import { SmltError, errorMessage, isSmltError } from '../errors.js';
import type { LocalRunService } from '../service/local-run-service.js';
import type { RunRequest, RunSummary } from '../service/run-service.js';
import { Asha, type AshaOptions, type Job } from './asha.js';
import { type EpochPrice, type SweepForecast, SweepScheduler, type SweepSchedulerOptions, forecastSweep } from './scheduler.js';
import { describeValues, sampleTrials } from '../capture/search-space.js';
import { type SweepDefinition, sweepDefinition } from './sweep-cell.js';
import type { SweepEvent, SweepStatus, TrialSummary } from './sweep-events.js';
import { type SweepState, appendSweepEvent, cancelRequestPath, driverAlive, newSweepId, readSweep, readSweepEvents, saveSweep } from './sweep-store.js';
import { Variants } from './variants.js';

export interface SweepRequest {
  notebook: string;
  budgetUsd?: number;
  deadlineS?: number;
  /** Override the sweep cell's `trials` and `epochs` (the most a trial trains). */
  trials?: number;
  epochs?: number;
  backend?: 'local' | 'aws';
  python?: string;
  pythonTimeoutS?: number;
  /** Where the best model and the report go (default: .smlt/sweeps/<id> next to the notebook). */
  outDir?: string;
}

export interface SweepResult {
  sweepId: string;
  status: Exclude<SweepStatus, 'running'>;
  best?: { trial: number; runId: string; metric: number };
  costUsd: number;
  durationS: number;
  outDir: string;
}

/** Starting a job beyond its epochs: the planner's probe, the run's set-up, workers starting. */
const JOB_OVERHEAD_S = { local: 0.5, aws: 8 } as const;
/** Trials at once: on one machine they share its cores; on Lambda up to part of the account's 1,000. */
const MAX_CONCURRENCY = { local: 2, aws: 20 } as const;
const HEARTBEAT_MS = 2_000;

export interface SweepHooks {
  /** Aborting it cancels the sweep (its running trials keep their checkpoints). */
  signal?: AbortSignal;
}

/** A sweep checked and priced, ready to be driven (sweep-service.ts drives it in the background). */
export interface PreparedSweep {
  sweepId: string;
  drive(): Promise<SweepResult>;
}

/** What a sweep would do and cost, before anything starts (the editors' prompt shows it). */
export interface SweepEstimate {
  name: string;
  backend: SweepState['backend'];
  trials: number;
  rungs: number[];
  eta: number;
  objective: SweepState['definition']['objective'];
  constraints: SweepState['constraints'];
  forecast: SweepForecast;
}

/** Plans a sweep. Bad input (space, settings, constraints that cannot hold) rejects here, before anything is written or started. */
export async function prepareSweep(service: LocalRunService, request: SweepRequest, hooks: SweepHooks = {}): Promise<PreparedSweep> {
  const { state, driver } = await planSweep(service, request, hooks);
  // Nothing is written before the sweep is known to be feasible.
  if (!driver.forecast.feasible) throw new SmltError('OPTION_INVALID', `The sweep cannot hold its constraints: ${driver.forecast.advice}`);
  // Recorded before it is driven, so a client can look it up as soon as it has the id.
  await saveSweep({ ...state, driver: { pid: process.pid, heartbeatAt: new Date().toISOString() } });
  return { sweepId: state.sweepId, drive: () => driver.drive(false) };
}

/** The sweep's forecast, feasible or not (then with its fix); bad input rejects as for prepareSweep. Nothing is written. */
export async function estimateSweep(service: LocalRunService, request: SweepRequest): Promise<SweepEstimate> {
  const { state, driver } = await planSweep(service, request, {});
  const { definition } = state;
  return { name: state.name, backend: state.backend, trials: state.values.length, rungs: definition.rungs, eta: definition.eta, objective: definition.objective, constraints: state.constraints, forecast: driver.forecast };
}

async function planSweep(service: LocalRunService, request: SweepRequest, hooks: SweepHooks): Promise<{ state: SweepState; driver: SweepDriver }> {
  const path = resolve(request.notebook);
  const base = await service.capture(runRequest(path, request));
  const roles = roleCellsOf(await readNotebookFile(path), path);
  const definition = sweepDefinition(roles.sweep, base, {
    ...(request.trials !== undefined ? { trials: request.trials } : {}),
    ...(request.epochs !== undefined ? { epochs: request.epochs } : {}),
  });
  const values = sampleTrials(definition.params, definition.trials, definition.seed);
  const backend = request.backend ?? 'local';
  const sweepId = newSweepId();
  const state: SweepState = {
    v: 1,
    sweepId,
    name: basename(path).replace(/\.ipynb$/i, ''),
    notebook: path,
    outDir: request.outDir ? resolve(request.outDir) : join(dirname(path), '.smlt', 'sweeps', sweepId),
    constraints: {
      ...(request.budgetUsd !== undefined ? { budgetUsd: request.budgetUsd } : {}),
      ...(request.deadlineS !== undefined ? { deadlineS: request.deadlineS } : {}),
    },
    backend,
    ...(request.python ? { python: request.python } : {}),
    ...(request.pythonTimeoutS ? { pythonTimeoutS: request.pythonTimeoutS } : {}),
    definition: { ...definition, trials: values.length },
    values,
    asha: { trials: [] },
    trials: values.map(() => ({ costUsd: 0, epochs: 0 })),
    spentUsd: 0,
    elapsedS: 0,
    status: 'running',
    createdAt: new Date().toISOString(),
  };
  return { state, driver: await SweepDriver.create(service, state, base, roles.model, hooks) };
}

/** Continues a sweep that stopped (cancelled, crashed): finished rungs are kept, running trials continue from their checkpoints. */
export async function prepareSweepResume(service: LocalRunService, sweepId: string, hooks: SweepHooks = {}): Promise<PreparedSweep> {
  const state = await readSweep(sweepId);
  if (state.status === 'succeeded') throw new SmltError('RUN_BUSY', `Sweep ${sweepId} already finished; its best model is in ${state.outDir}.`);
  if (driverAlive(state) && state.driver!.pid !== process.pid) throw new SmltError('RUN_BUSY', `Sweep ${sweepId} is still being driven by process ${state.driver!.pid}; cancel it with \`smlt cancel ${sweepId}\`.`);
  const base = await service.capture(runRequest(state.notebook, state));
  const roles = roleCellsOf(await readNotebookFile(state.notebook), state.notebook);
  const driver = await SweepDriver.create(service, { ...state, status: 'running' }, base, roles.model, hooks);
  return { sweepId, drive: () => driver.drive(true) };
}

/** Asks the process driving a sweep to stop (it cancels its running trials, which keep their checkpoints). */
export async function cancelSweep(sweepId: string): Promise<'requested' | 'cancelled' | 'finished'> {
  const state = await readSweep(sweepId);
  if (state.status !== 'running') return 'finished';
  if (driverAlive(state)) {
    await writeFile(cancelRequestPath(sweepId), new Date().toISOString());
    return 'requested';
  }
  await saveSweep({ ...state, status: 'cancelled' });
  return 'cancelled';
}

/** The trials as a table: values, epochs, metric, status and cost (the CLI's leaderboard, the report). */
export function trialTable(state: SweepState): TrialSummary[] {
  const best = bestTrial(state);
  return state.values.map((values, trial): TrialSummary => {
    const t = state.asha.trials[trial];
    const record = state.trials[trial]!;
    const metric = t?.metrics.at(-1);
    const status: TrialSummary['status'] =
      trial === best?.trial ? 'best' : t?.failed !== undefined ? 'failed' : t?.running ? 'training' : t?.promoted ? 'promoted' : (t?.metrics.length ?? 0) > 0 ? 'stopped' : 'waiting';
    return {
      trial,
      values,
      ...(record.runId ? { runId: record.runId } : {}),
      epochs: record.epochs,
      ...(metric !== undefined ? { metric } : {}),
      costUsd: record.costUsd,
      status,
      ...(t?.failed !== undefined ? { error: t.failed } : {}),
    };
  });
}

function bestTrial(state: SweepState): { trial: number; metric: number; rung: number } | undefined {
  return new Asha(ashaOptions(state), state.asha).best();
}

function ashaOptions({ definition, values }: SweepState): AshaOptions {
  return { trials: values.length, rungs: definition.rungs, eta: definition.eta, direction: definition.objective.direction };
}

function schedulerOptions(state: SweepState, priceOf: (trial: number) => EpochPrice): SweepSchedulerOptions {
  return {
    asha: ashaOptions(state),
    constraints: state.constraints,
    priceOf,
    jobOverheadS: JOB_OVERHEAD_S[state.backend],
    maxConcurrency: MAX_CONCURRENCY[state.backend],
  };
}

function runRequest(path: string, request: Pick<SweepRequest, 'backend' | 'python' | 'pythonTimeoutS'>): RunRequest {
  return {
    source: { path },
    ...(request.backend ? { backend: request.backend } : {}),
    ...(request.python ? { python: request.python } : {}),
    ...(request.pythonTimeoutS ? { pythonTimeoutS: request.pythonTimeoutS } : {}),
  };
}

class SweepDriver {
  private seq = 0;
  private readonly abort = new AbortController();
  private readonly running = new Map<number, Promise<void>>();
  private startedAtMs = Date.now();
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly service: LocalRunService,
    private readonly state: SweepState,
    private readonly variants: Variants,
    private readonly scheduler: SweepScheduler,
    readonly forecast: SweepForecast,
    private readonly hooks: SweepHooks,
  ) {}

  /** Builds every trial's job (refusing a variant the model cannot take) and prices each with the planner. */
  static async create(service: LocalRunService, state: SweepState, base: Captured, modelCell: RoleCell | undefined, hooks: SweepHooks): Promise<SweepDriver> {
    const variants = new Variants({ base, ...(modelCell ? { modelCell } : {}), notebookDir: dirname(state.notebook) }, state.definition);
    const prices: EpochPrice[] = [];
    for (const values of state.values) {
      const captured = await variants.trial(values, state.definition.rungs.at(-1)!);
      const estimate = await service.estimateCaptured(captured, { source: { path: state.notebook }, backend: state.backend });
      const epochs = captured.spec.training.epochs;
      prices.push({
        timeS: estimate.timeS.expected / epochs,
        costUsd: estimate.costUsd.expected / epochs,
        highRatio: Math.max(1, estimate.costUsd.high / estimate.costUsd.expected, estimate.timeS.high / estimate.timeS.expected),
      });
    }
    const options = schedulerOptions(state, (trial) => prices[trial]!);
    const scheduler = new SweepScheduler(options, state.asha.trials.length > 0 ? state.asha : undefined);
    return new SweepDriver(service, state, variants, scheduler, forecastSweep(options), hooks);
  }

  async drive(resumed: boolean): Promise<SweepResult> {
    const { state, scheduler } = this;
    // Trials a crashed or cancelled drive left running continue from their runs' checkpoints.
    state.asha.trials.forEach((t, trial) => t.running && scheduler.asha.interrupted(trial));
    this.seq = (await readSweepEvents(state.sweepId)).at(-1)?.seq ?? 0;
    this.startedAtMs = Date.now();
    await this.save();
    await this.emit({
      type: 'sweep_started',
      sweepId: state.sweepId,
      name: state.name,
      notebook: state.notebook,
      trials: state.values.map((values, trial) => ({ trial, values })),
      rungs: state.definition.rungs,
      eta: state.definition.eta,
      objective: state.definition.objective,
      constraints: state.constraints,
      forecast: this.forecast,
      ...(resumed ? { resumed: true } : {}),
    });
    const onAbort = () => this.abort.abort();
    this.hooks.signal?.addEventListener('abort', onAbort, { once: true });
    const heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    let end: { status: Exclude<SweepStatus, 'running'>; reason: string } = { status: 'succeeded', reason: '' };
    try {
      end = await this.loop();
    } catch (err) {
      end = { status: 'failed', reason: errorMessage(err) };
    } finally {
      clearInterval(heartbeat);
      this.hooks.signal?.removeEventListener('abort', onAbort);
    }
    if (this.abort.signal.aborted) {
      // Cancelled: the running trials stop too, each keeping its checkpoint for a resume.
      await Promise.all([...this.runIdsRunning()].map((runId) => this.service.cancel(runId).catch(() => undefined)));
      end = { status: 'cancelled', reason: `cancelled; \`smlt resume ${state.sweepId}\` continues it` };
    }
    await Promise.all(this.running.values());
    return this.finish(end);
  }

  private async loop(): Promise<{ status: Exclude<SweepStatus, 'running'>; reason: string }> {
    let lastReason = '';
    for (;;) {
      if (this.abort.signal.aborted) return { status: 'cancelled', reason: 'cancelled' };
      const decision = this.scheduler.decide(this.elapsedS(), this.state.spentUsd);
      if (decision.kind === 'run') {
        this.scheduler.started(decision.job);
        const job = this.runJob(decision.job, decision).finally(() => this.running.delete(decision.job.trial));
        this.running.set(decision.job.trial, job);
        await this.save();
        continue;
      }
      if (decision.kind === 'stop') {
        if (this.running.size === 0) {
          const status = decision.why === 'budget' ? 'stopped-budget' : decision.why === 'deadline' ? 'stopped-deadline' : 'succeeded';
          return { status, reason: decision.reason };
        }
      } else if (!decision.busy && decision.reason !== lastReason) {
        lastReason = decision.reason;
        await this.emit({ type: 'decision', reason: decision.reason });
      }
      const stopped = new Promise<void>((r) => this.abort.signal.addEventListener('abort', () => r(), { once: true }));
      await Promise.race([...this.running.values(), stopped]);
    }
  }

  private async runJob(job: Job, decision: { reason: string; budgetUsd?: number; deadlineS?: number }): Promise<void> {
    const { state, service } = this;
    const record = state.trials[job.trial]!;
    const before = { costUsd: record.costUsd, epochs: record.epochs };
    const startedMs = Date.now();
    const bounds = {
      ...(decision.budgetUsd !== undefined ? { budgetUsd: decision.budgetUsd } : {}),
      ...(decision.deadlineS !== undefined ? { deadlineS: decision.deadlineS } : {}),
    };
    let failed: string | undefined;
    let summary: RunSummary | undefined;
    try {
      const { runId, fromSeq } = await this.launch(job, bounds);
      record.runId = runId;
      await this.save();
      await this.emit({ type: 'trial_started', trial: job.trial, runId, fromEpochs: job.fromEpochs, toEpochs: job.toEpochs, kind: job.kind, reason: decision.reason });
      let error: { message: string } | undefined;
      if (fromSeq !== undefined) {
        for await (const event of service.events(runId, { fromSeq })) {
          if (event.type === 'run_finished' && event.status === 'failed') error = event.error ?? { message: 'the run failed' };
        }
      }
      summary = await service.get(runId);
      if (error) failed = error.message;
    } catch (err) {
      if (!isSmltError(err)) throw err;
      failed = err.message;
    }
    record.costUsd = summary?.costUsd ?? record.costUsd;
    record.epochs = summary?.epochsDone ?? record.epochs;
    const costUsd = record.costUsd - before.costUsd;
    state.spentUsd += costUsd;
    const metric = metricOf(summary, state.definition);
    const complete = !failed && summary?.status === 'succeeded' && record.epochs >= job.toEpochs && metric !== undefined;
    const durationS = (Date.now() - startedMs) / 1000;
    this.scheduler.finished(job, {
      ...(complete ? { metric } : {}),
      ...(failed !== undefined ? { failed } : {}),
      timeS: durationS,
      costUsd,
      epochs: complete ? job.toEpochs - job.fromEpochs : Math.max(0, record.epochs - before.epochs),
    });
    await this.save();
    await this.emit({
      type: 'trial_finished',
      trial: job.trial,
      ...(record.runId ? { runId: record.runId } : {}),
      rung: job.rung,
      epochs: record.epochs,
      ...(metric !== undefined ? { metric } : {}),
      costUsd,
      durationS,
      outcome: failed !== undefined ? 'failed' : complete ? 'rung' : 'interrupted',
      ...(failed !== undefined ? { error: failed } : {}),
    });
  }

  /** A first rung starts a run; a promotion (or a job a stopped sweep left) trains the trial's run further. `fromSeq` undefined: nothing to run. */
  private async launch(job: Job, bounds: { budgetUsd?: number; deadlineS?: number }): Promise<{ runId: string; fromSeq?: number }> {
    const { state, service } = this;
    const runId = state.trials[job.trial]!.runId;
    const objective = state.constraints.budgetUsd !== undefined && state.constraints.deadlineS === undefined ? 'cost' : 'time';
    if (runId === undefined) {
      const captured = await this.variants.trial(state.values[job.trial]!, job.toEpochs);
      const request: RunRequest = { source: { path: state.notebook }, backend: state.backend, objective, ...bounds };
      return { ...(await service.startCaptured(captured, request, { sweepId: state.sweepId })), fromSeq: 0 };
    }
    const run = await service.get(runId);
    if (run.epochs < job.toEpochs) return service.extend(runId, { epochs: job.toEpochs, ...bounds });
    if (run.status !== 'succeeded') return service.resume(runId);
    return { runId };
  }

  private async finish(end: { status: Exclude<SweepStatus, 'running'>; reason: string }): Promise<SweepResult> {
    const { state } = this;
    const durationS = this.elapsedS();
    state.elapsedS = durationS;
    state.status = end.status;
    delete state.driver;
    await this.saving;
    const best = this.scheduler.asha.best();
    const bestRun = best ? state.trials[best.trial]?.runId : undefined;
    let outputs: { modelPath?: string; settingsPath?: string } = {};
    if (best && bestRun) outputs = await this.writeOutputs(best.trial, bestRun).catch(() => ({}));
    await saveSweep(state);
    await rm(cancelRequestPath(state.sweepId), { force: true });
    await this.emit({
      type: 'sweep_finished',
      status: end.status,
      reason: end.reason,
      costUsd: state.spentUsd,
      durationS,
      ...(best && bestRun ? { best: { trial: best.trial, runId: bestRun, values: state.values[best.trial]!, metric: best.metric, epochs: state.trials[best.trial]!.epochs } } : {}),
      outDir: state.outDir,
      ...outputs,
    });
    return {
      sweepId: state.sweepId,
      status: end.status,
      ...(best && bestRun ? { best: { trial: best.trial, runId: bestRun, metric: best.metric } } : {}),
      costUsd: state.spentUsd,
      durationS,
      outDir: state.outDir,
    };
  }

  /** The best trial's model, the leaderboard, and its settings written to paste into the notebook. */
  private async writeOutputs(trial: number, runId: string): Promise<{ modelPath?: string; settingsPath?: string }> {
    const { state } = this;
    await mkdir(state.outDir, { recursive: true });
    const artifacts = await this.service.artifacts(runId);
    let modelPath: string | undefined;
    if (artifacts.modelPath) {
      const modelDir = join(state.outDir, 'best-model');
      await rm(modelDir, { recursive: true, force: true });
      await cp(dirname(artifacts.modelPath), modelDir, { recursive: true });
      modelPath = join(modelDir, basename(artifacts.modelPath));
    }
    const settingsPath = join(state.outDir, 'best-settings.yaml');
    await writeFile(settingsPath, settingsText(state, trial));
    await writeFile(
      join(state.outDir, 'report.json'),
      JSON.stringify({ sweepId: state.sweepId, status: state.status, constraints: state.constraints, costUsd: state.spentUsd, durationS: state.elapsedS, bestTrial: trial, bestRun: runId, trials: trialTable(state) }, null, 2),
    );
    return { ...(modelPath && existsSync(modelPath) ? { modelPath } : {}), settingsPath };
  }

  private *runIdsRunning(): Iterable<string> {
    for (const trial of this.running.keys()) {
      const runId = this.state.trials[trial]?.runId;
      if (runId) yield runId;
    }
  }

  private elapsedS(): number {
    return this.state.elapsedS + (Date.now() - this.startedAtMs) / 1000;
  }

  private async beat(): Promise<void> {
    if (existsSync(cancelRequestPath(this.state.sweepId))) this.abort.abort();
    await this.save().catch(() => undefined);
  }

  /** Saves the state as it is now; saves run one after another (the heartbeat's and the jobs'), so the last written is the newest. */
  private save(): Promise<void> {
    this.state.asha = this.scheduler.asha.state();
    this.state.driver = { pid: process.pid, heartbeatAt: new Date().toISOString() };
    const snapshot = structuredClone({ ...this.state, elapsedS: this.state.status === 'running' ? this.elapsedS() : this.state.elapsedS });
    const saved = this.saving.then(() => saveSweep(snapshot));
    this.saving = saved.catch(() => undefined);
    return saved;
  }

  private async emit(body: DistributiveOmit<SweepEvent, 'seq' | 'at'>): Promise<void> {
    const event = { ...body, seq: ++this.seq, at: new Date().toISOString() } as SweepEvent;
    await appendSweepEvent(this.state.sweepId, event);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function metricOf(summary: RunSummary | undefined, definition: SweepDefinition): number | undefined {
  const m = summary?.metrics;
  return definition.objective.metric === 'accuracy' ? m?.valAccuracy : m?.valLoss;
}

/** The winning settings as YAML: training settings for the config cell, the rest named for the model cell. */
function settingsText(state: SweepState, trial: number): string {
  const values = state.values[trial]!;
  const { params, objective } = state.definition;
  const metric = state.asha.trials[trial]?.metrics.at(-1);
  const training = Object.fromEntries(params.filter((p) => p.target.kind === 'training').map((p) => [p.name, values[p.name]]));
  const model = params.filter((p) => p.target.kind !== 'training');
  const lines = [
    `# The best trial of sweep ${state.sweepId}: trial ${trial + 1}, val_${objective.metric} ${metric?.toFixed(4) ?? '-'} after ${state.trials[trial]!.epochs} epochs.`,
    `# Its settings: ${describeValues(values)}.`,
    ...(Object.keys(training).length > 0 ? ['# Paste these into the smlt:config cell (or model.compile / model.fit):', stringify(training).trim()] : []),
    ...(model.length > 0
      ? [
          '# And set these in the model cell (layer settings, or the value an hp call returns):',
          ...model.map((p) => `#   ${p.name}: ${JSON.stringify(values[p.name])}`),
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}
