/**
 * Runs one epoch: invokes every rank, re-invokes a rank that returned `continue` (time limit)
 * from where it stopped, re-invokes a failed rank on the iteration it had not finished
 * (bounded retries), and stops every rank when one fails for good or the run is cancelled.
 */
import type { ObjectStore, Platform } from '../backends/ports.js';
import type { CostMeter } from '../cost/cost.js';
import { SmltError, isSmltError } from '../errors.js';
import type { EventLog } from './event-log.js';
import { markerIteration, runKeys } from './layout.js';
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
  workerTimes: Array<{ rank: number; computeMs: number; syncMs: number }>;
}

export async function runEpoch(plan: EpochPlan, deps: EpochRunnerDeps): Promise<EpochOutcome> {
  const epochAbort = new AbortController();
  const stopAll = () => epochAbort.abort();
  deps.signal.addEventListener('abort', stopAll, { once: true });
  const counters: EpochOutcome = { invocations: 0, relaunches: 0, workerTimes: [] };
  try {
    const ranks = Array.from({ length: plan.workers }, (_, rank) =>
      runRank(rank, plan, deps, epochAbort.signal, counters).catch((err: unknown) => {
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
): Promise<void> {
  let event = deps.eventFor(rank);
  let failures = 0;
  for (;;) {
    if (signal.aborted) throw new SmltError('CANCELLED', 'The epoch was stopped.');
    deps.log.emit({ type: 'worker_started', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration: event.fromIteration });
    const outcome = await deps.platform.invoke<WorkerEvent, WorkerResult>(event, {
      memoryMb: plan.memoryMb,
      signal,
      affinity: event.partitionKey,
    });
    counters.invocations++;
    deps.meter.addInvocation(plan.memoryMb, outcome.billedMs);

    if (outcome.ok) {
      const result = outcome.result;
      deps.meter.addRequests(result.requests);
      counters.workerTimes.push({ rank, computeMs: result.computeMs, syncMs: result.syncMs });
      deps.log.emit({
        type: 'worker_finished',
        epoch: plan.epoch,
        rank,
        status: result.status,
        iterationsRun: result.iterationsRun,
        computeMs: result.computeMs,
        syncMs: result.syncMs,
        billedMs: outcome.billedMs,
        coldStart: outcome.coldStart,
        launchMs: Math.round(outcome.launchMs),
        warmCache: result.warmCache,
        backend: result.backend,
      });
      if (result.status === 'done') return;
      event = { ...event, fromIteration: result.nextIteration };
      counters.relaunches++;
      deps.log.emit({ type: 'worker_relaunched', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration: event.fromIteration, why: 'time-limit' });
      continue;
    }

    if (outcome.reason === 'aborted' || signal.aborted) throw new SmltError('CANCELLED', 'The epoch was stopped.');
    failures++;
    deps.log.emit({ type: 'worker_failed', epoch: plan.epoch, rank, attempt: event.attempt, reason: outcome.reason, message: outcome.message });
    if (outcome.reason === 'out-of-memory') {
      // Deterministic: the same iteration at the same memory size would fail again.
      throw new SmltError('WORKER_OUT_OF_MEMORY', `Worker ${rank}, epoch ${plan.epoch + 1}: ${outcome.message}`);
    }
    if (failures > deps.maxRetries) {
      throw new SmltError(
        outcome.reason === 'timeout' ? 'WORKER_TIMEOUT' : 'WORKER_FAILED',
        `Worker ${rank} failed ${failures} times in epoch ${plan.epoch + 1} (last: ${outcome.message}). ` +
          'The run stopped; its last checkpoint is kept: fix the cause and run `smlt resume`.',
      );
    }
    const fromIteration = await firstUnfinishedIteration(deps.store, event.runId, plan.epoch, rank);
    event = { ...event, fromIteration, attempt: event.attempt + 1 };
    counters.relaunches++;
    deps.log.emit({ type: 'worker_relaunched', epoch: plan.epoch, rank, attempt: event.attempt, fromIteration, why: 'failure' });
  }
}

/** The first iteration of the epoch without this rank's marker. */
async function firstUnfinishedIteration(store: ObjectStore, runId: string, epoch: number, rank: number): Promise<number> {
  const done = new Set((await store.list(runKeys(runId).markersOf(epoch, rank))).map(markerIteration));
  let iteration = 0;
  while (done.has(iteration)) iteration++;
  return iteration;
}
