/**
 * What the progress panel knows about a run, folded from the run's events by a pure reducer.
 * Every client (VS Code webview, JupyterLab widget, the shareable report page) keeps one
 * `PanelState` per run and calls `reducePanel` on each event it replays or follows, so they all
 * show the same numbers. The clock is the events' own `time`, never `Date.now()`: a replayed
 * run yields exactly the state it had live.
 */
import type { EpochMetrics, FinalStatus, RunEvent, RunEventOf, RunStatus, SyncName } from '../run/events.js';
import { estimateEtaS, type RunClock, runClockAt } from './timing.js';

export type { RunClock } from './timing.js';

/** `pending`: no `run_started` seen yet. */
export type PanelStatus = 'pending' | RunStatus;

/**
 * `waiting` (planned, not started), `running`, `relaunched` (re-invoked after a failure or at the
 * time limit, and running again), `done`, `failed` (its latest attempt failed), `stopped` (the
 * run ended before this worker finished).
 */
export type WorkerState = 'waiting' | 'running' | 'relaunched' | 'done' | 'failed' | 'stopped';

export interface WorkerRow {
  readonly rank: number;
  readonly state: WorkerState;
  /** Invocations in the current epoch: 1 + relaunches. */
  readonly attempts: number;
  readonly memoryMb: number;
  readonly backend?: string;
  /** Of its latest finished invocation: a fresh container, and whether its data cache was warm. */
  readonly coldStart?: boolean;
  /** From the platform call until its handler started. */
  readonly launchMs?: number;
  readonly warmCache?: boolean;
  readonly lastError?: string;
}

export interface EpochRow extends EpochMetrics {
  readonly epoch: number;
  readonly workers: number;
  readonly memoryMb: number;
  readonly sync?: SyncName;
  readonly iterations?: number;
  readonly durationS: number;
  /** Spend during the epoch (from the `cost` event that follows it). */
  readonly costUsd?: number;
  readonly relaunches: number;
}

/** One `progress` event: the loss of the iteration just finished (noisy; the chart smooths by epoch). */
export interface LossPoint {
  readonly epoch: number;
  /** Iterations finished in the epoch, 1 for the first; its loss was measured before its update. */
  readonly iteration: number;
  readonly iterations: number;
  readonly loss: number;
}

export interface SchedulerDecision {
  readonly epoch: number;
  readonly workers: number;
  readonly memoryMb: number;
  readonly sync: SyncName;
  readonly iterations: number;
  readonly perWorkerBatch: number;
  readonly reason: string;
  /** The tfjs backend every worker computes with, and why. */
  readonly backend?: { readonly name: string; readonly reason: string };
}

export type LogLevel = 'info' | 'success' | 'warning' | 'error';

export interface LogEntry {
  readonly seq: number;
  /** Seconds since the run started (run clock, across resumes). */
  readonly atS: number;
  readonly level: LogLevel;
  readonly text: string;
}

export interface RunConfig {
  readonly workers: number;
  readonly memoryMb: number;
  readonly sync: SyncName;
}

export interface FinalOutcome {
  readonly status: FinalStatus;
  readonly durationS: number;
  readonly costUsd: number;
  readonly metrics?: EpochMetrics;
  readonly modelPath?: string;
  readonly reportPath?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** The run ended but did not train well. */
  readonly warnings?: readonly string[];
}

export interface PanelState {
  readonly runId?: string;
  readonly name?: string;
  readonly status: PanelStatus;
  readonly platform?: string;
  readonly paramCount?: number;
  readonly trainSamples?: number;
  readonly holdoutSamples?: number;
  /** Total epochs (N); 0 until `run_started`. */
  readonly epochs: number;
  /** The epoch in progress, 0-based (shown as `epoch + 1` of N). */
  readonly epoch: number;
  readonly epochsDone: number;
  /** Iterations finished in the epoch in progress (j of M). */
  readonly iteration: number;
  readonly iterations: number;
  /** Seconds left, from the observed iteration rate; absent when unknown or not running. */
  readonly etaS?: number;
  readonly elapsedS: number;
  readonly deadlineS?: number;
  readonly spentUsd: number;
  readonly budgetUsd?: number;
  readonly config?: RunConfig;
  /** The scheduler's latest decision, and all of them (one per `plan` event). */
  readonly decision?: SchedulerDecision;
  readonly decisions: readonly SchedulerDecision[];
  readonly epochRows: readonly EpochRow[];
  readonly lossPoints: readonly LossPoint[];
  readonly workers: readonly WorkerRow[];
  /** Notable events, oldest first, at most `LOG_LIMIT`. */
  readonly log: readonly LogEntry[];
  readonly resumedFromEpoch?: number;
  readonly final?: FinalOutcome;
  readonly lastSeq: number;
  readonly clock: RunClock;
}

