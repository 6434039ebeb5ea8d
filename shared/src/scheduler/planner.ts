/**
 * The adaptive planner: Bayesian optimisation over (workers, memory[, sync]) under a deadline and
 * a budget. See `index.ts` for the API and the algorithm in words.
 */
import { channelCostUsd, epochBookkeepingRequests, iterationRequests, requestsCostUsd, durationCostUsd, syncBytesPerIteration } from '../cost/epoch-cost.js';
import { PRICE_TABLES, type PriceTable } from '../cost/prices.js';
import type { SyncName } from '../spec/job-spec.js';
import { memoryFootprint, usefulMemorySizesMb } from '../sizing/memory.js';
import { BACKEND_PROFILES, type BackendProfile } from '../sizing/profiles.js';
import {
  AnalyticalModel,
  type Calibration,
  type Config,
  configKey,
  DEFAULT_NETWORK,
  type IterationParts,
  UNCALIBRATED,
} from './analytical.js';
import { GaussianProcess, type GpPoint } from './gp.js';
import { NORMAL_QUADRATURE, normalCdf, normalQuantile } from './stats.js';
import type {
  Advice,
  BindingConstraint,
  ConfigPrediction,
  Decision,
  EpochObservation,
  Estimate,
  Explanation,
  Interval,
  ObservationView,
  PlannerOptions,
  PlanSegment,
  Progress,
  Trigger,
} from './types.js';

/** Two-sided 90% intervals in reports. */
const Z90 = normalQuantile(0.95);
/** Noise added to observations made before a detected drift (log scale): they still inform, weakly. */
const STALE_NOISE_SD = 0.2;
const STALE_WEIGHT = 0.1;
/** The budget guard is stricter than planning: it is the last line before an overrun. */
const GUARD_CONFIDENCE = 0.995;
/**
 * On top of the 99.5% bound the guard absorbs a sudden slowdown of this size, which no model
 * fitted to the past predicts (together ≈ +35-40% on a sync-bound epoch, the simulator's drift
 * with bad weather): epochs are the unit of checkpointing, so an epoch once started runs to its end.
 */
const GUARD_SLOWDOWN = 1.2;
/** Share of one epoch's cost the plan keeps back for the guard's stricter bound (see planningBudget). */
const GUARD_EPOCH_SHARE = 0.35;
/** Share of the remaining budget kept back by the guard. */
const GUARD_RESERVE = 0.01;
/** A config whose residual sd is below this is considered known: no point probing it. */
const KNOWN_SD = 0.04;
/** Prior log-sd of an epoch's iteration time around a good prediction. */
const EPOCH_NOISE_PRIOR = 0.05;
/** Index in Option.timeAt/costAt of the level that ignores the GP's uncertainty (estimate()'s expected outcome). */
const CONVERGED = 3;
/** Weight of the other quantity in the objective, relative (see groups()). */
const TIE_BREAK = 0.05;
/** A probe must be expected to gain at least this share of the rest of the job's objective, net of its cost. */
const MIN_PROBE_GAIN = 0.01;
/** Share of the deadline left kept back when planning: epochs vary beyond the iteration-time model (failures, cold starts). */
const DEADLINE_RESERVE = 0.02;
/** Share of the GP's uncertainty later phases keep: they are re-planned once this phase is seen. */
const LATER_GP_SHARE = 0.5;

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

interface Fit {
  calibration: Calibration;
  gps: Map<SyncName, GaussianProcess>;
  /** Log-sd of one epoch's iteration time around the model's prediction for a configuration it knew (one-step-ahead errors). */
  epochNoiseSd: number;
}

/** One configuration evaluated for a group of consecutive epochs with the same batch size. */
interface Option {
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

interface Group {
  fromEpoch: number;
  toEpoch: number;
  epochs: number;
  batchSize: number;
  options: Option[];
  byKey: Map<string, Option>;
}

type Plan = Option[];

interface SearchResult {
  plan: Plan;
  feasible: boolean;
  level: number;
  binding: BindingConstraint;
  advice?: Advice;
}

interface StoredObservation extends EpochObservation {
  sync: SyncName;
  batchSize: number;
  predictedIterationS?: number;
}

class BayesianPlanner implements Planner {
  private readonly model: AnalyticalModel;
  private readonly profile: BackendProfile;
  private readonly prices: PriceTable;
  private readonly range: readonly [number, number];
  private readonly timeLimitS: number;
  private readonly safetyMarginS: number;
  private readonly maxWorkers: number;
  private readonly strategies: readonly SyncName[];
  private readonly zPlan: number;
  private readonly zLevels: number[];
  private readonly maxProbes: number;
  private readonly driftThreshold: number;
  private readonly observations: StoredObservation[] = [];
  private staleBefore = 0;
  private probesUsed = 0;
  private pendingTriggers: Trigger[] = [];
  private fitCache: Fit | undefined;
  /** GP predictions of the current fit, by config key (the same across batch-size groups). */
  private gpCache = new Map<string, { mean: number; sd: number }>();
  private candidateCache = new Map<string, Config[]>();
  private lastExplanation: Explanation | undefined;
  private lastProbeKey: string | undefined;

  constructor(private readonly options: PlannerOptions) {
    const { platform, model, constraints } = options;
    this.profile = typeof platform.backend === 'string' ? BACKEND_PROFILES[platform.backend] : platform.backend;
    this.model = new AnalyticalModel(
      {
        paramCount: model.paramCount,
        optimizer: model.optimizer ?? 'adam',
        bytesPerSample: model.bytesPerSample,
        computeMsPerSample: model.computeMsPerSample,
        stepMs: model.stepMs ?? 0,
        applyMsPerMillionParams: model.applyMsPerMillionParams ?? 6,
      },
      this.profile,
      { ...DEFAULT_NETWORK, ...platform.network },
      platform.sharedCores,
    );
    this.prices = platform.prices ?? PRICE_TABLES['lambda-x86_64'];
    this.range = platform.memoryRangeMb ?? [128, 10_240];
    const limitMs = platform.timeLimitMs ?? 900_000;
    this.timeLimitS = limitMs / 1000;
    this.safetyMarginS = (platform.safetyMarginMs ?? Math.min(30_000, limitMs / 10)) / 1000;
    this.maxWorkers = platform.maxWorkers ?? 256;
    this.strategies = platform.syncStrategies?.length ? platform.syncStrategies : ['hierarchical'];
    const confidence = constraints.confidence ?? 0.95;
    if (!(confidence > 0.5 && confidence < 1)) throw new RangeError(`confidence must be in (0.5, 1), got ${confidence}`);
    this.zPlan = normalQuantile(confidence);
    this.zLevels = [this.zPlan, this.zPlan / 2, 0];
    this.maxProbes = options.search?.maxProbes ?? 3;
    this.driftThreshold = options.search?.driftThreshold ?? 0.2;
    if (!(options.workload.samplesPerEpoch > 0) || !(options.workload.epochs > 0)) {
      throw new RangeError('workload.samplesPerEpoch and workload.epochs must be positive');
    }
  }

