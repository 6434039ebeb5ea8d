/**
 * The decision in words and figures: the reason sentence, the runner-up, the intervals the
 * explanation and the estimate report (two-sided 90%), the plan as segments, the GP's state.
 */
import type { FittedModel } from './fit.js';
import { type Group, metric, type Option, type Plan } from './groups.js';
import type { Probe } from './probe.js';
import { feasible, type SearchResult } from './search.js';
import type { Setting } from './setting.js';
import { normalQuantile } from './stats.js';
import type { ConfigPrediction, Explanation, Interval, PlanSegment, Trigger } from './types.js';
import { fmt, fmtS } from './wording.js';

/** Two-sided 90% intervals in reports. */
const Z90 = normalQuantile(0.95);

/** The best other configuration for this epoch, the rest of the plan unchanged: feasible first, then by the objective. */
export function runnerUp(setting: Setting, groups: Group[], plan: Plan, level: number, deadlineLeft: number, budgetLeft: number): Plan | undefined {
  const levelIndex = Math.max(setting.zLevels.indexOf(level), 0);
  let best: Plan | undefined;
  let bestFeasible = false;
  for (const o of groups[0].options) {
    if (o.key === plan[0].key) continue;
    const alternative = [o, ...plan.slice(1)];
    const isFeasible = feasible(alternative, levelIndex, deadlineLeft, budgetLeft);
    const score = metric(setting, o);
    if (!best || (isFeasible && !bestFeasible) || (isFeasible === bestFeasible && score < metric(setting, best[0]))) {
      best = alternative;
      bestFeasible = isFeasible;
    }
  }
  return best;
}

export function reasonFor(
  setting: Setting,
  fit: FittedModel,
  current: Option,
  plan: Plan,
  result: SearchResult,
  triggers: Trigger[],
  probe: Probe | undefined,
  runnerUp: Plan | undefined,
): string {
  const { objective } = setting.options.constraints;
  const c = current.config;
  const what = `${c.workers} worker${c.workers === 1 ? '' : 's'} × ${c.memoryMb} MB`;
  const unit = (v: number) => (objective === 'cost' ? `$${fmt(v)}` : fmtS(v));
  const why = triggers.includes('drift')
    ? ' after iteration times drifted from prediction'
    : triggers.includes('batch-size-change')
      ? ` as the batch size changes to ${current.perWorkerBatch * c.workers}`
      : triggers.includes('out-of-memory')
        ? ' after a worker ran out of memory'
        : '';
  if (probe && current === probe.option) {
    return `Probing ${what}${why}: its expected saving over the rest of the job (${unit(probe.gain)}) exceeds this epoch's expected extra ${objective} (${unit(Math.max(probe.cost, 0))}).`;
  }
  if (triggers.includes('budget-guard')) {
    return `Running ${what}, the configuration whose next epoch surely fits the budget left${why}.`;
  }
  const remaining = planInterval(fit, plan, 'time');
  const cost = planInterval(fit, plan, 'cost');
  const predicted = `the rest is predicted to take ${fmtS(remaining.expected)} (up to ${fmtS(remaining.high)}) and cost $${fmt(cost.expected)} (up to $${fmt(cost.high)})`;
  if (!result.feasible) {
    return `Running ${what}${why}, the best effort: ${result.advice?.message ?? 'the constraints cannot be met'} (${predicted}).`;
  }
  const best = objective === 'cost' ? 'the cheapest' : 'the fastest';
  const bound = result.binding === 'deadline' ? ' that meets the deadline' : result.binding === 'budget' ? ' within the budget' : '';
  const versus = runnerUp ? `; next best ${runnerUp[0].config.workers} × ${runnerUp[0].config.memoryMb} MB` : '';
  return `Running ${what}${why}, ${best} plan${bound}: ${predicted}${versus}.`;
}

