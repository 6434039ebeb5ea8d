/**
 * The user's deadline and budget as the planner holds them: what is left to plan with, what the
 * plan keeps back for the budget guard, and the guard itself, the last check before an epoch
 * starts (an epoch once started runs to its end: it is the unit of checkpointing).
 */
import type { FittedModel } from './fit.js';
import { type Group, metric, type Option } from './groups.js';
import type { Setting } from './setting.js';
import { normalQuantile } from './stats.js';

/** The budget guard is stricter than planning: it is the last line before an overrun. */
const GUARD_CONFIDENCE = 0.995;
/**
 * On top of the 99.5% bound the guard absorbs a sudden slowdown of this size, which no model
 * fitted to the past predicts (together ≈ +35-40% on a sync-bound epoch, the simulator's drift
 * with bad weather).
 */
const GUARD_SLOWDOWN = 1.2;
/** Share of one epoch's cost the plan keeps back for the guard's stricter bound (see planningBudget). */
const GUARD_EPOCH_SHARE = 0.35;
/** Share of the remaining budget kept back by the guard. */
const GUARD_RESERVE = 0.01;
/** Share of the deadline left kept back when planning: epochs vary beyond the iteration-time model (failures, cold starts). */
const DEADLINE_RESERVE = 0.02;

/** Time and money left to plan with (the deadline less a small reserve). */
export function left(setting: Setting, elapsedS: number, spentUsd: number): { deadlineLeft: number; budgetLeft: number } {
  const { deadlineS, budgetUsd } = setting.options.constraints;
  return {
    deadlineLeft: deadlineS === undefined ? Infinity : (deadlineS - elapsedS) * (1 - DEADLINE_RESERVE),
    budgetLeft: budgetUsd === undefined ? Infinity : budgetUsd - spentUsd,
  };
}

/**
 * The budget left less what the guard will want on top of the plan's bound for the job's last
 * epoch (its 99.5% bound and GUARD_SLOWDOWN against the plan's confidence): without it a plan
 * that spends the budget exactly is stopped by the guard one epoch short.
 */
export function planningBudget(groups: Group[], budgetLeft: number): number {
  if (!Number.isFinite(budgetLeft)) return budgetLeft;
  const last = groups.at(-1)!;
  if (last.options.length === 0) return budgetLeft;
  const cheapestEpoch = Math.min(...last.options.map((o) => o.costMean / o.epochs));
  return budgetLeft - GUARD_EPOCH_SHARE * cheapestEpoch;
}

export type GuardVerdict =
  | { kind: 'fits' }
  /** The chosen epoch could overrun; this one cannot. */
  | { kind: 'replace'; option: Option }
  /** No configuration's next epoch surely fits: stop. */
  | { kind: 'stop'; cheapestUsd: number };

/** Whether the next epoch on `current` fits the budget left at the guard's confidence, and what to run instead if not. */
export function guardNextEpoch(setting: Setting, fit: FittedModel, options: Option[], current: Option, budgetLeft: number): GuardVerdict {
  if (!Number.isFinite(budgetLeft)) return { kind: 'fits' };
  const guardZ = normalQuantile(GUARD_CONFIDENCE);
  const allowance = budgetLeft - GUARD_RESERVE * (setting.options.constraints.budgetUsd ?? 0);
  const guardCost = (o: Option) => fit.epochAt(o, o.mu + guardZ * Math.hypot(o.sigma, o.noiseSd) + Math.log(GUARD_SLOWDOWN)).costUsd;
  if (guardCost(current) <= allowance) return { kind: 'fits' };
  const affordable = options.filter((o) => guardCost(o) <= allowance);
  if (affordable.length === 0) return { kind: 'stop', cheapestUsd: Math.min(...options.map(guardCost)) };
  return { kind: 'replace', option: affordable.reduce((a, b) => (metric(setting, b) < metric(setting, a) ? b : a)) };
}
