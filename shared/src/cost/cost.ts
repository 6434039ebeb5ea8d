import type { RequestCounts } from '../backends/ports.js';
import { type Arch, PRICES } from './prices.js';

export interface CostBreakdown {
  computeUsd: number;
  invocationsUsd: number;
  storageRequestsUsd: number;
  /** A gradient channel other than the store (Redis), when the run used one. */
  channelUsd?: number;
  totalUsd: number;
}

/** What one invocation costs on Lambda: GB-seconds of the configured memory, plus the request. */
export function invocationCostUsd(memoryMb: number, billedMs: number, arch: Arch = 'x86_64'): number {
  const gbSeconds = (memoryMb / 1024) * (Math.ceil(billedMs / PRICES.lambda.billingGranularityMs) / 1000);
  return gbSeconds * PRICES.lambda[arch].usdPerGbSecond + PRICES.lambda.usdPerRequest;
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

/** Running total of a run's spend, as if every invocation ran on Lambda and the store were S3. */
export class CostMeter {
  private readonly tally: CostTally;

  constructor(
    private readonly arch: Arch = 'x86_64',
    saved?: CostTally,
  ) {
    this.tally = saved
      ? { ...saved, requests: { ...saved.requests } }
      : { computeUsd: 0, invocations: 0, requests: emptyRequestCounts() };
  }

  addInvocation(memoryMb: number, billedMs: number): void {
    this.tally.computeUsd += invocationCostUsd(memoryMb, billedMs, this.arch) - PRICES.lambda.usdPerRequest;
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
    const invocationsUsd = this.tally.invocations * PRICES.lambda.usdPerRequest;
    const storageRequestsUsd = storageRequestsCostUsd(this.tally.requests);
    const channelUsd = this.tally.channelUsd ?? 0;
    return {
      computeUsd: this.tally.computeUsd,
      invocationsUsd,
      storageRequestsUsd,
      ...(channelUsd > 0 ? { channelUsd } : {}),
      totalUsd: this.tally.computeUsd + invocationsUsd + storageRequestsUsd + channelUsd,
    };
  }
}
