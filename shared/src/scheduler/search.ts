/**
 * The search: the plan (one option per phase) that minimises the objective within the deadline
 * and the budget left, at the most cautious confidence level that can be met, and when none
 * can, the best effort with advice (the budget the deadline needs, the deadline the budget allows).
 */
import { type Group, metric, type Plan, type Option } from './groups.js';
import type { Setting } from './setting.js';
import type { Advice, BindingConstraint } from './types.js';
import { capitalise, fmt, fmtS } from './wording.js';

export interface SearchResult {
  plan: Plan;
  feasible: boolean;
  /** The z the plan was found at. */
  level: number;
  binding: BindingConstraint;
  advice?: Advice;
}

/**
 * The plan minimising the objective's expected value subject to Σ time ≤ deadline left and
 * Σ cost ≤ budget left, at the highest confidence level that can be met (the requested one,
 * half of it in z, then expected values).
 */
export function search(setting: Setting, groups: Group[], deadlineLeft: number, budgetLeft: number, elapsedS: number, spentUsd: number): SearchResult {
  const { zLevels } = setting;
  const objective = setting.options.constraints.objective;
  for (let level = 0; level < zLevels.length; level++) {
    const plan = optimise(setting, groups, objective, level, deadlineLeft, budgetLeft);
    if (plan && feasible(plan, level, deadlineLeft, budgetLeft)) {
      const result: SearchResult = { plan, feasible: level === 0, level: zLevels[level], binding: binding(setting, groups, level, deadlineLeft, budgetLeft) };
      if (level > 0) result.advice = advice(setting, groups, deadlineLeft, budgetLeft, elapsedS, spentUsd);
      return result;
    }
  }
  // Nothing meets both: respect the budget and finish as early as it allows; if even the
  // cheapest plan overruns it, train as far as the budget goes (the guard stops the run).
  const level = 0;
  const withinBudget = optimise(setting, groups, 'time', level, Infinity, budgetLeft);
  const plan =
    withinBudget && sum(withinBudget, 'cost', level) <= budgetLeft
      ? withinBudget
      : groups.map((g) => g.options.reduce((a, b) => (b.costMean < a.costMean ? b : a)));
  const deadlineMissed = sum(plan, 'time', level) > deadlineLeft;
  return {
    plan,
    feasible: false,
    level: zLevels[level],
    binding: deadlineMissed ? 'deadline' : 'budget',
    advice: advice(setting, groups, deadlineLeft, budgetLeft, elapsedS, spentUsd),
  };
}

/** Σ time or cost over the plan at level index `level`. */
export function sum(plan: Plan, what: 'time' | 'cost', level: number): number {
  let total = 0;
  for (const o of plan) total += what === 'time' ? o.timeAt[level] : o.costAt[level];
  return total;
}

export function feasible(plan: Plan, level: number, deadlineLeft: number, budgetLeft: number): boolean {
  return sum(plan, 'time', level) <= deadlineLeft && sum(plan, 'cost', level) <= budgetLeft;
}

/**
 * Minimises Σ objective subject to the other quantity's limit (deadline for `cost`, budget for
 * `time`) at confidence `level`: a Lagrangian scan (separable per group) for a start, then
 * single-group swaps, which close the gaps a convex relaxation leaves. Returns the best plan
 * meeting the primary limit, or undefined when none does.
 */
