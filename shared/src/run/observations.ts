/**
 * Turning what the orchestrator records into the planner's `EpochObservation`: the epoch record
 * (run-state.ts) plus the epoch's `worker_finished` events, which carry each invocation's
 * compute and sync time (the profiler input: compute time per sample and sync time observed).
 */
import type { RequestCounts } from '../cost/prices.js';
import type { EpochObservation } from '../scheduler/types.js';
import type { RunEventOf } from './events.js';
import type { EpochRecord } from './run-state.js';

type WorkerTimes = Pick<RunEventOf<'worker_finished'>, 'rank' | 'computeMs' | 'syncMs' | 'iterationsRun' | 'steadySteps'>;

/**
 * Per-worker compute and sync ms of one epoch: each rank's invocations summed, then the mean over
 * ranks; and the share of the iterations they were measured on at the steady pace (the least of
 * any rank; absent when the workers did not say).
 */
export function summarizeWorkers(events: ReadonlyArray<WorkerTimes>): { computeMs: number; syncMs: number; steadyShare?: number } {
  const byRank = new Map<number, { computeMs: number; syncMs: number; iterations: number; steady: number | undefined }>();
  for (const e of events) {
    const sums = byRank.get(e.rank) ?? { computeMs: 0, syncMs: 0, iterations: 0, steady: 0 };
    sums.computeMs += e.computeMs;
    sums.syncMs += e.syncMs;
    sums.iterations += e.iterationsRun;
    sums.steady = sums.steady === undefined || e.steadySteps === undefined ? undefined : sums.steady + e.steadySteps;
    byRank.set(e.rank, sums);
  }
  const ranks = Math.max(byRank.size, 1);
  let computeMs = 0;
  let syncMs = 0;
  let steadyShare: number | undefined = byRank.size > 0 ? 1 : undefined;
  for (const sums of byRank.values()) {
    computeMs += sums.computeMs;
    syncMs += sums.syncMs;
    steadyShare = sums.steady === undefined || steadyShare === undefined ? undefined : Math.min(steadyShare, sums.iterations > 0 ? sums.steady / sums.iterations : 0);
  }
  return { computeMs: computeMs / ranks, syncMs: syncMs / ranks, ...(steadyShare !== undefined ? { steadyShare } : {}) };
}

/** An observation from an epoch record, its batch size, and (optionally) its worker events and request counts. */
export function observationFromRecord(
  record: Pick<EpochRecord, 'epoch' | 'workers' | 'memoryMb' | 'sync' | 'iterations' | 'durationS' | 'costUsd'>,
  batchSize: number,
  workerEvents: ReadonlyArray<WorkerTimes> = [],
  requests?: RequestCounts,
): EpochObservation {
  return {
    epoch: record.epoch,
    workers: record.workers,
    memoryMb: record.memoryMb,
    sync: record.sync,
    batchSize,
    iterations: record.iterations,
    durationS: record.durationS,
    costUsd: record.costUsd,
    ...(workerEvents.length > 0 ? summarizeWorkers(workerEvents) : {}),
    ...(requests ? { requests } : {}),
  };
}
