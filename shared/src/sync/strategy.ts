/**
 * The one interface every gradient-aggregation strategy implements (DESIGN.md, "Hierarchical
 * aggregation"). Workers exchange gradients only through the object store, so a strategy is a
 * protocol of deterministic keys: a retried worker that rewrites a key writes the same bytes.
 */
import type { ObjectStore } from '../backends/ports.js';
import type { PollMs } from '../backends/store-utils.js';
import { SmltError } from '../errors.js';
import type { SyncName } from '../spec/job-spec.js';

export type { SyncName };

export interface SyncContext {
  store: ObjectStore;
  /** The epoch's sync prefix without a trailing `/`, e.g. `runs/<id>/sync/e0003`; all keys go under `${prefix}/`. */
  prefix: string;
  workers: number;
  /** This worker's rank, 0 ≤ rank < workers. */
  rank: number;
  /** How long to wait for any one object another worker writes before SYNC_TIMEOUT. */
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Set when a worker is re-invoked on an iteration it may have started: objects it already
   * wrote are kept, not rewritten, and an average already published is used as is. Others may
   * have consumed them, and a recomputed gradient (dropout, data order) could differ.
   */
  skipExisting?: boolean;
  /** Poll delays for stores without `waitFor`; default: tuned for a folder store. */
  pollMs?: PollMs;
}

/** What one worker did in one sync, for the scheduler's model of sync time and for benchmarks. */
export interface SyncStats {
  bytesWritten: number;
  bytesRead: number;
  /** Objects written and read; polls for objects not yet there are only in `store.requests`. */
  puts: number;
  gets: number;
  /** Wall time spent waiting for, and reading, objects other workers write. */
  waitMs: number;
}

export interface SyncStrategy {
  readonly name: SyncName;
  /** The mean of every worker's `gradient` for `iteration`; every worker gets the same bits. */
  allReduce(ctx: SyncContext, iteration: number, gradient: Float32Array): Promise<{ average: Float32Array; stats: SyncStats }>;
  /**
   * The mean a previous `allReduce` of `iteration` published, for a restarted worker that
   * replays the iterations the others already applied.
   */
  readAverage(ctx: SyncContext, iteration: number): Promise<Float32Array>;
}

/** Rejects a context that would make workers disagree on keys or wait forever. */
export function assertValidContext(ctx: SyncContext, iteration: number): void {
  const problem = contextProblem(ctx, iteration);
  if (problem) throw new SmltError('OPTION_INVALID', `Invalid sync context: ${problem}.`);
}

function contextProblem({ workers, rank, timeoutMs, prefix }: SyncContext, iteration: number): string | undefined {
  if (!Number.isInteger(workers) || workers < 1) return `workers must be a positive integer, got ${workers}`;
  if (!Number.isInteger(rank) || rank < 0 || rank >= workers) return `rank must be an integer in [0, ${workers}), got ${rank}`;
  if (!Number.isInteger(iteration) || iteration < 0) return `iteration must be a non-negative integer, got ${iteration}`;
  if (!(timeoutMs > 0)) return `timeoutMs must be positive, got ${timeoutMs}`;
  if (prefix === '' || prefix.endsWith('/')) return `prefix must be non-empty without a trailing /, got ${JSON.stringify(prefix)}`;
  return undefined;
}
