/**
 * Runs one epoch: invokes every rank, re-invokes a rank that returned `continue` (time limit)
 * from where it stopped, re-invokes a failed rank on the iteration it had not finished
 * (bounded retries), abandons and re-invokes a rank the others wait for in vain (a straggler),
 * and stops every rank when one fails for good or the run is cancelled.
 */
import type { ObjectStore, Platform } from '../backends/ports.js';
import type { CostMeter } from '../cost/cost.js';
import { SmltError, isSmltError } from '../errors.js';
import type { EventLog } from './event-log.js';
import { markerIteration, type RunKeys, runKeys, stateIteration } from './layout.js';
import type { FailureReason } from './events.js';
import type { WorkerEvent, WorkerResult } from './worker-protocol.js';

export interface EpochPlan {
  epoch: number;
  workers: number;
  memoryMb: number;
  iterations: number;
}

export interface EpochRunnerDeps {
  platform: Platform;
  store: ObjectStore;
  log: EventLog;
  meter: CostMeter;
  maxRetries: number;
  signal: AbortSignal;
  /** The event for one rank's first invocation of the epoch. */
  eventFor(rank: number): WorkerEvent;
}

export interface EpochOutcome {
  invocations: number;
  relaunches: number;
  /** Compute and sync time of every successful invocation, for the scheduler's model. */
  workerTimes: Array<{ rank: number; computeMs: number; syncMs: number; iterationsRun: number; steadySteps?: number }>;
  /** Gradient bytes moved through a channel other than the store (as the workers counted them). */
  channelBytes: number;
}

export async function runEpoch(plan: EpochPlan, deps: EpochRunnerDeps): Promise<EpochOutcome> {
  const epochAbort = new AbortController();
  const stopAll = () => epochAbort.abort();
  deps.signal.addEventListener('abort', stopAll, { once: true });
  const counters: EpochOutcome = { invocations: 0, relaunches: 0, workerTimes: [], channelBytes: 0 };
  const { runId, drive } = deps.eventFor(0);
  const invocations = new Invocations(epochAbort.signal, (rank) => firstUnfinishedIteration(deps.store, runKeys(runId, drive), plan.epoch, rank));
  try {
    const ranks = Array.from({ length: plan.workers }, (_, rank) =>
      runRank(rank, plan, deps, epochAbort.signal, counters, invocations).catch((err: unknown) => {
        stopAll(); // the others would only wait for this rank's gradients until they time out
        throw err;
      }),
    );
    const settled = await Promise.allSettled(ranks);
    if (deps.signal.aborted) throw new SmltError('CANCELLED', 'The run was cancelled.');
    // Report the rank that failed, not the ranks stopped because of it.
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    if (failures.length > 0) throw failures.find((err) => !isSmltError(err, 'CANCELLED')) ?? failures[0];
    return counters;
  } finally {
    deps.signal.removeEventListener('abort', stopAll);
  }
}

async function runRank(
  rank: number,
  plan: EpochPlan,
  deps: EpochRunnerDeps,
  signal: AbortSignal,
  counters: EpochOutcome,
  invocations: Invocations,
): Promise<void> {
  let event = deps.eventFor(rank);
  let failures = 0;
  for (;;) {
    if (signal.aborted) throw new SmltError('CANCELLED', 'The epoch was stopped.');
    deps.log.emit({ type: 'worker_started', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration: event.fromIteration });
    const invocation = invocations.start(rank);
    const outcome = await deps.platform
      .invoke<WorkerEvent, WorkerResult>(event, { memoryMb: plan.memoryMb, signal: invocation.signal, affinity: event.partitionKey })
      .finally(() => invocations.end(rank));
    counters.invocations++;
    deps.meter.addInvocation(plan.memoryMb, outcome.billedMs);

    if (outcome.ok) {
      const result = outcome.result;
      deps.meter.addRequests(result.requests);
      counters.channelBytes += result.channelBytes ?? 0;
      const { computeMs, syncMs, iterationsRun, steadySteps } = result;
      counters.workerTimes.push({ rank, computeMs, syncMs, iterationsRun, ...(steadySteps !== undefined ? { steadySteps } : {}) });
      deps.log.emit({
        type: 'worker_finished',
        epoch: plan.epoch,
        rank,
        status: result.status,
        iterationsRun: result.iterationsRun,
        computeMs: result.computeMs,
        syncMs: result.syncMs,
        ...(result.steadySteps !== undefined ? { steadySteps: result.steadySteps } : {}),
        billedMs: outcome.billedMs,
        coldStart: outcome.coldStart,
        launchMs: Math.round(outcome.launchMs),
        warmCache: result.warmCache,
        backend: result.backend,
        ...(result.adapter ? { adapter: result.adapter } : {}),
      });
      if (result.status === 'done') return;
      event = { ...event, fromIteration: result.nextIteration };
      counters.relaunches++;
      deps.log.emit({ type: 'worker_relaunched', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration: event.fromIteration, why: 'time-limit' });
      continue;
    }

    const failure: { reason: FailureReason; message: string; code?: string } =
      invocation.straggler === undefined ? outcome : { reason: 'straggler', message: invocation.straggler };
    if (failure.reason === 'aborted' || signal.aborted) throw new SmltError('CANCELLED', 'The epoch was stopped.');
    if (failure.code === 'SYNC_TIMEOUT') await invocations.abandonStragglers(rank, event.syncTimeoutMs);
    failures++;
    deps.log.emit({ type: 'worker_failed', epoch: plan.epoch, rank, attempt: event.attempt, reason: failure.reason, message: failure.message });
    if (failure.reason === 'out-of-memory') {
      // Deterministic: the same iteration at the same memory size would fail again.
      throw new SmltError('WORKER_OUT_OF_MEMORY', `Worker ${rank}, epoch ${plan.epoch + 1}: ${failure.message}`);
    }
    if (failures > deps.maxRetries) {
      throw new SmltError(
        failure.reason === 'timeout' || failure.reason === 'straggler' ? 'WORKER_TIMEOUT' : 'WORKER_FAILED',
        `Worker ${rank} failed ${failures} times in epoch ${plan.epoch + 1} (last: ${failure.message}). ` +
          'The run stopped; its last checkpoint is kept: fix the cause and run `smlt resume`.',
      );
    }
    const fromIteration = await relaunchPoint(deps.store, runKeys(event.runId, event.drive), plan.epoch, rank, plan.workers);
    event = { ...event, fromIteration, attempt: event.attempt + 1 };
    counters.relaunches++;
    deps.log.emit({ type: 'worker_relaunched', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration, why: 'failure' });
  }
}

