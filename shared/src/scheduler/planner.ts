/**
 * The adaptive planner: Bayesian optimisation over (workers, memory[, sync]) under a deadline and
 * a budget. See `index.ts` for the API and the algorithm in words. Each decision reads as its
 * steps: what was observed (history.ts), the model fitted to it (fit.ts), the options per phase
 * (candidates.ts, groups.ts), the search within the constraints (search.ts, constraints.ts), a
 * probe (probe.ts), the budget guard (constraints.ts), and the explanation (explain.ts).
 */
import { UNCALIBRATED } from './analytical.js';
import { Candidates } from './candidates.js';
import { guardNextEpoch, left, planningBudget } from './constraints.js';
import { configPrediction, epochInterval, gpViews, iterationInterval, planInterval, reasonFor, runnerUp, segments, shift, widen } from './explain.js';
import { FittedModel } from './fit.js';
import { CONVERGED, type Group, planGroups } from './groups.js';
import { History, steadyIterationSeconds, type StoredObservation } from './history.js';
import { bestProbe, type ProbeState } from './probe.js';
import { feasible, optimise, search, type SearchResult } from './search.js';
import { batchSizeOf, plannerSetting, type Setting } from './setting.js';
import { normalCdf } from './stats.js';
import type { Decision, EpochObservation, Estimate, Explanation, PlannerOptions, Progress, Trigger } from './types.js';
import { fmt } from './wording.js';

export interface Planner {
  /** Records what an epoch showed (call once per finished epoch, in order). */
  observe(observation: EpochObservation): void;
  /** The configuration of the next epoch, or `stop` (all epochs done, or the budget guard). */
  next(progress?: Progress): Decision;
  /** Why the last decision was made; undefined before the first `next()`. */
  explain(): Explanation | undefined;
  /** Predicted time and cost of the whole job from here, with the plan and advice when infeasible. */
  estimate(progress?: Progress): Estimate;
}

export function createPlanner(options: PlannerOptions): Planner {
  return new BayesianPlanner(options);
}

class BayesianPlanner implements Planner {
  private readonly setting: Setting;
  private readonly history = new History();
  private readonly candidates: Candidates;
  private readonly probes: ProbeState = { used: 0, lastKey: undefined };
  private fitCache: FittedModel | undefined;
  private lastExplanation: Explanation | undefined;

  constructor(private readonly options: PlannerOptions) {
    this.setting = plannerSetting(options);
    this.candidates = new Candidates(this.setting);
  }

  observe(observation: EpochObservation): void {
    if (!(observation.workers >= 1) || !(observation.iterations >= 0) || !(observation.durationS >= 0)) {
      throw new RangeError(`Invalid observation: ${JSON.stringify(observation)}`);
    }
    const stored: StoredObservation = {
      ...observation,
      sync: observation.sync ?? this.setting.strategies[0],
      batchSize: observation.batchSize ?? batchSizeOf(this.setting, observation.epoch),
    };
    const before = this.fit();
    const observedS = steadyIterationSeconds(stored, this.setting.model);
    if (!stored.outOfMemory && observedS !== undefined) {
      const predicted = before.predictIteration(stored, stored.batchSize);
      stored.predictedIterationS = predicted.meanS;
      // Drift: a configuration the model knew well came out > threshold off (DESIGN.md: > 20%).
      const deviation = Math.abs(observedS / predicted.meanS - 1);
      if (this.history.all.length > 0 && predicted.sigma < 0.12 && deviation > this.setting.driftThreshold) this.history.markDrift();
    }
    this.history.add(stored);
    this.fitCache = undefined;
  }

