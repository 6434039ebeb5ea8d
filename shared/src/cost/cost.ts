import { PRICE_TABLES, PRICES, type PriceTable, type RequestCounts } from './prices.js';

export interface CostBreakdown {
  computeUsd: number;
  invocationsUsd: number;
  storageRequestsUsd: number;
  /** A gradient channel other than the store (Redis), when the run used one. */
  channelUsd?: number;
  totalUsd: number;
}

/** What one invocation costs on Lambda: GB-seconds of the configured memory, plus the request. */
export function invocationCostUsd(memoryMb: number, billedMs: number, prices: PriceTable = PRICE_TABLES.local): number {
  const gbSeconds = (memoryMb / 1024) * (Math.ceil(billedMs / prices.billingGranularityMs) / 1000);
  return gbSeconds * prices.usdPerGbSecond + prices.usdPerInvocation;
}

/** S3 request charges; DELETE is free, LIST is priced as PUT. */
export function storageRequestsCostUsd(counts: RequestCounts): number {
  return (counts.put + counts.list) * PRICES.s3.usdPerPut + counts.get * PRICES.s3.usdPerGet;
}

export function emptyRequestCounts(): RequestCounts {
  return { put: 0, get: 0, list: 0, delete: 0 };
}

/** Requests made since `before` was copied from the same counters. */
export function requestCountsSince(now: RequestCounts, before: RequestCounts): RequestCounts {
  return {
    put: now.put - before.put,
    get: now.get - before.get,
    list: now.list - before.list,
    delete: now.delete - before.delete,
  };
}

export function addRequestCounts(into: RequestCounts, more: Partial<RequestCounts>): RequestCounts {
  into.put += more.put ?? 0;
  into.get += more.get ?? 0;
  into.list += more.list ?? 0;
  into.delete += more.delete ?? 0;
  return into;
}

/** What a meter has counted; saved with the run so a resumed run keeps its spend. */
export interface CostTally {
  computeUsd: number;
  invocations: number;
  requests: RequestCounts;
  channelUsd?: number;
}

/** The spend a tally adds up to. */
export function costBreakdown(tally: CostTally): CostBreakdown {
  const invocationsUsd = tally.invocations * PRICES.lambda.usdPerRequest;
  const storageRequestsUsd = storageRequestsCostUsd(tally.requests);
  const channelUsd = tally.channelUsd ?? 0;
  return {
    computeUsd: tally.computeUsd,
    invocationsUsd,
    storageRequestsUsd,
    ...(channelUsd > 0 ? { channelUsd } : {}),
    totalUsd: tally.computeUsd + invocationsUsd + storageRequestsUsd + channelUsd,
  };
}

/**
 * Running total of a run's spend at its platform's prices (a local run as if every invocation
 * ran on Lambda x86_64 and the store were S3).
 */
export class CostMeter {
  private readonly tally: CostTally;

  constructor(
    private readonly prices: PriceTable = PRICE_TABLES.local,
    saved?: CostTally,
  ) {
    this.tally = saved
      ? { ...saved, requests: { ...saved.requests } }
      : { computeUsd: 0, invocations: 0, requests: emptyRequestCounts() };
  }

  addInvocation(memoryMb: number, billedMs: number): void {
    this.tally.computeUsd += invocationCostUsd(memoryMb, billedMs, this.prices) - this.prices.usdPerInvocation;
    this.tally.invocations += 1;
  }

  addRequests(counts: Partial<RequestCounts>): void {
    addRequestCounts(this.tally.requests, counts);
  }

  /** What a gradient channel other than the store cost (priced by the cost model, cost/epoch-cost.ts). */
  addChannel(usd: number): void {
    this.tally.channelUsd = (this.tally.channelUsd ?? 0) + usd;
  }

  toJSON(): CostTally {
    return { ...this.tally, requests: { ...this.tally.requests } };
  }

  breakdown(): CostBreakdown {
    return costBreakdown(this.tally);
  }
}