export interface PanelStateOptions {
  budgetUsd?: number;
  deadlineS?: number;
}

/** Enough to read what went wrong recently; older entries are in the run's stored events. */
export const LOG_LIMIT = 50;
/**
 * A run reports progress about once a second, so a long run would grow the chart without end;
 * past this many points every other one is dropped (the curve keeps its shape).
 */
export const LOSS_POINT_LIMIT = 400;

export function initialPanelState(options: PanelStateOptions = {}): PanelState {
  return {
    status: 'pending',
    epochs: 0,
    epoch: 0,
    epochsDone: 0,
    iteration: 0,
    iterations: 0,
    elapsedS: 0,
    spentUsd: 0,
    ...(positive(options.budgetUsd) !== undefined ? { budgetUsd: positive(options.budgetUsd) } : {}),
    ...(positive(options.deadlineS) !== undefined ? { deadlineS: positive(options.deadlineS) } : {}),
    decisions: [],
    epochRows: [],
    lossPoints: [],
    workers: [],
    log: [],
    lastSeq: 0,
    clock: { elapsedBeforeS: 0, spentAtEpochStartUsd: 0 },
  };
}

/** The state after a whole run history (e.g. `events.jsonl` replayed from the store). */
export function panelStateFromEvents(events: Iterable<RunEvent>, options?: PanelStateOptions): PanelState {
  let state = initialPanelState(options);
  for (const event of events) state = reducePanel(state, event);
  return state;
}

/**
 * Applies one event. Returns the same object when the event changes nothing: a client that
 * replays stored events and then follows live ones may see the seam twice (same `seq`), and an
 * event of another run is not this panel's business.
 */
export function reducePanel(state: PanelState, event: RunEvent): PanelState {
  if (Number.isFinite(event.seq) && event.seq <= state.lastSeq) return state;
  if (state.runId !== undefined && event.runId !== state.runId) return state;
  const eventMs = Date.parse(event.time);
  // A client that attached mid-run (no `run_started` seen) still knows the run is going.
  const status = state.status === 'pending' && event.type !== 'run_started' ? 'running' : state.status;
  const next = applyEvent(
    { ...state, status, runId: event.runId, lastSeq: Number.isFinite(event.seq) ? event.seq : state.lastSeq },
    event,
    eventMs,
  );
  return withTimes(next, eventMs);
}

/** Elapsed time and ETA as of this event. */
function withTimes(state: PanelState, eventMs: number): PanelState {
  if (state.status !== 'running') return state.etaS === undefined ? state : { ...state, etaS: undefined };
  const etaS = estimateEtaS(state);
  const { etaS: _stale, ...rest } = state;
  return { ...rest, elapsedS: runClockAt(state, eventMs), ...(etaS !== undefined ? { etaS } : {}) };
}

