/**
 * The cost model of one epoch (DESIGN.md, "The scheduler's problem, stated"):
 *
 *   cost = n × (m / 1024) GB × billed seconds × price per GB-s        (duration)
 *        + invocations × price per request                              (Lambda requests)
 *        + iterations × requests(sync, n) × request prices              (gradient exchange)
 *        + per-epoch requests (state, partition, checkpoint, markers)   (bookkeeping)
 *
 * Request counts follow the sync strategies in `sync/` exactly (a unit test checks them against
 * the real strategies on a folder store); polls for objects not written yet come on top and
 * depend on the store, so they are an input (`pollGetsPerIteration`), not a constant.
 */
import type { SyncName } from '../spec/job-spec.js';
import type { ChannelPrices, PriceTable, RequestCounts } from './prices.js';

/**
 * Requests of one iteration's all-reduce, over all `workers`, without polls.
 *
 * hierarchical (sync/hierarchical.ts): each rank writes n-1 shards and its mean (n PUTs), reads
 *   n-1 shards for its mean and the n-1 other means (2(n-1) GETs): n² PUTs, 2n(n-1) GETs.
 * flat (sync/flat.ts): each non-aggregator writes its gradient and reads the mean; the aggregator
 *   reads n-1 gradients and writes the mean: n PUTs, 2(n-1) GETs.
 * A lone worker exchanges nothing (sync/index.ts).
 */
export function syncRequestsPerIteration(sync: SyncName, workers: number): RequestCounts {
  const n = workers;
  if (n === 1) return { put: 0, get: 0, list: 0, delete: 0 };
  return sync === 'hierarchical'
    ? { put: n * n, get: 2 * n * (n - 1), list: 0, delete: 0 }
    : { put: n, get: 2 * (n - 1), list: 0, delete: 0 };
}

/**
 * Gradient bytes one iteration's all-reduce moves through the store, over all workers (payload,
 * without the codec's small headers). Both strategies write n gradients' worth and read 2(n-1):
 * hierarchical as n shards per rank, flat as whole gradients through one aggregator; a lone
 * worker moves nothing.
 */
export function syncBytesPerIteration(workers: number, gradientBytes: number): number {
  return workers === 1 ? 0 : (3 * workers - 2) * gradientBytes;
}

/** What a gradient channel (not the store) costs for `bytesMoved` over `seconds` of a run. */
export function channelCostUsd(bytesMoved: number, seconds: number, prices: ChannelPrices): number {
  return (bytesMoved / 1e9) * prices.usdPerGbMoved + (seconds / 3600) * prices.usdPerHour;
}

/** Requests of one iteration, all workers: the all-reduce, each rank's progress marker, and polls. */
export function iterationRequests(sync: SyncName, workers: number, pollGetsPerIteration = 0): RequestCounts {
  const counts = syncRequestsPerIteration(sync, workers);
  return { ...counts, put: counts.put + workers, get: counts.get + pollGetsPerIteration };
}

/**
 * What the orchestrator does with the store after an epoch, in rounds of requests: it lists and
 * reads every rank's marker of every iteration (they hold the training loss), `inFlight` at a
 * time, then lists and batch-deletes every key the epoch's exchange wrote (markers included), in
 * pages of `keysPerRequest`. `keys` is how many keys it handles in all.
 */
export function epochEndRounds(
  sync: SyncName,
  workers: number,
  iterations: number,
  store: { inFlight: number; keysPerRequest: number },
): { getRounds: number; putRounds: number; keys: number } {
  const markers = workers * iterations;
  const written = iterationRequests(sync, workers).put * iterations;
  const pages = (k: number) => Math.ceil(k / store.keysPerRequest);
  return { getRounds: Math.ceil(markers / store.inFlight) + pages(markers) + pages(written), putRounds: pages(written), keys: markers + written };
}

/**
 * Requests of one epoch outside its iterations: each rank reads the start state and (when not
 * cached) its data partition; rank 0 writes the checkpoint; the orchestrator lists the sync
 * prefix and the markers, reads every marker (one per worker and iteration), and deletes the
 * epoch's keys (DELETE is free). A time-limit continuation writes one mid-epoch state and
 * re-reads it.
 */
export function epochBookkeepingRequests(
  workers: number,
  iterations: number,
  opts: { partitionDownloads?: number; continuations?: number } = {},
): RequestCounts {
  const continuations = opts.continuations ?? 0;
  return {
    put: 1 + continuations,
    get: workers + (opts.partitionDownloads ?? 0) + continuations * workers + workers * iterations,
    list: 3,
    delete: 0,
  };
}

export function requestsCostUsd(counts: RequestCounts, prices: PriceTable): number {
  return counts.put * prices.store.usdPerPut + counts.get * prices.store.usdPerGet + counts.list * prices.store.usdPerList;
}

/** Lambda duration price of `workers` functions of `memoryMb` each billed `billedS` seconds. */
export function durationCostUsd(workers: number, memoryMb: number, billedS: number, prices: PriceTable): number {
  const billedMs = Math.ceil((billedS * 1000) / prices.billingGranularityMs) * prices.billingGranularityMs;
  return workers * (memoryMb / 1024) * (billedMs / 1000) * prices.usdPerGbSecond;
}

export interface EpochCostInput {
  workers: number;
  memoryMb: number;
  sync: SyncName;
  iterations: number;
  /** Seconds one worker is billed for the epoch (all its invocations together), on average. */
  billedSPerWorker: number;
  /** Invocations of the epoch, all workers (n, plus continuations and relaunches). */
  invocations?: number;
  /** Billed GETs polling for objects not yet written, all workers, per iteration. */
  pollGetsPerIteration?: number;
  partitionDownloads?: number;
  continuations?: number;
}

export interface EpochCost {
  durationUsd: number;
  invocationsUsd: number;
  requestsUsd: number;
  totalUsd: number;
  requests: RequestCounts;
}

/** What one epoch of a configuration costs; every term is written out above. */
export function epochCost(input: EpochCostInput, prices: PriceTable): EpochCost {
  const perIteration = iterationRequests(input.sync, input.workers, input.pollGetsPerIteration ?? 0);
  const bookkeeping = epochBookkeepingRequests(input.workers, input.iterations, input);
  const requests: RequestCounts = {
    put: perIteration.put * input.iterations + bookkeeping.put,
    get: perIteration.get * input.iterations + bookkeeping.get,
    list: perIteration.list * input.iterations + bookkeeping.list,
    delete: 0,
  };
  const durationUsd = durationCostUsd(input.workers, input.memoryMb, input.billedSPerWorker, prices);
  const invocationsUsd = (input.invocations ?? input.workers) * prices.usdPerInvocation;
  const requestsUsd = requestsCostUsd(requests, prices);
  return { durationUsd, invocationsUsd, requestsUsd, totalUsd: durationUsd + invocationsUsd + requestsUsd, requests };
}
