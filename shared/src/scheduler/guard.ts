/**
 * The budget guard (DESIGN.md, "Deadlines and budgets"): before each epoch, whether running it
 * could take the spend over the budget. The planner applies the same rule inside `next()` with
 * its own prediction (at 99.5% confidence); this standalone form is for callers with their own
 * estimate of the next step, e.g. an orchestrator checking before a re-invocation.
 */
import type { Interval } from './types.js';

export interface BudgetGuardInput {
  spentUsd: number;
  budgetUsd: number;
  /** The next epoch's (or step's) cost: a number, or an interval whose `high` is used. */
  nextCostUsd: number | Interval;
  /** Kept back on top of the next cost (default 1% of the budget). */
  reserveUsd?: number;
}

export interface BudgetGuardVerdict {
  proceed: boolean;
  /** Budget left after the next step at its high estimate and the reserve (negative when it would not fit). */
  headroomUsd: number;
  reason: string;
}

export function budgetGuard(input: BudgetGuardInput): BudgetGuardVerdict {
  const next = typeof input.nextCostUsd === 'number' ? input.nextCostUsd : input.nextCostUsd.high;
  const reserve = input.reserveUsd ?? 0.01 * input.budgetUsd;
  const headroomUsd = input.budgetUsd - input.spentUsd - next - reserve;
  const money = (v: number) => `$${v.toFixed(v >= 1 ? 2 : 4)}`;
  return headroomUsd >= 0
    ? { proceed: true, headroomUsd, reason: `The next step (up to ${money(next)}) fits: ${money(input.spentUsd)} spent of ${money(input.budgetUsd)}.` }
    : {
        proceed: false,
        headroomUsd,
        reason: `Stop before the budget is exceeded: ${money(input.spentUsd)} spent of ${money(input.budgetUsd)}, and the next step could cost up to ${money(next)}.`,
      };
}