function applyEvent(state: PanelState, event: RunEvent, eventMs: number): PanelState {
  switch (event.type) {
    case 'run_started':
      return runStarted(state, event, eventMs);
    case 'plan': {
      const decision: SchedulerDecision = {
        epoch: event.epoch,
        workers: event.workers,
        memoryMb: event.memoryMb,
        sync: event.sync,
        iterations: event.iterations,
        perWorkerBatch: event.perWorkerBatch,
        reason: event.reason,
        ...(event.backend ? { backend: event.backend } : {}),
      };
      const before = state.config;
      const config: RunConfig = { workers: event.workers, memoryMb: event.memoryMb, sync: event.sync };
      const changed = !before || before.workers !== config.workers || before.memoryMb !== config.memoryMb || before.sync !== config.sync;
      const text = before
        ? `Epoch ${event.epoch + 1}: scheduler moved to ${configText(config)} (was ${before.workers} × ${before.memoryMb.toLocaleString('en-US')} MB` +
          `${before.sync !== config.sync ? `, ${before.sync} sync` : ''}).`
        : `Epoch ${event.epoch + 1}: scheduler chose ${configText(config)}.`;
      return {
        ...(changed ? log(state, event, 'info', text) : state),
        decision,
        decisions: [...state.decisions, decision],
        config,
        epoch: event.epoch,
        iterations: event.iterations,
      };
    }
    case 'epoch_started': {
      const sync = state.config?.sync ?? state.decision?.sync ?? 'hierarchical';
      // The backend is the platform's choice and stays for the run; start kind is per invocation.
      const backendOf = new Map(state.workers.map((w) => [w.rank, w.backend]));
      const workers: WorkerRow[] = Array.from({ length: Math.max(0, Math.floor(event.workers)) }, (_, rank) => {
        const backend = backendOf.get(rank) ?? state.workers.find((w) => w.backend)?.backend;
        return { rank, state: 'waiting', attempts: 0, memoryMb: event.memoryMb, ...(backend ? { backend } : {}) };
      });
      return {
        ...state,
        epoch: event.epoch,
        iteration: 0,
        iterations: state.decision?.epoch === event.epoch ? state.decision.iterations : state.iterations,
        config: { workers: event.workers, memoryMb: event.memoryMb, sync },
        workers,
        clock: { ...state.clock, epochStartMs: finite(eventMs), lastProgressMs: undefined, spentAtEpochStartUsd: state.spentUsd },
      };
    }
    case 'progress': {
      const point: LossPoint = { epoch: event.epoch, iteration: event.iteration, iterations: event.iterations, loss: event.loss };
      return {
        ...state,
        epoch: event.epoch,
        iteration: event.iteration,
        iterations: event.iterations,
        lossPoints: Number.isFinite(event.loss) ? boundPoints([...state.lossPoints, point]) : state.lossPoints,
        clock: { ...state.clock, lastProgressMs: finite(eventMs) },
      };
    }
    case 'worker_started':
      return updateWorker(state, event.rank, (w) => ({
        ...w,
        state: event.attempt > 0 ? 'relaunched' : 'running',
        attempts: Math.max(w.attempts, event.attempt + 1),
      }));
    case 'worker_finished':
      return updateWorker(state, event.rank, (w) => ({
        ...w,
        // `continue` (time limit reached) is followed by `worker_relaunched`.
        state: event.status === 'done' ? 'done' : w.state,
        attempts: Math.max(w.attempts, 1),
        backend: event.backend,
        coldStart: event.coldStart,
        ...(event.launchMs !== undefined ? { launchMs: event.launchMs } : {}),
        warmCache: event.warmCache,
      }));
    case 'worker_failed': {
      const failed = updateWorker(state, event.rank, (w) => ({
        ...w,
        state: 'failed',
        attempts: Math.max(w.attempts, event.attempt + 1),
        lastError: `${event.reason}: ${event.message}`,
      }));
      const what = FAILURE_VERBS[event.reason] ?? `failed (${event.reason})`;
      return log(failed, event, 'warning', `Worker ${event.rank} ${what} in epoch ${event.epoch + 1} (attempt ${event.attempt + 1}): ${event.message}`);
    }
    case 'worker_relaunched': {
      const relaunched = updateWorker(state, event.rank, (w) => ({
        ...w,
        state: 'relaunched',
        attempts: Math.max(w.attempts, event.attempt + 1),
      }));
      const text =
        event.why === 'failure'
          ? `Worker ${event.rank} relaunched at iteration ${event.fromIteration} (attempt ${event.attempt + 1}).`
          : `Worker ${event.rank} reached the platform's time limit; continues from iteration ${event.fromIteration}.`;
      return log(relaunched, event, 'info', text);
    }
    case 'checkpoint':
      return log(state, event, 'info', `Checkpoint saved after epoch ${event.epoch + 1}.`);
    case 'epoch_finished': {
      const plan = [...state.decisions].reverse().find((d) => d.epoch === event.epoch);
      const row: EpochRow = {
        epoch: event.epoch,
        workers: state.config?.workers ?? plan?.workers ?? state.workers.length,
        memoryMb: state.config?.memoryMb ?? plan?.memoryMb ?? 0,
        sync: state.config?.sync ?? plan?.sync,
        iterations: plan?.iterations ?? (state.iterations || undefined),
        durationS: event.durationS,
        loss: event.loss,
        ...(event.valLoss !== undefined ? { valLoss: event.valLoss } : {}),
        ...(event.valAccuracy !== undefined ? { valAccuracy: event.valAccuracy } : {}),
        relaunches: state.workers.reduce((sum, w) => sum + Math.max(0, w.attempts - 1), 0),
      };
      return {
        ...state,
        epochRows: [...state.epochRows.filter((r) => r.epoch !== event.epoch), row],
        epochsDone: Math.max(state.epochsDone, event.epoch + 1),
        iteration: state.iterations,
        clock: { ...state.clock, epochStartMs: undefined, lastProgressMs: undefined },
      };
    }
    case 'cost': {
      const last = state.epochRows.at(-1);
      // The `cost` event right after `epoch_finished` closes that epoch's spend.
      const closesEpoch = last !== undefined && last.costUsd === undefined && last.epoch === state.epochsDone - 1;
      return {
        ...state,
        spentUsd: event.spentUsd,
        epochRows: closesEpoch
          ? [...state.epochRows.slice(0, -1), { ...last, costUsd: Math.max(0, event.spentUsd - state.clock.spentAtEpochStartUsd) }]
          : state.epochRows,
      };
    }
    case 'run_finished':
      return runFinished(state, event);
    default:
      return state;
  }
}