  next(progress?: Progress): Decision {
    const { setting } = this;
    const epoch = this.history.nextEpoch();
    const { elapsedS, spentUsd } = progress ?? this.history.progress();
    const triggers = this.history.takeTriggers(epoch, this.options.workload.epochs, (e) => batchSizeOf(setting, e));
    if (epoch >= this.options.workload.epochs) return this.stopDecision(epoch, 'done', triggers, 'All epochs are done.', undefined);
    const fit = this.fit();
    const groups = planGroups(setting, fit, this.history, this.candidates, epoch);
    if (groups[0].options.length === 0) {
      return this.stopDecision(
        epoch,
        'no-fit',
        triggers,
        `No configuration fits: the model needs more memory than ${setting.range[1]} MB per worker at every worker count, or an iteration would outlast the ${setting.timeLimitS} s limit.`,
        fit,
      );
    }
    const { deadlineLeft, budgetLeft } = left(setting, elapsedS, spentUsd);
    const result = search(setting, groups, deadlineLeft, planningBudget(groups, budgetLeft), elapsedS, spentUsd);
    let plan = result.plan;
    let current = plan[0];

    // Probing: an exploratory epoch when its expected saving over the rest of the job beats its expected extra cost.
    const probe = result.feasible ? bestProbe(setting, fit, this.history, this.probes, groups, plan, result.level, deadlineLeft, budgetLeft) : undefined;
    if (probe) {
      current = probe.option;
      plan = [probe.option, ...plan.slice(1)];
    }

    // Budget guard: the next epoch must fit the budget left at the guard's confidence.
    const guard = guardNextEpoch(setting, fit, groups[0].options, current, budgetLeft);
    if (guard.kind !== 'fits') triggers.push('budget-guard');
    if (guard.kind === 'stop') {
      const reason = `Stopping before the budget is exceeded: $${fmt(spentUsd)} spent of $${fmt(spentUsd + budgetLeft)}, and the next epoch could cost up to $${fmt(guard.cheapestUsd)}.`;
      return this.stopDecision(epoch, 'budget', triggers, reason, fit, result, groups);
    }
    if (guard.kind === 'replace') {
      current = guard.option;
      plan = [current, ...plan.slice(1)];
    }
    const probing = probe !== undefined && current === probe.option;
    if (probing) this.probes.used++;
    this.probes.lastKey = probing ? current.key : undefined;

    const second = runnerUp(setting, groups, plan, result.level, deadlineLeft, budgetLeft);
    const reason = reasonFor(setting, fit, current, plan, result, triggers, probe, second);
    this.lastExplanation = {
      epoch,
      decidedAtMs: this.options.now(),
      action: 'run',
      triggers,
      observations: this.history.views(setting.model),
      calibration: fit.calibration,
      gp: gpViews(fit),
      chosen: configPrediction(fit, current, plan),
      ...(second ? { runnerUp: configPrediction(fit, second[0], second) } : {}),
      binding: result.binding,
      feasible: result.feasible,
      confidence: normalCdf(result.level),
      probes: {
        used: this.probes.used,
        max: setting.maxProbes,
        ...(probe ? { expectedGain: probe.gain, probeCost: probe.cost } : {}),
      },
      ...(result.advice ? { advice: result.advice } : {}),
      reason,
    };
    return {
      action: 'run',
      epoch,
      workers: current.config.workers,
      memoryMb: current.config.memoryMb,
      sync: current.config.sync,
      batchSize: groups[0].batchSize,
      iterations: current.iterations,
      probe: probing,
      reason,
      predicted: {
        iterationS: iterationInterval(current),
        epochS: epochInterval(fit, current, 'timeS'),
        epochCostUsd: epochInterval(fit, current, 'costUsd'),
      },
    };
  }

  explain(): Explanation | undefined {
    return this.lastExplanation;
  }