/**
 * The invocations in flight, and the straggler rule. A rank that failed with SYNC_TIMEOUT waited
 * that long at its first unfinished iteration k; another rank whose invocation has run at least
 * as long without getting past k is hung or straggling, and the others will keep waiting for it:
 * left alone, a hung worker holds the epoch until the platform's time limit (15 minutes on
 * Lambda) while the rest fail one sync timeout after another and use up their retries. So it is
 * abandoned and relaunched where it stopped. Ranks that were only blocked by it may be
 * abandoned with it; relaunching them is exact (they replay the same averages) and costs one
 * retry each, which a sync timeout would have cost them anyway.
 */
interface Invocation {
  startedAt: number;
  controller: AbortController;
  /** Why it was abandoned as a straggler, once it was. */
  straggler?: string;
}

class Invocations {
  private readonly running = new Map<number, Invocation>();
  private scan: Promise<void> = Promise.resolve();

  constructor(
    private readonly epochSignal: AbortSignal,
    private readonly progressOf: (rank: number) => Promise<number>,
  ) {}

  /** Registers `rank`'s next invocation; `straggler` says why, once it was abandoned as one. */
  start(rank: number): { signal: AbortSignal; readonly straggler: string | undefined } {
    const entry: Invocation = { startedAt: performance.now(), controller: new AbortController() };
    this.running.set(rank, entry);
    return {
      signal: AbortSignal.any([this.epochSignal, entry.controller.signal]),
      get straggler() {
        return entry.straggler;
      },
    };
  }

  end(rank: number): void {
    this.running.delete(rank);
  }

  /** After `waiter` timed out waiting (`waitedMs`), abandons the ranks it was waiting for. */
  abandonStragglers(waiter: number, waitedMs: number): Promise<void> {
    // Timeouts come in waves (every rank waits for the straggler): one scan at a time.
    this.scan = this.scan.then(async () => {
      const stuckAt = await this.progressOf(waiter);
      const now = performance.now();
      for (const [rank, entry] of this.running) {
        if (rank === waiter || entry.straggler || now - entry.startedAt < waitedMs) continue;
        if ((await this.progressOf(rank)) > stuckAt) continue;
        entry.straggler =
          `Worker ${rank} made no progress past iteration ${stuckAt + 1} in ${Math.round((now - entry.startedAt) / 1000)} s ` +
          `while worker ${waiter} waited ${Math.round(waitedMs / 1000)} s for its data: abandoned as a straggler and relaunched.`;
        entry.controller.abort();
      }
    });
    return this.scan.catch(() => undefined); // a failed scan only means no straggler is abandoned this time
  }
}

/**
 * Where a failed worker starts again: the first iteration it did not finish, whose state it
 * rebuilds by replaying the averages the others published since a saved state. A lone worker
 * publishes none (sync/index.ts): it starts again from the latest state saved at or before that
 * iteration (a time-limit continuation's), else from the epoch's start.
 */
async function relaunchPoint(store: ObjectStore, keys: RunKeys, epoch: number, rank: number, workers: number): Promise<number> {
  const unfinished = await firstUnfinishedIteration(store, keys, epoch, rank);
  if (workers > 1) return unfinished;
  const saved = (await store.list(keys.statesPrefix(epoch))).map(stateIteration).filter((i) => i <= unfinished);
  return Math.max(0, ...saved);
}

/** The first iteration of the epoch without this rank's marker. */
async function firstUnfinishedIteration(store: ObjectStore, keys: RunKeys, epoch: number, rank: number): Promise<number> {
  const done = new Set((await store.list(keys.markersOf(epoch, rank))).map(markerIteration));
  let iteration = 0;
  while (done.has(iteration)) iteration++;
  return iteration;
}