  // ---------------------------------------------------------------- observations

  observe(observation: EpochObservation): void {
    if (!(observation.workers >= 1) || !(observation.iterations >= 0) || !(observation.durationS >= 0)) {
      throw new RangeError(`Invalid observation: ${JSON.stringify(observation)}`);
    }
    const stored: StoredObservation = {
      ...observation,
      sync: observation.sync ?? this.strategies[0],
      batchSize: observation.batchSize ?? this.batchSize(observation.epoch),
    };
    const before = this.fit();
    const observedS = iterationSeconds(stored, this.model);
    if (!stored.outOfMemory && observedS !== undefined) {
      const predicted = this.predictIteration(before, stored, stored.batchSize);
      stored.predictedIterationS = predicted.meanS;
      // Drift: a configuration the model knew well came out > threshold off (DESIGN.md: > 20%).
      const deviation = Math.abs(observedS / predicted.meanS - 1);
      if (this.observations.length > 0 && predicted.sigma < 0.12 && deviation > this.driftThreshold) {
        this.staleBefore = this.observations.length;
        this.pendingTriggers.push('drift');
      }
    }
    if (stored.outOfMemory) this.pendingTriggers.push('out-of-memory');
    this.observations.push(stored);
    this.fitCache = undefined;
  }

  // ---------------------------------------------------------------- decisions

  next(progress?: Progress): Decision {
    const epoch = this.nextEpoch();
    const { elapsedS, spentUsd } = progress ?? this.progressFromObservations();
    const triggers = this.collectTriggers(epoch);
    if (epoch >= this.options.workload.epochs) {
      return this.stopDecision(epoch, 'done', triggers, 'All epochs are done.', undefined);
    }
    const fit = this.fit();
    const groups = this.groups(epoch, fit);
    if (groups[0].options.length === 0) {
      return this.stopDecision(
        epoch,
        'no-fit',
        triggers,
        `No configuration fits: the model needs more memory than ${this.range[1]} MB per worker at every worker count, or an iteration would outlast the ${this.timeLimitS} s limit.`,
        fit,
      );
    }
    const { deadlineLeft, budgetLeft } = this.left(elapsedS, spentUsd);
    const result = this.search(groups, deadlineLeft, this.planningBudget(groups, budgetLeft), elapsedS, spentUsd);
    let plan = result.plan;
    let current = plan[0];

    // Probing: an exploratory epoch when its expected saving over the rest of the job beats its expected extra cost.
    const probe = result.feasible ? this.bestProbe(groups, plan, result.level, deadlineLeft, budgetLeft) : undefined;
    if (probe) {
      current = probe.option;
      plan = [probe.option, ...plan.slice(1)];
    }

    // Budget guard: the next epoch must fit the budget left at the guard's confidence.
    if (Number.isFinite(budgetLeft)) {
      const guardZ = normalQuantile(GUARD_CONFIDENCE);
      const allowance = budgetLeft - GUARD_RESERVE * (this.options.constraints.budgetUsd ?? 0);
      const guardCost = (o: Option) => this.epochAt(o, o.mu + guardZ * Math.hypot(o.sigma, o.noiseSd) + Math.log(GUARD_SLOWDOWN)).costUsd;
      if (guardCost(current) > allowance) {
        const affordable = groups[0].options.filter((o) => guardCost(o) <= allowance);
        if (affordable.length === 0) {
          triggers.push('budget-guard');
          const cheapest = Math.min(...groups[0].options.map(guardCost));
          return this.stopDecision(
            epoch,
            'budget',
            triggers,
            `Stopping before the budget is exceeded: $${fmt(spentUsd)} spent of $${fmt(spentUsd + budgetLeft)}, and the next epoch could cost up to $${fmt(cheapest)}.`,
            fit,
            result,
            groups,
          );
        }
        triggers.push('budget-guard');
        current = affordable.reduce((a, b) => (this.metric(b) < this.metric(a) ? b : a));
        plan = [current, ...plan.slice(1)];
      }
    }
    if (probe && current === probe.option) this.probesUsed++;
    this.lastProbeKey = probe && current === probe.option ? current.key : undefined;

    const runnerUp = this.runnerUp(groups, plan, result.level, deadlineLeft, budgetLeft);
    const reason = this.reasonFor(current, plan, result, triggers, probe, runnerUp);
    const decision: Decision = {
      action: 'run',
      epoch,
      workers: current.config.workers,
      memoryMb: current.config.memoryMb,
      sync: current.config.sync,
      batchSize: groups[0].batchSize,
      iterations: current.iterations,
      probe: probe !== undefined && current === probe.option,
      reason,
      predicted: {
        iterationS: this.iterationInterval(current),
        epochS: this.epochInterval(current, 'timeS'),
        epochCostUsd: this.epochInterval(current, 'costUsd'),
      },
    };
    this.lastExplanation = {
      epoch,
      decidedAtMs: this.options.now(),
      action: 'run',
      triggers,
      observations: this.observationViews(),
      calibration: fit.calibration,
      gp: this.gpViews(fit),
      chosen: this.prediction(current, plan, groups),
      ...(runnerUp ? { runnerUp: this.prediction(runnerUp[0], runnerUp, groups) } : {}),
      binding: result.binding,
      feasible: result.feasible,
      confidence: normalCdf(result.level),
      probes: {
        used: this.probesUsed,
        max: this.maxProbes,
        ...(probe ? { expectedGain: probe.gain, probeCost: probe.cost } : {}),
      },
      ...(result.advice ? { advice: result.advice } : {}),
      reason,
    };
    return decision;
  }

  explain(): Explanation | undefined {
    return this.lastExplanation;
  }