export function optimise(
  setting: Setting,
  groups: Group[],
  objective: 'time' | 'cost',
  level: number,
  deadlineLeft: number,
  budgetLeft: number,
): Plan | undefined {
  const value = (o: Option) => (objective === 'cost' ? o.costScore : o.timeScore);
  const constrained = (o: Option) => (objective === 'cost' ? o.timeAt[level] : o.costAt[level]);
  const limit = objective === 'cost' ? deadlineLeft : budgetLeft;
  const secondary = (o: Option) => (objective === 'cost' ? o.costAt[level] : o.timeAt[level]);
  const secondaryLimit = objective === 'cost' ? budgetLeft : deadlineLeft;
  const total = (plan: Plan, f: (o: Option) => number) => plan.reduce((a, o) => a + f(o), 0);
  const ok = (plan: Plan) => total(plan, constrained) <= limit;
  const better = (a: Plan, b: Plan | undefined) => {
    if (!b) return true;
    // Prefer meeting the secondary limit, then the objective.
    const aSecondary = total(a, secondary) <= secondaryLimit;
    const bSecondary = total(b, secondary) <= secondaryLimit;
    if (aSecondary !== bSecondary) return aSecondary;
    return total(a, value) < total(b, value) - 1e-12;
  };
  const pick = (lambda: number): Plan =>
    groups.map((g) => {
      let best = g.options[0];
      let bestScore = value(best) + lambda * constrained(best);
      for (const o of g.options) {
        const score = value(o) + lambda * constrained(o);
        // Exact ties (rare) are broken by the injected random source, never by option order alone.
        if (score < bestScore || (score === bestScore && o !== best && setting.options.random() < 0.5)) {
          best = o;
          bestScore = score;
        }
      }
      return best;
    });
  let best: Plan | undefined;
  const free = pick(0);
  if (ok(free)) best = free;
  if (!best || total(best, secondary) > secondaryLimit) {
    const scale = Math.max(total(free, value), 1e-12) / Math.max(total(free, constrained), 1e-12);
    for (let k = -16; k <= 24; k++) {
      const plan = pick(scale * 10 ** (k / 4));
      if (ok(plan) && better(plan, best)) best = plan;
    }
  }
  if (!best) return undefined;
  // Swaps: any single-group change that keeps the limit and improves.
  for (let pass = 0; pass < 3; pass++) {
    let improved = false;
    for (let g = 0; g < groups.length; g++) {
      for (const o of groups[g].options) {
        if (o === best[g]) continue;
        const plan = best.slice();
        plan[g] = o;
        if (ok(plan) && better(plan, best)) {
          best = plan;
          improved = true;
        }
      }
    }
    if (!improved) break;
  }
  return best;
}

/** Which limit the unconstrained best plan would break at this level. */
function binding(setting: Setting, groups: Group[], level: number, deadlineLeft: number, budgetLeft: number): BindingConstraint {
  const free = groups.map((g) => g.options.reduce((a, b) => (metric(setting, b) < metric(setting, a) ? b : a)));
  if (sum(free, 'time', level) > deadlineLeft) return 'deadline';
  if (sum(free, 'cost', level) > budgetLeft) return 'budget';
  return 'none';
}

function advice(setting: Setting, groups: Group[], deadlineLeft: number, budgetLeft: number, elapsedS: number, spentUsd: number): Advice {
  const level = 0;
  const parts: string[] = [];
  const advice: Advice = { message: '' };
  const { deadlineS, budgetUsd } = setting.options.constraints;
  if (Number.isFinite(deadlineLeft)) {
    const cheapestInTime = optimise(setting, groups, 'cost', level, deadlineLeft, Infinity);
    if (cheapestInTime) {
      advice.budgetNeededUsd = spentUsd + sum(cheapestInTime, 'cost', level);
      if (budgetUsd === undefined || advice.budgetNeededUsd > budgetUsd) {
        parts.push(`meeting the ${fmtS(deadlineS!)} deadline needs a budget of $${fmt(advice.budgetNeededUsd)}`);
      }
    } else {
      const fastest = groups.map((g) => g.options.reduce((a, b) => (b.timeAt[level] < a.timeAt[level] ? b : a)));
      advice.earliestDeadlineS = elapsedS + sum(fastest, 'time', level);
      advice.budgetNeededUsd = spentUsd + sum(fastest, 'cost', level);
      parts.push(`no configuration meets the ${fmtS(deadlineS!)} deadline; the fastest plan needs ${fmtS(advice.earliestDeadlineS)} and $${fmt(advice.budgetNeededUsd)}`);
    }
  }
  if (Number.isFinite(budgetLeft)) {
    const fastestInBudget = optimise(setting, groups, 'time', level, Infinity, budgetLeft);
    if (fastestInBudget) {
      const earliest = elapsedS + sum(fastestInBudget, 'time', level);
      if (advice.earliestDeadlineS === undefined || earliest > advice.earliestDeadlineS) advice.earliestDeadlineS = earliest;
      if (deadlineS === undefined || earliest > deadlineS) parts.push(`the $${fmt(budgetUsd!)} budget allows a deadline of ${fmtS(earliest)} at the earliest`);
    } else {
      const cheapest = groups.map((g) => g.options.reduce((a, b) => (b.costAt[level] < a.costAt[level] ? b : a)));
      const needed = spentUsd + sum(cheapest, 'cost', level);
      advice.budgetNeededUsd = Math.max(advice.budgetNeededUsd ?? 0, needed);
      parts.push(`the $${fmt(budgetUsd!)} budget cannot cover the job: the cheapest plan costs $${fmt(needed)}`);
    }
  }
  advice.message = parts.length > 0 ? `${capitalise(parts.join('; '))}.` : 'The constraints hold only at expected values, not with the safety margin.';
  return advice;
}