  estimate(progress?: Progress): Estimate {
    const { setting } = this;
    const epoch = Math.min(this.history.nextEpoch(), this.options.workload.epochs);
    const { elapsedS, spentUsd } = progress ?? this.history.progress();
    if (epoch >= this.options.workload.epochs) {
      const done = { expected: 0, low: 0, high: 0 };
      return { feasible: true, confidence: 1, timeS: shift(done, elapsedS), costUsd: shift(done, spentUsd), remainingS: done, remainingCostUsd: done, plan: [], binding: 'none' };
    }
    const fit = this.fit();
    const groups = planGroups(setting, fit, this.history, this.candidates, epoch);
    const { deadlineLeft, budgetLeft } = left(setting, elapsedS, spentUsd);
    if (groups[0].options.length === 0) {
      const none = { expected: Infinity, low: Infinity, high: Infinity };
      return {
        feasible: false,
        confidence: 0,
        timeS: none,
        costUsd: none,
        remainingS: none,
        remainingCostUsd: none,
        plan: [],
        binding: 'none',
        advice: { message: `No configuration fits the model within ${setting.range[1]} MB per worker.` },
      };
    }
    const budget = planningBudget(groups, budgetLeft);
    const result = search(setting, groups, deadlineLeft, budget, elapsedS, spentUsd);
    // The expected outcome of the adaptive policy: it learns the configurations as it runs and
    // moves toward the plan it would choose if it knew them (the committed plan keeps a margin for
    // what it does not know yet). The interval spans both.
    const learned = optimise(setting, groups, this.options.constraints.objective, CONVERGED, deadlineLeft, budget);
    const expectedPlan = learned && feasible(learned, CONVERGED, deadlineLeft, budget) ? learned : result.plan;
    const remainingS = widen(planInterval(fit, expectedPlan, 'time'), planInterval(fit, result.plan, 'time'));
    const remainingCostUsd = widen(planInterval(fit, expectedPlan, 'cost'), planInterval(fit, result.plan, 'cost'));
    return {
      feasible: result.feasible,
      confidence: normalCdf(result.level),
      timeS: shift(remainingS, elapsedS),
      costUsd: shift(remainingCostUsd, spentUsd),
      remainingS,
      remainingCostUsd,
      plan: segments(result.plan, groups),
      binding: result.binding,
      ...(result.advice ? { advice: result.advice } : {}),
    };
  }

  /** The fit to the observations so far (refitted after each observation). */
  private fit(): FittedModel {
    this.fitCache ??= FittedModel.fit(this.setting, this.history);
    return this.fitCache;
  }

  private stopDecision(
    epoch: number,
    why: NonNullable<Decision['stop']>,
    triggers: Trigger[],
    reason: string,
    fit: FittedModel | undefined,
    result?: SearchResult,
    groups?: Group[],
  ): Decision {
    const last = this.history.all.at(-1);
    const zero = { expected: 0, low: 0, high: 0 };
    const decision: Decision = {
      action: 'stop',
      stop: why,
      epoch,
      workers: last?.workers ?? 0,
      memoryMb: last?.memoryMb ?? 0,
      sync: last?.sync ?? this.setting.strategies[0],
      batchSize: epoch < this.options.workload.epochs ? batchSizeOf(this.setting, epoch) : last?.batchSize ?? 0,
      iterations: 0,
      probe: false,
      reason,
      predicted: { iterationS: zero, epochS: zero, epochCostUsd: zero },
    };
    const plan = result?.plan;
    this.lastExplanation = {
      epoch,
      decidedAtMs: this.options.now(),
      action: 'stop',
      triggers,
      observations: this.history.views(this.setting.model),
      calibration: fit?.calibration ?? UNCALIBRATED,
      gp: fit ? gpViews(fit) : [],
      chosen:
        plan && groups && fit
          ? configPrediction(fit, plan[0], plan)
          : {
              workers: decision.workers,
              memoryMb: decision.memoryMb,
              sync: decision.sync,
              iterationS: zero,
              epochS: zero,
              epochCostUsd: zero,
              remainingS: zero,
              remainingCostUsd: zero,
              observedEpochs: 0,
            },
      binding: result?.binding ?? 'none',
      feasible: result?.feasible ?? true,
      confidence: result ? normalCdf(result.level) : 1,
      probes: { used: this.probes.used, max: this.setting.maxProbes },
      ...(result?.advice ? { advice: result.advice } : {}),
      reason,
    };
    return decision;
  }
}