export function configPrediction(fit: FittedModel, option: Option, plan: Plan): ConfigPrediction {
  return {
    workers: option.config.workers,
    memoryMb: option.config.memoryMb,
    sync: option.config.sync,
    iterationS: iterationInterval(option),
    epochS: epochInterval(fit, option, 'timeS'),
    epochCostUsd: epochInterval(fit, option, 'costUsd'),
    remainingS: planInterval(fit, plan, 'time'),
    remainingCostUsd: planInterval(fit, plan, 'cost'),
    observedEpochs: option.observed,
  };
}

export function iterationInterval(o: Option): Interval {
  const sd = Math.hypot(o.sigma, o.noiseSd);
  return {
    expected: o.modelS * Math.exp(o.mu + (sd * sd) / 2),
    low: o.modelS * Math.exp(o.mu - Z90 * sd),
    high: o.modelS * Math.exp(o.mu + Z90 * sd),
  };
}

/** The factor on the fixed costs at the 90 % bounds (its inverse at the low one). */
const overheadSpread = (fit: FittedModel): number => Math.exp(Z90 * fit.overheadSd);

export function epochInterval(fit: FittedModel, o: Option, what: 'timeS' | 'costUsd'): Interval {
  const sd = Math.hypot(o.sigma, o.noiseSd);
  return {
    expected: fit.epochAt(o, o.mu + (sd * sd) / 2)[what],
    low: fit.epochAt(o, o.mu - Z90 * sd, 1 / overheadSpread(fit))[what],
    high: fit.epochAt(o, o.mu + Z90 * sd, overheadSpread(fit))[what],
  };
}

/**
 * Σ over the plan; bounds add up (errors of one model are correlated across groups). The bounds
 * also carry the fixed costs' uncertainty: for a tiny model they are nearly all of its time.
 */
export function planInterval(fit: FittedModel, plan: Plan, what: 'time' | 'cost'): Interval {
  let expected = 0;
  let low = 0;
  let high = 0;
  const spread = overheadSpread(fit);
  for (const o of plan) {
    const pick = (r: number, overheadScale: number) => {
      const e = fit.groupAt(o, r, overheadScale);
      return what === 'time' ? e.timeS : e.costUsd;
    };
    expected += what === 'time' ? o.timeMean : o.costMean;
    low += pick(o.mu - Z90 * o.groupSd, 1 / spread);
    high += pick(o.mu + Z90 * o.groupSd, spread);
  }
  return { expected, low, high };
}

/** The plan as runs of epochs on one configuration and batch size. */
export function segments(plan: Plan, groups: Group[]): PlanSegment[] {
  const segments: PlanSegment[] = [];
  plan.forEach((o, g) => {
    const group = groups[g];
    const last = segments.at(-1);
    if (last && last.batchSize === group.batchSize && last.workers === o.config.workers && last.memoryMb === o.config.memoryMb && last.sync === o.config.sync) {
      last.toEpoch = group.toEpoch;
      return;
    }
    segments.push({
      fromEpoch: group.fromEpoch,
      toEpoch: group.toEpoch,
      batchSize: group.batchSize,
      workers: o.config.workers,
      memoryMb: o.config.memoryMb,
      sync: o.config.sync,
      iterationsPerEpoch: o.iterations,
    });
  });
  return segments;
}

export function gpViews(fit: FittedModel): Explanation['gp'] {
  return [...fit.gps.entries()].map(([sync, gp]) => ({
    sync,
    points: gp.points.length,
    lengthScales: gp.hyperparameters.lengthScales,
    signalSd: gp.hyperparameters.signalSd,
    noiseSd: gp.hyperparameters.noiseSd,
    jitter: gp.jitter,
  }));
}

/** `expected` of the first, bounds spanning both. */
export function widen(a: Interval, b: Interval): Interval {
  return { expected: a.expected, low: Math.min(a.low, b.low), high: Math.max(a.high, b.high) };
}

export function shift(interval: Interval, by: number): Interval {
  return { expected: interval.expected + by, low: interval.low + by, high: interval.high + by };
}
