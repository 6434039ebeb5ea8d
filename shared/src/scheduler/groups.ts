/**
 * The remaining epochs in phases of equal batch size, and for each phase every candidate
 * configuration with its predicted time and cost over the phase at each confidence level the
 * search may plan at: the options one plan picks from.
 */
import { type Config, configKey, type IterationParts } from './analytical.js';
import { type Candidates, iterationsOf } from './candidates.js';
import type { FittedModel } from './fit.js';
import type { History } from './history.js';
import { batchSizeOf, type Setting } from './setting.js';

/** Index in Option.timeAt/costAt of the level that ignores the GP's uncertainty (estimate()'s expected outcome). */
export const CONVERGED = 3;
/** Weight of the other quantity in the objective, relative (see planGroups()). */
const TIE_BREAK = 0.05;
/** Share of the GP's uncertainty later phases keep: they are re-planned once this phase is seen. */
const LATER_GP_SHARE = 0.5;

/** One configuration evaluated for a group of consecutive epochs with the same batch size. */
export interface Option {
  config: Config;
  key: string;
  iterations: number;
  perWorkerBatch: number;
  parts: IterationParts;
  /** Calibrated analytical iteration time. */
  modelS: number;
  /** GP residual on log iteration time. */
  mu: number;
  sigma: number;
  noiseSd: number;
  switched: boolean;
  /** sd of the group's mean log residual: model uncertainty + per-epoch noise averaged over the group. */
  groupSd: number;
  epochs: number;
  timeMean: number;
  costMean: number;
  /** The objectives with a tie-breaker: between near-equal costs prefer the faster, and vice versa. */
  costScore: number;
  timeScore: number;
  /**
   * [level] → totals over the group at that z. The current phase carries the GP's whole
   * uncertainty; later phases (another batch size) part of it, since they are re-planned once
   * the current phase is seen.
   */
  timeAt: number[];
  costAt: number[];
  observed: number;
}

export interface Group {
  fromEpoch: number;
  toEpoch: number;
  epochs: number;
  batchSize: number;
  options: Option[];
  byKey: Map<string, Option>;
}

/** One option per group. */
export type Plan = Option[];

/** The objective's score of an option (with its tie-breaker). */
export function metric(setting: Setting, o: Option): number {
  return setting.options.constraints.objective === 'cost' ? o.costScore : o.timeScore;
}

/**
 * The remaining epochs from `epoch` in phases of equal batch size; the plan runs one
 * configuration per phase (a fixed allocation within a phase, re-planned every epoch), so it
 * never defers risk to the end of the job. Probes are one-epoch deviations from it (probe.ts).
 */
export function planGroups(setting: Setting, fit: FittedModel, history: History, candidates: Candidates, epoch: number): Group[] {
  const { epochs } = setting.options.workload;
  const spans: Array<{ from: number; to: number; batch: number }> = [{ from: epoch, to: epoch, batch: batchSizeOf(setting, epoch) }];
  // Before anything is observed every configuration is equally unknown, and most of that
  // uncertainty (the model's overall scale) goes with the first epoch: it stands alone, and the
  // rest of its phase is planned as a later phase.
  const firstAlone = !history.all.some((o) => !o.outOfMemory);
  for (let e = epoch + 1; e < epochs; e++) {
    const batch = batchSizeOf(setting, e);
    const last = spans.at(-1)!;
    if (last.batch === batch && !(firstAlone && spans.length === 1)) last.to = e;
    else spans.push({ from: e, to: e, batch });
  }
  const last = history.lastConfig();
  const groups = spans.map(({ from, to, batch }, index) => {
    const count = to - from + 1;
    const options = candidates
      .for(batch, history.outOfMemory())
      .map((config) => optionFor(setting, fit, history, config, batch, count, last, index === 0))
      .filter((o): o is Option => o !== undefined);
    return { fromEpoch: from, toEpoch: to, epochs: count, batchSize: batch, options, byKey: new Map(options.map((o) => [o.key, o])) };
  });
  // Tie-breakers worth TIE_BREAK of the objective: a 50% slower plan must save more than ~1% to win.
  const first = groups[0].options;
  if (first.length > 0) {
    const minCost = Math.min(...first.map((o) => o.costMean));
    const minTime = Math.min(...first.map((o) => o.timeMean));
    for (const group of groups) {
      for (const o of group.options) {
        o.costScore = o.costMean + (TIE_BREAK * minCost * o.timeMean) / minTime;
        o.timeScore = o.timeMean + (TIE_BREAK * minTime * o.costMean) / minCost;
      }
    }
  }
  return groups;
}

function optionFor(
  setting: Setting,
  fit: FittedModel,
  history: History,
  config: Config,
  batchSize: number,
  epochs: number,
  last: Config | undefined,
  first: boolean,
): Option | undefined {
  const { model, zPlan, zLevels, timeLimitS, safetyMarginS } = setting;
  const samples = setting.options.workload.samplesPerEpoch;
  const perWorkerBatch = batchSize / config.workers;
  const parts = model.iteration(config, perWorkerBatch, fit.calibration);
  const modelS = parts.computeS + parts.syncS;
  const gp = fit.gps.get(config.sync)!;
  const key = configKey(config);
  const { mean, sd } = fit.residual(config);
  const noiseSd = Math.max(gp.hyperparameters.noiseSd, fit.epochNoiseSd);
  const groupSd = Math.sqrt(sd * sd + (noiseSd * noiseSd) / epochs);
  // One iteration must fit an invocation with room for the worker to checkpoint (lambda-worker's handler).
  if (modelS * Math.exp(mean + zPlan * groupSd) > (timeLimitS - safetyMarginS) / 2) return undefined;
  const option: Option = {
    config,
    key,
    iterations: iterationsOf(samples, config.workers, batchSize),
    perWorkerBatch,
    parts,
    modelS,
    mu: mean,
    sigma: sd,
    noiseSd,
    // Before launch every configuration starts cold in the first group; later groups are
    // taken to continue the first one's configuration (the groups are chosen independently,
    // so a plan that changes configuration after the first epoch is costed one cold start short).
    switched: last === undefined ? first : configKey(last) !== key,
    groupSd,
    epochs,
    timeMean: 0,
    costMean: 0,
    costScore: 0,
    timeScore: 0,
    timeAt: [],
    costAt: [],
    observed: history.observedEpochs(key),
  };
  const mean1 = fit.groupAt(option, mean + (groupSd * groupSd) / 2);
  option.timeMean = mean1.timeS;
  option.costMean = mean1.costUsd;
  const levelSd = first ? groupSd : Math.hypot(LATER_GP_SHARE * sd, noiseSd / Math.sqrt(epochs));
  for (const z of zLevels) {
    option.timeAt.push(fit.groupAt(option, mean + z * levelSd).timeS);
    // Money spent cannot be won back by re-planning as time can (by scaling out): the budget
    // is held to the GP's whole uncertainty in every phase.
    option.costAt.push(fit.groupAt(option, mean + z * groupSd).costUsd);
  }
  // CONVERGED: the requested confidence on the epoch noise alone, as if every configuration were known.
  const known = fit.groupAt(option, mean + zPlan * (noiseSd / Math.sqrt(epochs)));
  option.timeAt.push(known.timeS);
  option.costAt.push(known.costUsd);
  return option;
}