const FAILURE_VERBS: Record<string, string> = {
  error: 'failed',
  'out-of-memory': 'ran out of memory',
  timeout: 'timed out',
  crashed: 'crashed',
  aborted: 'was stopped',
  straggler: 'straggled (the others waited for it in vain)',
};

function runStarted(state: PanelState, event: RunEventOf<'run_started'>, eventMs: number): PanelState {
  const common = {
    name: event.name,
    status: 'running' as const,
    platform: event.platform,
    paramCount: event.paramCount,
    trainSamples: event.trainSamples,
    holdoutSamples: event.holdoutSamples,
    epochs: event.epochs,
    final: undefined,
    etaS: undefined,
  };
  const from = event.resumedFromEpoch;
  if (from === undefined || state.status === 'pending') {
    // A first start, or a client that attached after the earlier segments: start clean.
    const fresh = initialPanelState({ budgetUsd: state.budgetUsd, deadlineS: state.deadlineS });
    const started: PanelState = {
      ...fresh,
      ...common,
      runId: state.runId,
      lastSeq: state.lastSeq,
      epoch: from ?? 0,
      epochsDone: from ?? 0,
      ...(from !== undefined ? { resumedFromEpoch: from } : {}),
      clock: { ...fresh.clock, segmentStartMs: finite(eventMs) },
    };
    const text =
      from !== undefined
        ? `Resumed from the checkpoint of epoch ${from}.`
        : `Started on the ${event.platform} platform: ${event.paramCount.toLocaleString('en-US')} parameters, ` +
          `${event.trainSamples.toLocaleString('en-US')} training and ${event.holdoutSamples.toLocaleString('en-US')} held-out samples.`;
    return log(started, event, 'info', text);
  }
  // Resumed: epochs from `from` on are redone, so what was seen of them is forgotten; the spend
  // and the run clock carry on (the orchestrator keeps both in the run's status).
  const resumed: PanelState = {
    ...state,
    ...common,
    resumedFromEpoch: from,
    epoch: from,
    epochsDone: from,
    iteration: 0,
    epochRows: state.epochRows.filter((r) => r.epoch < from),
    lossPoints: state.lossPoints.filter((p) => p.epoch < from),
    decisions: state.decisions.filter((d) => d.epoch < from),
    workers: [],
    clock: {
      elapsedBeforeS: state.elapsedS,
      segmentStartMs: finite(eventMs),
      spentAtEpochStartUsd: state.spentUsd,
    },
  };
  return log(resumed, event, 'info', `Resumed from the checkpoint of epoch ${from}; epoch ${from + 1} starts again.`);
}