  estimate(progress?: Progress): Estimate {
    const epoch = Math.min(this.nextEpoch(), this.options.workload.epochs);
    const { elapsedS, spentUsd } = progress ?? this.progressFromObservations();
    if (epoch >= this.options.workload.epochs) {
      const done = { expected: 0, low: 0, high: 0 };
      return {
        feasible: true,
        confidence: 1,
        timeS: shift(done, elapsedS),
        costUsd: shift(done, spentUsd),
        remainingS: done,
        remainingCostUsd: done,
        plan: [],
        binding: 'none',
      };
    }
    const fit = this.fit();
    const groups = this.groups(epoch, fit);
    const { deadlineLeft, budgetLeft } = this.left(elapsedS, spentUsd);
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
        advice: { message: `No configuration fits the model within ${this.range[1]} MB per worker.` },
      };
    }
    const planningBudget = this.planningBudget(groups, budgetLeft);
    const result = this.search(groups, deadlineLeft, planningBudget, elapsedS, spentUsd);
    // The expected outcome of the adaptive policy: it learns the configurations as it runs and
    // moves toward the plan it would choose if it knew them (the committed plan keeps a margin for
    // what it does not know yet). The interval spans both.
    const learned = this.optimise(groups, this.options.constraints.objective, CONVERGED, deadlineLeft, planningBudget);
    const expectedPlan = learned && this.feasible(learned, CONVERGED, deadlineLeft, planningBudget) ? learned : result.plan;
    const remainingS = widen(this.planInterval(expectedPlan, 'time'), this.planInterval(result.plan, 'time'));
    const remainingCostUsd = widen(this.planInterval(expectedPlan, 'cost'), this.planInterval(result.plan, 'cost'));
    return {
      feasible: result.feasible,
      confidence: normalCdf(result.level),
      timeS: shift(remainingS, elapsedS),
      costUsd: shift(remainingCostUsd, spentUsd),
      remainingS,
      remainingCostUsd,
      plan: this.segments(result.plan, groups),
      binding: result.binding,
      ...(result.advice ? { advice: result.advice } : {}),
    };
  }

  // ---------------------------------------------------------------- model fitting

  private fit(): Fit {
    if (this.fitCache) return this.fitCache;
    const usable = this.observations
      .map((o, index) => ({ o, index, stale: index < this.staleBefore }))
      .filter(({ o }) => !o.outOfMemory && o.iterations > 0);
    const ratios = { compute: [] as Weighted[], sync: [] as Weighted[], overhead: [] as Weighted[], polls: [] as Weighted[], cost: [] as Weighted[] };
    let previous: Config | undefined;
    for (const { o, stale } of usable) {
      const weight = stale ? STALE_WEIGHT : 1;
      const config = configOf(o);
      const b = o.batchSize / o.workers;
      const compute = this.model.computeS(config, b);
      const sync = this.model.syncS(config, compute);
      const parts = observedParts(o, this.model, compute, sync);
      ratios.compute.push({ value: parts.computeS / compute, weight });
      ratios.sync.push({ value: parts.syncS / sync, weight });
      const runS = o.iterations * (parts.computeS + parts.syncS);
      const switched = previous === undefined || configKey(previous) !== configKey(config);
      const overhead = this.model.epochOverhead(config, runS, this.overheadContext(config, switched));
      const observedOverhead = o.durationS - runS;
      if (observedOverhead > 0) ratios.overhead.push({ value: observedOverhead / overhead.overheadS, weight });
      if (o.requests) {
        const base = iterationRequests(config.sync, config.workers, 0);
        const book = epochBookkeepingRequests(config.workers, { partitionDownloads: switched ? config.workers : 0, continuations: overhead.continuations });
        const polls = o.requests.get - base.get * o.iterations - book.get;
        const modelPolls = this.model.pollGets(config, parts.syncS) * o.iterations;
        if (modelPolls > 0) ratios.polls.push({ value: Math.max(polls, 0.05 * modelPolls) / modelPolls, weight });
      }
      const modelCost = this.epochCostAt(config, o.iterations, o.durationS, overhead.launchS, overhead.continuations, switched, parts.syncS, UNCALIBRATED);
      if (modelCost > 0 && o.costUsd > 0) ratios.cost.push({ value: o.costUsd / modelCost, weight });
      previous = config;
    }
    const calibration: Calibration = {
      compute: shrunkRatio(ratios.compute, 0.05, 20),
      sync: shrunkRatio(ratios.sync, 0.05, 20),
      overhead: shrunkRatio(ratios.overhead, 0.25, 4),
      polls: shrunkRatio(ratios.polls, 0.05, 20),
      cost: shrunkRatio(ratios.cost, 0.5, 2),
    };
    const gps = new Map<SyncName, GaussianProcess>();
    for (const sync of this.strategies) {
      const points: GpPoint[] = [];
      for (const { o, stale } of usable) {
        if (o.sync !== sync) continue;
        const observedS = iterationSeconds(o, this.model);
        if (observedS === undefined || !(observedS > 0)) continue;
        const config = configOf(o);
        const parts = this.model.iteration(config, o.batchSize / o.workers, calibration);
        points.push({ x: this.inputOf(config), y: Math.log(observedS / (parts.computeS + parts.syncS)), ...(stale ? { extraNoiseSd: STALE_NOISE_SD } : {}) });
      }
      gps.set(sync, GaussianProcess.fit(points, { dimensions: 2, priors: { signalSd: 0.3, lengthScale: 0.5, noiseSd: 0.04, minNoiseSd: 0.02 } }));
    }
    // How far one epoch lands from a prediction made for a configuration already observed: the
    // weather of the store, drift. Prior: 5% (two pseudo-observations).
    let squares = 2 * EPOCH_NOISE_PRIOR ** 2;
    let count = 2;
    const seen = new Set<string>();
    for (const o of this.observations) {
      const key = configKey(configOf(o));
      const observedS = o.outOfMemory ? undefined : iterationSeconds(o, this.model);
      if (seen.has(key) && o.predictedIterationS !== undefined && observedS !== undefined) {
        squares += Math.log(observedS / o.predictedIterationS) ** 2;
        count++;
      }
      seen.add(key);
    }
    this.fitCache = { calibration, gps, epochNoiseSd: Math.sqrt(squares / count) };
    this.gpCache.clear();
    return this.fitCache;
  }

  /** GP input: (log n, log m), each scaled to [0, 1] over the search space. */
  private inputOf(config: Config): number[] {
    const [low, high] = this.range;
    return [Math.log(config.workers) / Math.log(Math.max(this.maxWorkers, 2)), Math.log(config.memoryMb / low) / Math.log(high / low)];
  }

  private predictIteration(fit: Fit, config: Config, batchSize: number): { meanS: number; sigma: number } {
    const parts = this.model.iteration(config, batchSize / config.workers, fit.calibration);
    const gp = fit.gps.get(config.sync) ?? [...fit.gps.values()][0];
    const { mean, sd } = gp.predict(this.inputOf(config));
    return { meanS: (parts.computeS + parts.syncS) * Math.exp(mean), sigma: sd };
  }

  // ---------------------------------------------------------------- candidates

  private batchSize(epoch: number): number {
    const { batchSize } = this.options.workload;
    const value = typeof batchSize === 'function' ? batchSize(epoch) : batchSize;
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`batch size of epoch ${epoch} must be a positive integer, got ${value}`);
    return value;
  }

  private candidates(batchSize: number): Config[] {
    const cacheKey = String(batchSize);
    const cached = this.candidateCache.get(cacheKey);
    if (cached) return this.withoutOutOfMemory(cached, batchSize);
    const samples = this.options.workload.samplesPerEpoch;
    const counts = (this.options.search?.workerCounts ?? divisors(batchSize)).filter(
      (n) => Number.isInteger(n) && n >= 1 && n <= this.maxWorkers && batchSize % n === 0 && iterationsOf(samples, n, batchSize) >= 1,
    );
    const configs: Config[] = [];
    for (const sync of this.strategies) {
      for (const workers of counts) {
        const footprint = memoryFootprint({
          model: {
            paramCount: this.options.model.paramCount,
            optimizer: this.options.model.optimizer ?? 'adam',
            bytesPerSample: this.options.model.bytesPerSample,
            ...(this.options.model.activationBytesPerSample !== undefined ? { activationBytesPerSample: this.options.model.activationBytesPerSample } : {}),
          },
          profile: this.profile,
          workers,
          perWorkerBatch: batchSize / workers,
          partitionSamples: Math.ceil(samples / workers),
          sync,
        });
        if (!footprint.fitsDevice) continue;
        const sizes = this.options.search?.memorySizesMb
          ? this.options.search.memorySizesMb.filter((m) => m >= footprint.minimumMemoryMb && m >= this.range[0] && m <= this.range[1])
          : usefulMemorySizesMb(this.profile, footprint.minimumMemoryMb, this.range);
        for (const memoryMb of sizes) configs.push({ workers, memoryMb, sync });
      }
    }
    this.candidateCache.set(cacheKey, configs);
    return this.withoutOutOfMemory(configs, batchSize);
  }

  private withoutOutOfMemory(configs: Config[], batchSize: number): Config[] {
    const failures = this.observations.filter((o) => o.outOfMemory);
    if (failures.length === 0) return configs;
    return configs.filter(
      (c) => !failures.some((f) => f.sync === c.sync && c.memoryMb <= f.memoryMb && batchSize / c.workers >= f.batchSize / f.workers),
    );
  }

  private lastConfig(): Config | undefined {
    const last = this.observations.at(-1);
    return last ? configOf(last) : undefined;
  }

  private overheadContext(config: Config, switched: boolean) {
    return {
      switched,
      partitionBytes: (this.options.workload.samplesPerEpoch / config.workers) * this.options.model.bytesPerSample,
      timeLimitS: this.timeLimitS,
      safetyMarginS: this.safetyMarginS,
    };
  }

  /**
   * The remaining epochs in phases of equal batch size; the plan runs one configuration per
   * phase (a fixed allocation within a phase, re-planned every epoch), so it never defers risk
   * to the end of the job. Probes are one-epoch deviations from it (bestProbe).
   */
  private groups(epoch: number, fit: Fit): Group[] {
    const { epochs } = this.options.workload;
    const spans: Array<{ from: number; to: number; batch: number }> = [{ from: epoch, to: epoch, batch: this.batchSize(epoch) }];
    // Before anything is observed every configuration is equally unknown, and most of that
    // uncertainty (the model's overall scale) goes with the first epoch: it stands alone, and the
    // rest of its phase is planned as a later phase.
    const firstAlone = !this.observations.some((o) => !o.outOfMemory);
    for (let e = epoch + 1; e < epochs; e++) {
      const batch = this.batchSize(e);
      const last = spans.at(-1)!;
      if (last.batch === batch && !(firstAlone && spans.length === 1)) last.to = e;
      else spans.push({ from: e, to: e, batch });
    }
    const last = this.lastConfig();
    const groups = spans.map(({ from, to, batch }, index) => {
      const count = to - from + 1;
      const options = this.candidates(batch)
        .map((config) => this.option(config, batch, count, fit, last, index === 0))
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

  private option(config: Config, batchSize: number, epochs: number, fit: Fit, last: Config | undefined, first: boolean): Option | undefined {
    const samples = this.options.workload.samplesPerEpoch;
    const perWorkerBatch = batchSize / config.workers;
    const parts = this.model.iteration(config, perWorkerBatch, fit.calibration);
    const modelS = parts.computeS + parts.syncS;
    const gp = fit.gps.get(config.sync)!;
    const key = configKey(config);
    let prediction = this.gpCache.get(key);
    if (!prediction) {
      prediction = gp.predict(this.inputOf(config));
      this.gpCache.set(key, prediction);
    }
    const { mean, sd } = prediction;
    const noiseSd = Math.max(gp.hyperparameters.noiseSd, fit.epochNoiseSd);
    const groupSd = Math.sqrt(sd * sd + (noiseSd * noiseSd) / epochs);
    // One iteration must fit an invocation with room for the worker to checkpoint (lambda-worker's handler).
    if (modelS * Math.exp(mean + this.zPlan * groupSd) > (this.timeLimitS - this.safetyMarginS) / 2) return undefined;
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
      observed: this.observations.filter((o) => !o.outOfMemory && configKey(configOf(o)) === key).length,
    };
    const mean1 = this.groupAt(option, mean + (groupSd * groupSd) / 2);
    option.timeMean = mean1.timeS;
    option.costMean = mean1.costUsd;
    const levelSd = first ? groupSd : Math.hypot(LATER_GP_SHARE * sd, noiseSd / Math.sqrt(epochs));
    for (const z of this.zLevels) {
      option.timeAt.push(this.groupAt(option, mean + z * levelSd).timeS);
      // Money spent cannot be won back by re-planning as time can (by scaling out): the budget
      // is held to the GP's whole uncertainty in every phase.
      option.costAt.push(this.groupAt(option, mean + z * groupSd).costUsd);
    }
    // CONVERGED: the requested confidence on the epoch noise alone, as if every configuration were known.
    const known = this.groupAt(option, mean + this.zPlan * (noiseSd / Math.sqrt(epochs)));
    option.timeAt.push(known.timeS);
    option.costAt.push(known.costUsd);
    return option;
  }

  /**
   * The group's epochs of `option` when its log residual is `r`: a switch to its configuration
   * (cold starts, data downloads) is paid by the first epoch only.
   */
  private groupAt(option: Option, r: number): { timeS: number; costUsd: number } {
    const first = this.epochAt(option, r);
    if (option.epochs === 1 || !option.switched) return { timeS: option.epochs * first.timeS, costUsd: option.epochs * first.costUsd };
    const rest = this.epochAt({ ...option, switched: false }, r);
    return { timeS: first.timeS + (option.epochs - 1) * rest.timeS, costUsd: first.costUsd + (option.epochs - 1) * rest.costUsd };
  }

  /** One epoch of `option` when its log residual is `r`. */
  private epochAt(option: Option, r: number): { timeS: number; costUsd: number } {
    const scale = Math.exp(r);
    const iterationS = option.modelS * scale;
    const runS = option.iterations * iterationS;
    const calibration = this.fitCache?.calibration ?? UNCALIBRATED;
    const overhead = this.model.epochOverhead(option.config, runS, this.overheadContext(option.config, option.switched), calibration);
    const timeS = runS + overhead.overheadS;
    const costUsd = this.epochCostAt(
      option.config,
      option.iterations,
      timeS,
      overhead.launchS,
      overhead.continuations,
      option.switched,
      option.parts.syncS * scale,
      calibration,
    );
    return { timeS, costUsd };
  }

  private epochCostAt(
    config: Config,
    iterations: number,
    durationS: number,
    launchS: number,
    continuations: number,
    switched: boolean,
    syncS: number,
    calibration: Calibration,
  ): number {
    // Workers start over the launch ramp: on average each is billed half of it less.
    const billedS = Math.max(durationS - launchS / 2, 0);
    const channel = this.options.platform.channel;
    // Through a channel the store keeps only each rank's marker per iteration; the channel bills bytes and time.
    const perIteration = channel
      ? { put: config.workers, get: 0, list: 0, delete: 0 }
      : iterationRequests(config.sync, config.workers, this.model.pollGets(config, syncS, calibration));
    const book = epochBookkeepingRequests(config.workers, { partitionDownloads: switched ? config.workers : 0, continuations });
    const requests = {
      put: perIteration.put * iterations + book.put,
      get: perIteration.get * iterations + book.get,
      list: book.list,
      delete: 0,
    };
    const channelUsd = channel
      ? channelCostUsd(syncBytesPerIteration(config.workers, this.model.gradientBytes) * iterations, durationS, channel)
      : 0;
    const total =
      durationCostUsd(config.workers, config.memoryMb, billedS, this.prices) +
      config.workers * (1 + continuations) * this.prices.usdPerInvocation +
      requestsCostUsd(requests, this.prices) +
      channelUsd;
    return total * calibration.cost;
  }

  // ---------------------------------------------------------------- search

  private metric(o: Option): number {
    return this.options.constraints.objective === 'cost' ? o.costScore : o.timeScore;
  }

  /**
   * The plan (one option per group) minimising the objective's expected value subject to
   * Σ time ≤ deadline left and Σ cost ≤ budget left, at the highest confidence level that can
   * be met (the requested one, half of it in z, then expected values).
   */
  private search(groups: Group[], deadlineLeft: number, budgetLeft: number, elapsedS: number, spentUsd: number): SearchResult {
    const objective = this.options.constraints.objective;
    for (let level = 0; level < this.zLevels.length; level++) {
      const plan = this.optimise(groups, objective, level, deadlineLeft, budgetLeft);
      if (plan && this.feasible(plan, level, deadlineLeft, budgetLeft)) {
        const result: SearchResult = { plan, feasible: level === 0, level: this.zLevels[level], binding: this.binding(groups, level, deadlineLeft, budgetLeft) };
        if (level > 0) result.advice = this.advice(groups, deadlineLeft, budgetLeft, elapsedS, spentUsd);
        return result;
      }
    }
    // Nothing meets both: respect the budget and finish as early as it allows; if even the
    // cheapest plan overruns it, train as far as the budget goes (the guard stops the run).
    const level = 0;
    const withinBudget = this.optimise(groups, 'time', level, Infinity, budgetLeft);
    const plan =
      withinBudget && this.sum(withinBudget, 'cost', level) <= budgetLeft
        ? withinBudget
        : groups.map((g) => g.options.reduce((a, b) => (b.costMean < a.costMean ? b : a)));
    const advice = this.advice(groups, deadlineLeft, budgetLeft, elapsedS, spentUsd);
    const deadlineMissed = this.sum(plan, 'time', level) > deadlineLeft;
    return { plan, feasible: false, level: this.zLevels[level], binding: deadlineMissed ? 'deadline' : 'budget', advice };
  }

  private sum(plan: Plan, what: 'time' | 'cost', level: number): number {
    let total = 0;
    for (const o of plan) total += what === 'time' ? o.timeAt[level] : o.costAt[level];
    return total;
  }

  private feasible(plan: Plan, level: number, deadlineLeft: number, budgetLeft: number): boolean {
    return this.sum(plan, 'time', level) <= deadlineLeft && this.sum(plan, 'cost', level) <= budgetLeft;
  }

  /**
   * Minimises Σ objective subject to the other quantity's limit (deadline for `cost`, budget for
   * `time`) at confidence `level`: a Lagrangian scan (separable per group) for a start, then
   * single-group swaps, which close the gaps a convex relaxation leaves. Returns the best plan
   * meeting the primary limit, or undefined when none does.
   */
  private optimise(groups: Group[], objective: 'time' | 'cost', level: number, deadlineLeft: number, budgetLeft: number): Plan | undefined {
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
          if (score < bestScore || (score === bestScore && o !== best && this.options.random() < 0.5)) {
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

  private binding(groups: Group[], level: number, deadlineLeft: number, budgetLeft: number): BindingConstraint {
    const free = groups.map((g) => g.options.reduce((a, b) => (this.metric(b) < this.metric(a) ? b : a)));
    if (this.sum(free, 'time', level) > deadlineLeft) return 'deadline';
    if (this.sum(free, 'cost', level) > budgetLeft) return 'budget';
    return 'none';
  }

  private advice(groups: Group[], deadlineLeft: number, budgetLeft: number, elapsedS: number, spentUsd: number): Advice {
    const level = 0;
    const parts: string[] = [];
    const advice: Advice = { message: '' };
    const deadlineS = this.options.constraints.deadlineS;
    const budgetUsd = this.options.constraints.budgetUsd;
    if (Number.isFinite(deadlineLeft)) {
      const cheapestInTime = this.optimise(groups, 'cost', level, deadlineLeft, Infinity);
      if (cheapestInTime) {
        advice.budgetNeededUsd = spentUsd + this.sum(cheapestInTime, 'cost', level);
        if (budgetUsd === undefined || advice.budgetNeededUsd > budgetUsd) {
          parts.push(`meeting the ${fmtS(deadlineS!)} deadline needs a budget of $${fmt(advice.budgetNeededUsd)}`);
        }
      } else {
        const fastest = groups.map((g) => g.options.reduce((a, b) => (b.timeAt[level] < a.timeAt[level] ? b : a)));
        advice.earliestDeadlineS = elapsedS + this.sum(fastest, 'time', level);
        advice.budgetNeededUsd = spentUsd + this.sum(fastest, 'cost', level);
        parts.push(
          `no configuration meets the ${fmtS(deadlineS!)} deadline; the fastest plan needs ${fmtS(advice.earliestDeadlineS)} and $${fmt(advice.budgetNeededUsd)}`,
        );
      }
    }
    if (Number.isFinite(budgetLeft)) {
      const fastestInBudget = this.optimise(groups, 'time', level, Infinity, budgetLeft);
      if (fastestInBudget) {
        const earliest = elapsedS + this.sum(fastestInBudget, 'time', level);
        if (advice.earliestDeadlineS === undefined || earliest > advice.earliestDeadlineS) advice.earliestDeadlineS = earliest;
        if (deadlineS === undefined || earliest > deadlineS) parts.push(`the $${fmt(budgetUsd!)} budget allows a deadline of ${fmtS(earliest)} at the earliest`);
      } else {
        const cheapest = groups.map((g) => g.options.reduce((a, b) => (b.costAt[level] < a.costAt[level] ? b : a)));
        const needed = spentUsd + this.sum(cheapest, 'cost', level);
        advice.budgetNeededUsd = Math.max(advice.budgetNeededUsd ?? 0, needed);
        parts.push(`the $${fmt(budgetUsd!)} budget cannot cover the job: the cheapest plan costs $${fmt(needed)}`);
      }
    }
    advice.message = parts.length > 0 ? `${capitalise(parts.join('; '))}.` : 'The constraints hold only at expected values, not with the safety margin.';
    return advice;
  }

  // ---------------------------------------------------------------- probing

  /**
   * The exploratory configuration for this epoch with the largest expected net gain: the
   * expected saving if it turns out better and is used for the rest of the job (expected
   * improvement under the GP, integrated by quadrature), less what running this one epoch on it
   * is expected to cost more than the plan's choice. None when no net gain clears
   * MIN_PROBE_GAIN, when the probe could break a constraint, or when the probes are spent.
   */
  private bestProbe(groups: Group[], plan: Plan, level: number, deadlineLeft: number, budgetLeft: number): { option: Option; gain: number; cost: number } | undefined {
    const current = plan[0];
    const k = groups[0].epochs;
    const epochsLeft = groups.reduce((a, g) => a + g.epochs, 0);
    if (this.probesUsed >= this.maxProbes || epochsLeft < 2) return undefined;
    if (!this.observations.some((o) => o.sync === current.config.sync && !o.outOfMemory)) return undefined;
    const L = Math.max(this.zLevels.indexOf(level), 0);
    const objectiveCost = this.options.constraints.objective === 'cost';
    // Per epoch of the current phase on the plan's configuration.
    const perEpoch = { time: current.timeAt[L] / k, cost: current.costAt[L] / k, metric: this.metric(current) / k };
    const laterTime = this.sum(plan.slice(1), 'time', L);
    const laterCost = this.sum(plan.slice(1), 'cost', L);
    const restTime = (k - 1) * perEpoch.time + laterTime;
    const restCost = (k - 1) * perEpoch.cost + laterCost;
    const restMetric = (k - 1) * perEpoch.metric + plan.slice(1).reduce((a, o) => a + (objectiveCost ? o.costMean : o.timeMean), 0);
    const z = this.zLevels[L];
    let best: { option: Option; gain: number; cost: number } | undefined;
    for (const candidate of groups[0].options) {
      if (candidate.key === current.key || candidate.sigma < KNOWN_SD || candidate.key === this.lastProbeKey) continue;
      const hi = this.epochAt(candidate, candidate.mu + z * Math.hypot(candidate.sigma, candidate.noiseSd));
      if (hi.timeS + restTime > deadlineLeft || hi.costUsd + restCost > budgetLeft) continue;
      const cost = this.metric(candidate) / k - perEpoch.metric;
      const slack = { s: deadlineLeft - hi.timeS - restTime, usd: budgetLeft - hi.costUsd - restCost };
      let gain = 0;
      for (const [node, weight] of NORMAL_QUADRATURE) {
        gain += weight * this.restGain(groups, plan, candidate, candidate.mu + candidate.sigma * node, { ...slack }, L);
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
  private restGain(groups: Group[], plan: Plan, candidate: Option, r: number, slack: { s: number; usd: number }, L: number): number {
    const objectiveCost = this.options.constraints.objective === 'cost';
    let gain = 0;
    for (let g = 0; g < groups.length; g++) {
      const same = g === 0 ? candidate : groups[g].byKey.get(candidate.key);
      const epochs = g === 0 ? groups[0].epochs - 1 : groups[g].epochs;
      if (!same || epochs <= 0) continue;
      const planned = plan[g];
      const at = this.epochAt(same, r);
      const hi = this.epochAt(same, r + this.zLevels[L] * (same.noiseSd / Math.sqrt(epochs)));
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

  // ---------------------------------------------------------------- explanations

  private runnerUp(groups: Group[], plan: Plan, level: number, deadlineLeft: number, budgetLeft: number): Plan | undefined {
    const levelIndex = Math.max(this.zLevels.indexOf(level), 0);
    let best: Plan | undefined;
    let bestFeasible = false;
    for (const o of groups[0].options) {
      if (o.key === plan[0].key) continue;
      const alternative = [o, ...plan.slice(1)];
      const feasible = this.feasible(alternative, levelIndex, deadlineLeft, budgetLeft);
      const score = this.metric(o);
      if (!best || (feasible && !bestFeasible) || (feasible === bestFeasible && score < this.metric(best[0]))) {
        best = alternative;
        bestFeasible = feasible;
      }
    }
    return best;
  }

  private reasonFor(
    current: Option,
    plan: Plan,
    result: SearchResult,
    triggers: Trigger[],
    probe: { option: Option; gain: number; cost: number } | undefined,
    runnerUp: Plan | undefined,
  ): string {
    const c = current.config;
    const what = `${c.workers} worker${c.workers === 1 ? '' : 's'} × ${c.memoryMb} MB`;
    const unit = (v: number) => (this.options.constraints.objective === 'cost' ? `$${fmt(v)}` : fmtS(v));
    const why = triggers.includes('drift')
      ? ' after iteration times drifted from prediction'
      : triggers.includes('batch-size-change')
        ? ` as the batch size changes to ${current.perWorkerBatch * c.workers}`
        : triggers.includes('out-of-memory')
          ? ' after a worker ran out of memory'
          : '';
    if (probe && current === probe.option) {
      return `Probing ${what}${why}: its expected saving over the rest of the job (${unit(probe.gain)}) exceeds this epoch's expected extra ${this.options.constraints.objective} (${unit(Math.max(probe.cost, 0))}).`;
    }
    if (triggers.includes('budget-guard')) {
      return `Running ${what}, the configuration whose next epoch surely fits the budget left${why}.`;
    }
    const remaining = this.planInterval(plan, 'time');
    const cost = this.planInterval(plan, 'cost');
    const predicted = `the rest is predicted to take ${fmtS(remaining.expected)} (up to ${fmtS(remaining.high)}) and cost $${fmt(cost.expected)} (up to $${fmt(cost.high)})`;
    if (!result.feasible) {
      return `Running ${what}${why}, the best effort: ${result.advice?.message ?? 'the constraints cannot be met'} (${predicted}).`;
    }
    const objective = this.options.constraints.objective === 'cost' ? 'the cheapest' : 'the fastest';
    const bound =
      result.binding === 'deadline' ? ' that meets the deadline' : result.binding === 'budget' ? ' within the budget' : '';
    const versus = runnerUp ? `; next best ${runnerUp[0].config.workers} × ${runnerUp[0].config.memoryMb} MB` : '';
    return `Running ${what}${why}, ${objective} plan${bound}: ${predicted}${versus}.`;
  }

  private stopDecision(
    epoch: number,
    why: NonNullable<Decision['stop']>,
    triggers: Trigger[],
    reason: string,
    fit: Fit | undefined,
    result?: SearchResult,
    groups?: Group[],
  ): Decision {
    const last = this.observations.at(-1);
    const zero = { expected: 0, low: 0, high: 0 };
    const decision: Decision = {
      action: 'stop',
      stop: why,
      epoch,
      workers: last?.workers ?? 0,
      memoryMb: last?.memoryMb ?? 0,
      sync: last?.sync ?? this.strategies[0],
      batchSize: epoch < this.options.workload.epochs ? this.batchSize(epoch) : last?.batchSize ?? 0,
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
      observations: this.observationViews(),
      calibration: fit?.calibration ?? UNCALIBRATED,
      gp: fit ? this.gpViews(fit) : [],
      chosen:
        plan && groups
          ? this.prediction(plan[0], plan, groups)
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
      probes: { used: this.probesUsed, max: this.maxProbes },
      ...(result?.advice ? { advice: result.advice } : {}),
      reason,
    };
    return decision;
  }

  private prediction(option: Option, plan: Plan, _groups: Group[]): ConfigPrediction {
    return {
      workers: option.config.workers,
      memoryMb: option.config.memoryMb,
      sync: option.config.sync,
      iterationS: this.iterationInterval(option),
      epochS: this.epochInterval(option, 'timeS'),
      epochCostUsd: this.epochInterval(option, 'costUsd'),
      remainingS: this.planInterval(plan, 'time'),
      remainingCostUsd: this.planInterval(plan, 'cost'),
      observedEpochs: option.observed,
    };
  }

  private iterationInterval(o: Option): Interval {
    const sd = Math.hypot(o.sigma, o.noiseSd);
    return {
      expected: o.modelS * Math.exp(o.mu + (sd * sd) / 2),
      low: o.modelS * Math.exp(o.mu - Z90 * sd),
      high: o.modelS * Math.exp(o.mu + Z90 * sd),
    };
  }

  private epochInterval(o: Option, what: 'timeS' | 'costUsd'): Interval {
    const sd = Math.hypot(o.sigma, o.noiseSd);
    return {
      expected: this.epochAt(o, o.mu + (sd * sd) / 2)[what],
      low: this.epochAt(o, o.mu - Z90 * sd)[what],
      high: this.epochAt(o, o.mu + Z90 * sd)[what],
    };
  }

  /** Σ over the plan; bounds add up (errors of one model are correlated across groups). */
  private planInterval(plan: Plan, what: 'time' | 'cost'): Interval {
    let expected = 0;
    let low = 0;
    let high = 0;
    for (const o of plan) {
      const pick = (r: number) => {
        const e = this.groupAt(o, r);
        return what === 'time' ? e.timeS : e.costUsd;
      };
      expected += what === 'time' ? o.timeMean : o.costMean;
      low += pick(o.mu - Z90 * o.groupSd);
      high += pick(o.mu + Z90 * o.groupSd);
    }
    return { expected, low, high };
  }

  private segments(plan: Plan, groups: Group[]): PlanSegment[] {
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

  private observationViews(): ObservationView[] {
    return this.observations.map((o, index) => ({
      epoch: o.epoch,
      workers: o.workers,
      memoryMb: o.memoryMb,
      sync: o.sync,
      batchSize: o.batchSize,
      ...(o.outOfMemory ? { outOfMemory: true as const } : { iterationS: iterationSeconds(o, this.model) ?? 0 }),
      ...(o.predictedIterationS !== undefined ? { predictedIterationS: o.predictedIterationS } : {}),
      stale: index < this.staleBefore,
    }));
  }

  private gpViews(fit: Fit): Explanation['gp'] {
    return [...fit.gps.entries()].map(([sync, gp]) => ({
      sync,
      points: gp.points.length,
      lengthScales: gp.hyperparameters.lengthScales,
      signalSd: gp.hyperparameters.signalSd,
      noiseSd: gp.hyperparameters.noiseSd,
      jitter: gp.jitter,
    }));
  }

  // ---------------------------------------------------------------- bookkeeping

  /**
   * The budget left less what the guard will want on top of the plan's bound for the job's last
   * epoch (its 99.5% bound and GUARD_SLOWDOWN against the plan's confidence): without it a plan
   * that spends the budget exactly is stopped by the guard one epoch short.
   */
  private planningBudget(groups: Group[], budgetLeft: number): number {
    if (!Number.isFinite(budgetLeft)) return budgetLeft;
    const last = groups.at(-1)!;
    if (last.options.length === 0) return budgetLeft;
    const cheapestEpoch = Math.min(...last.options.map((o) => o.costMean / o.epochs));
    return budgetLeft - GUARD_EPOCH_SHARE * cheapestEpoch;
  }

  /** Time and money left to plan with (the deadline less a small reserve). */
  private left(elapsedS: number, spentUsd: number): { deadlineLeft: number; budgetLeft: number } {
    const { deadlineS, budgetUsd } = this.options.constraints;
    return {
      deadlineLeft: deadlineS === undefined ? Infinity : (deadlineS - elapsedS) * (1 - DEADLINE_RESERVE),
      budgetLeft: budgetUsd === undefined ? Infinity : budgetUsd - spentUsd,
    };
  }

  private nextEpoch(): number {
    // An epoch that ran out of memory did not happen: it is run again.
    return this.observations.reduce((next, o) => (o.outOfMemory ? next : Math.max(next, o.epoch + 1)), 0);
  }

  private progressFromObservations(): Progress {
    return this.observations.reduce((p, o) => ({ elapsedS: p.elapsedS + o.durationS, spentUsd: p.spentUsd + o.costUsd }), { elapsedS: 0, spentUsd: 0 });
  }

  private collectTriggers(epoch: number): Trigger[] {
    const triggers: Trigger[] = this.observations.length === 0 ? ['initial'] : ['epoch-end'];
    triggers.push(...this.pendingTriggers);
    this.pendingTriggers = [];
    const last = this.observations.at(-1);
    if (last && epoch < this.options.workload.epochs && this.batchSize(epoch) !== last.batchSize) triggers.push('batch-size-change');
    return [...new Set(triggers)];
  }
}

// -------------------------------------------------------------------- helpers

interface Weighted {
  value: number;
  weight: number;
}

/** Weighted geometric mean of ratios, shrunk slightly toward 1 (the model as written), clamped. */
function shrunkRatio(ratios: Weighted[], min: number, max: number): number {
  let sum = 0;
  let weights = 0.05;
  for (const { value, weight } of ratios) {
    if (!(value > 0) || !Number.isFinite(value)) continue;
    sum += weight * Math.log(Math.min(Math.max(value, min), max));
    weights += weight;
  }
  return Math.exp(sum / weights);
}

function configOf(o: { workers: number; memoryMb: number; sync?: SyncName }): Config {
  return { workers: o.workers, memoryMb: o.memoryMb, sync: o.sync ?? 'hierarchical' };
}

/** Mean iteration seconds of an observation: from the workers' compute + sync when reported, else from the wall time. */
function iterationSeconds(o: StoredObservation, model: AnalyticalModel): number | undefined {
  if (o.iterations <= 0) return undefined;
  if (o.computeMs !== undefined && o.syncMs !== undefined && o.computeMs + o.syncMs > 0) {
    return (o.computeMs + o.syncMs) / 1000 / o.iterations;
  }
  const config = configOf(o);
  const parts = model.iteration(config, o.batchSize / o.workers);
  const overhead = model.epochOverhead(config, o.iterations * (parts.computeS + parts.syncS), {
    switched: false,
    partitionBytes: 0,
    timeLimitS: Infinity,
    safetyMarginS: 0,
  }).overheadS;
  return Math.max(o.durationS - overhead, 0.5 * o.durationS) / o.iterations;
}

/** Compute and sync seconds per iteration an observation shows (split like the model when not reported). */
function observedParts(o: StoredObservation, model: AnalyticalModel, computeS: number, syncS: number): IterationParts {
  if (o.computeMs !== undefined && o.syncMs !== undefined && o.computeMs + o.syncMs > 0) {
    return { computeS: o.computeMs / 1000 / o.iterations, syncS: o.syncMs / 1000 / o.iterations };
  }
  const total = iterationSeconds(o, model) ?? computeS + syncS;
  const share = computeS / (computeS + syncS);
  return { computeS: total * share, syncS: total * (1 - share) };
}

/** Iterations of an epoch as the orchestrator counts them: floor(floor(samples / n) / (batch / n)). */
export function iterationsOf(samples: number, workers: number, batchSize: number): number {
  return Math.floor(Math.floor(samples / workers) / (batchSize / workers));
}

export function divisors(n: number): number[] {
  const small: number[] = [];
  const large: number[] = [];
  for (let d = 1; d * d <= n; d++) {
    if (n % d !== 0) continue;
    small.push(d);
    if (d * d !== n) large.unshift(n / d);
  }
  return [...small, ...large];
}

/** `expected` of the first, bounds spanning both. */
function widen(a: Interval, b: Interval): Interval {
  return { expected: a.expected, low: Math.min(a.low, b.low), high: Math.max(a.high, b.high) };
}

function shift(interval: Interval, by: number): Interval {
  return { expected: interval.expected + by, low: interval.low + by, high: interval.high + by };
}

function fmt(usd: number): string {
  if (!Number.isFinite(usd)) return String(usd);
  return usd >= 100 ? usd.toFixed(0) : usd >= 1 ? usd.toFixed(2) : usd.toPrecision(2);
}

function fmtS(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds)} s`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
