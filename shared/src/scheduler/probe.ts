/**
 * Probing: whether to spend this epoch on a configuration the model is unsure of, because what
 * it may save over the rest of the job (expected improvement under the GP, by quadrature) beats
 * what the epoch is expected to cost beyond the plan's choice.
 */
import type { FittedModel } from './fit.js';
import { type Group, metric, type Option, type Plan } from './groups.js';
import type { History } from './history.js';
import { sum } from './search.js';
import type { Setting } from './setting.js';
import { NORMAL_QUADRATURE } from './stats.js';

/** A config whose residual sd is below this is considered known: no point probing it. */
const KNOWN_SD = 0.04;
/** A probe must be expected to gain at least this share of the rest of the job's objective, net of its cost. */
const MIN_PROBE_GAIN = 0.01;

export interface Probe {
  option: Option;
  /** Expected saving over the rest of the job. */
  gain: number;
  /** Expected extra objective of this epoch. */
  cost: number;
}

export interface ProbeState {
  used: number;
  /** The configuration probed last epoch (not probed twice in a row). */
  lastKey: string | undefined;
}

/**
 * The exploratory configuration for this epoch with the largest expected net gain: the
 * expected saving if it turns out better and is used for the rest of the job, less what running
 * this one epoch on it is expected to cost more than the plan's choice. None when no net gain
 * clears MIN_PROBE_GAIN, when the probe could break a constraint, or when the probes are spent.
 */
export function bestProbe(
  setting: Setting,
  fit: FittedModel,
  history: History,
  state: ProbeState,
  groups: Group[],
  plan: Plan,
  level: number,
  deadlineLeft: number,
  budgetLeft: number,
): Probe | undefined {
  const { zLevels } = setting;
  const current = plan[0];
  const k = groups[0].epochs;
  const epochsLeft = groups.reduce((a, g) => a + g.epochs, 0);
  if (state.used >= setting.maxProbes || epochsLeft < 2) return undefined;
  if (!history.all.some((o) => o.sync === current.config.sync && !o.outOfMemory)) return undefined;
  const L = Math.max(zLevels.indexOf(level), 0);
  const objectiveCost = setting.options.constraints.objective === 'cost';
  // Per epoch of the current phase on the plan's configuration.
  const perEpoch = { time: current.timeAt[L] / k, cost: current.costAt[L] / k, metric: metric(setting, current) / k };
  const laterTime = sum(plan.slice(1), 'time', L);
  const laterCost = sum(plan.slice(1), 'cost', L);
  const restTime = (k - 1) * perEpoch.time + laterTime;
  const restCost = (k - 1) * perEpoch.cost + laterCost;
  const restMetric = (k - 1) * perEpoch.metric + plan.slice(1).reduce((a, o) => a + (objectiveCost ? o.costMean : o.timeMean), 0);
  const z = zLevels[L];
  let best: Probe | undefined;
  for (const candidate of groups[0].options) {
    if (candidate.key === current.key || candidate.sigma < KNOWN_SD || candidate.key === state.lastKey) continue;
    const hi = fit.epochAt(candidate, candidate.mu + z * Math.hypot(candidate.sigma, candidate.noiseSd));
    if (hi.timeS + restTime > deadlineLeft || hi.costUsd + restCost > budgetLeft) continue;
    const cost = metric(setting, candidate) / k - perEpoch.metric;
    const slack = { s: deadlineLeft - hi.timeS - restTime, usd: budgetLeft - hi.costUsd - restCost };
    let gain = 0;
    for (const [node, weight] of NORMAL_QUADRATURE) {
      gain += weight * restGain(setting, fit, groups, plan, candidate, candidate.mu + candidate.sigma * node, { ...slack }, L);
    }
    const net = gain - cost;
    if (net > MIN_PROBE_GAIN * restMetric && (!best || net > best.gain - best.cost)) best = { option: candidate, gain, cost };
  }
  return best;
}

/**
 * What running `candidate`'s configuration (true log residual r) instead of the plan's saves
 * over the rest of the job after the probe: the current phase's other epochs and later phases
 * where the configuration exists, as far as the slack allows the change.
 */
function restGain(setting: Setting, fit: FittedModel, groups: Group[], plan: Plan, candidate: Option, r: number, slack: { s: number; usd: number }, L: number): number {
  const objectiveCost = setting.options.constraints.objective === 'cost';
  let gain = 0;
  for (let g = 0; g < groups.length; g++) {
    const same = g === 0 ? candidate : groups[g].byKey.get(candidate.key);
    const epochs = g === 0 ? groups[0].epochs - 1 : groups[g].epochs;
    if (!same || epochs <= 0) continue;
    const planned = plan[g];
    const at = fit.epochAt(same, r);
    const hi = fit.epochAt(same, r + setting.zLevels[L] * (same.noiseSd / Math.sqrt(epochs)));
    const plannedMean = (objectiveCost ? planned.costMean : planned.timeMean) / planned.epochs;
    const saving = epochs * (plannedMean - (objectiveCost ? at.costUsd : at.timeS));
    const extraS = epochs * (hi.timeS - planned.timeAt[L] / planned.epochs);
    const extraUsd = epochs * (hi.costUsd - planned.costAt[L] / planned.epochs);
    if (saving > 0 && extraS <= slack.s && extraUsd <= slack.usd) {
      gain += saving;
      slack.s -= Math.max(extraS, 0);
      slack.usd -= Math.max(extraUsd, 0);
    }
  }
  return gain;
}