function runFinished(state: PanelState, event: RunEventOf<'run_finished'>): PanelState {
  const final: FinalOutcome = {
    status: event.status,
    durationS: event.durationS,
    costUsd: event.costUsd,
    ...(event.metrics ? { metrics: event.metrics } : {}),
    ...(event.modelPath ? { modelPath: event.modelPath } : {}),
    ...(event.reportPath ? { reportPath: event.reportPath } : {}),
    ...(event.error ? { error: { code: String(event.error.code), message: event.error.message } } : {}),
    ...(event.warnings?.length ? { warnings: event.warnings.map(String) } : {}),
  };
  const elapsedS = Number.isFinite(event.durationS) ? event.durationS : state.elapsedS;
  const finished: PanelState = {
    ...state,
    status: event.status,
    final,
    elapsedS,
    spentUsd: Number.isFinite(event.costUsd) ? event.costUsd : state.spentUsd,
    epochsDone: event.status === 'succeeded' ? Math.max(state.epochsDone, state.epochs) : state.epochsDone,
    workers:
      event.status === 'succeeded'
        ? state.workers
        : state.workers.map((w) => (w.state === 'done' || w.state === 'failed' ? w : { ...w, state: 'stopped' as const })),
    clock: { ...state.clock, elapsedBeforeS: elapsedS, segmentStartMs: undefined, epochStartMs: undefined, lastProgressMs: undefined },
  };
  const accuracy = event.metrics?.valAccuracy;
  if (event.status === 'succeeded') {
    const loss = event.metrics?.loss;
    const metric =
      accuracy !== undefined ? `held-out accuracy ${(accuracy * 100).toFixed(2)}%` : `loss ${Number.isFinite(loss) ? loss?.toFixed(3) : '—'}`;
    return log(finished, event, 'success', `Succeeded: ${metric}.`);
  }
  if (event.status === 'stopped-budget') {
    const kept = state.epochsDone > 0 ? `; the checkpoint of epoch ${state.epochsDone} is kept` : '';
    return log(finished, event, 'warning', `Stopped before exceeding the budget${kept}. ${event.error?.message ?? ''}`.trim());
  }
  if (event.status === 'cancelled') {
    const kept = state.epochsDone > 0 ? `; the checkpoint of epoch ${state.epochsDone} is kept` : '';
    return log(finished, event, 'warning', `Cancelled${kept}.`);
  }
  const why = event.error ? `${event.error.code}: ${event.error.message}` : 'no reason given.';
  return log(finished, event, 'error', `Failed. ${why}`);
}

function updateWorker(state: PanelState, rank: number, change: (w: WorkerRow) => WorkerRow): PanelState {
  const memoryMb = state.config?.memoryMb ?? 0;
  const existing = state.workers.find((w) => w.rank === rank);
  const updated = change(existing ?? { rank, state: 'waiting', attempts: 0, memoryMb });
  const workers = existing
    ? state.workers.map((w) => (w.rank === rank ? updated : w))
    : [...state.workers, updated].sort((a, b) => a.rank - b.rank);
  return { ...state, workers };
}

function log(state: PanelState, event: RunEvent, level: LogLevel, text: string): PanelState {
  const entry: LogEntry = { seq: event.seq, atS: runClockAt(state, Date.parse(event.time)), level, text };
  return { ...state, log: [...state.log, entry].slice(-LOG_LIMIT) };
}

function boundPoints(points: LossPoint[]): LossPoint[] {
  if (points.length <= LOSS_POINT_LIMIT) return points;
  return points.filter((_, i) => i % 2 === 0 || i === points.length - 1);
}

export function configText(config: RunConfig): string {
  return `${config.workers} worker${config.workers === 1 ? '' : 's'} × ${config.memoryMb.toLocaleString('en-US')} MB, ${config.sync} sync`;
}

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
