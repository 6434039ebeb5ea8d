/**
 * Which channel gradients go through — the run's store (S3: billed per request, tens of ms per
 * round trip) or an in-memory Redis channel (billed per GB moved and per hour, sub-millisecond) —
 * chosen with the worker count and memory: one planner per channel searches (n, m) under the same
 * deadline and budget, and the channel whose best plan scores better on the objective wins.
 */
import { REDIS_CHANNEL_PRICES } from '../cost/prices.js';
import { REDIS_NETWORK } from './analytical.js';
import { type Planner, createPlanner } from './planner.js';
import type { Estimate, PlannerOptions } from './types.js';

export type ChannelName = 'store' | 'redis';

/** What a channel changes in the planner's view of the platform. */
export function channelPlatform(channel: ChannelName): Pick<PlannerOptions['platform'], 'network' | 'channel'> {
  return channel === 'redis' ? { network: REDIS_NETWORK, channel: REDIS_CHANNEL_PRICES } : {};
}

export interface ChannelChoice {
  channel: ChannelName;
  planner: Planner;
  /** Each candidate channel's best plan. */
  estimates: Record<ChannelName, Estimate | undefined>;
  /** Why, in one sentence. */
  reason: string;
}

export function chooseChannel(base: PlannerOptions, candidates: readonly ChannelName[] = ['store', 'redis']): ChannelChoice {
  const options = candidates.map((channel) => {
    const planner = createPlanner({ ...base, platform: { ...base.platform, ...channelPlatform(channel) } });
    return { channel, planner, estimate: planner.estimate() };
  });
  const objective = base.constraints.objective;
  const score = (e: Estimate) => (objective === 'cost' ? e.costUsd.expected : e.timeS.expected);
  const ranked = [...options].sort((a, b) => Number(b.estimate.feasible) - Number(a.estimate.feasible) || score(a.estimate) - score(b.estimate));
  const best = ranked[0]!;
  const runnerUp = ranked[1];
  const estimates = { store: undefined, redis: undefined } as Record<ChannelName, Estimate | undefined>;
  for (const o of options) estimates[o.channel] = o.estimate;
  return { channel: best.channel, planner: best.planner, estimates, reason: reasonFor(best, runnerUp, objective) };
}

function reasonFor(
  best: { channel: ChannelName; estimate: Estimate },
  other: { channel: ChannelName; estimate: Estimate } | undefined,
  objective: 'time' | 'cost',
): string {
  const describe = (c: { channel: ChannelName; estimate: Estimate }) => {
    const plan = c.estimate.plan[0];
    const shape = plan ? `${plan.workers} × ${plan.memoryMb} MB` : 'no plan';
    return `${c.channel === 'redis' ? 'Redis' : 'the store'} (${shape}): ${formatS(c.estimate.timeS.expected)}, $${c.estimate.costUsd.expected.toFixed(4)}`;
  };
  if (!other) return `Gradients go through ${describe(best)}, the only channel available.`;
  if (best.estimate.feasible && !other.estimate.feasible) {
    return `Gradients go through ${describe(best)}: only it meets the deadline and budget (${describe(other)}).`;
  }
  const what = objective === 'cost' ? 'cheaper' : 'faster';
  return `Gradients go through ${describe(best)}, ${what} than ${describe(other)}.`;
}

function formatS(seconds: number): string {
  return seconds < 120 ? `${seconds.toFixed(0)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(1)} min` : `${(seconds / 3600).toFixed(1)} h`;
}
