/**
 * The model fitted to what was observed: the analytical prior's calibration (one factor each for
 * compute, sync, overhead, polls and cost), a GP per sync strategy on the residual log iteration
 * time, and the epoch-to-epoch noise; with it, the predicted outcome of an epoch.
 */
import { epochBookkeepingRequests, iterationRequests } from '../cost/epoch-cost.js';
import type { SyncName } from '../spec/job-spec.js';
import { type Calibration, type Config, configKey, type IterationParts, UNCALIBRATED } from './analytical.js';
import { epochCostUsd } from './epoch-price.js';
import { GaussianProcess, type GpPoint } from './gp.js';
import { configOf, type History, observedParts, steadyIterationSeconds } from './history.js';
import { overheadContext, type Setting } from './setting.js';

/** Noise added to observations made before a detected drift (log scale): they still inform, weakly. */
const STALE_NOISE_SD = 0.2;
const STALE_WEIGHT = 0.1;
/** Prior log-sd of an epoch's iteration time around a good prediction. */
const EPOCH_NOISE_PRIOR = 0.05;
/**
 * Prior log-sd of the fixed costs (process or function start, per-epoch store I/O) around the
 * model's, counted as two pseudo-observations (observed epochs narrow it): on this project's 2-core
 * machine a local worker started in 0.35 s when it was quiet and in about 1.5 s under load, and the
 * same tiny-model run took 2.4 to 3.7 s.
 */
const OVERHEAD_PRIOR_SD = 0.3;

/** An epoch on one configuration as the fitted model prices it. */
export interface EpochShape {
  config: Config;
  iterations: number;
  parts: IterationParts;
  /** Calibrated analytical iteration time. */
  modelS: number;
  switched: boolean;
}

export class FittedModel {
  /** GP predictions by config key (the same across batch-size groups). */
  private readonly gpCache = new Map<string, { mean: number; sd: number }>();

  private constructor(
    private readonly setting: Setting,
    readonly calibration: Calibration,
    readonly gps: Map<SyncName, GaussianProcess>,
    /** Log-sd of one epoch's iteration time around the model's prediction for a configuration it knew (one-step-ahead errors). */
    readonly epochNoiseSd: number,
    /** Log-sd of the calibrated fixed costs: how well the overhead factor is known (reported intervals only). */
    readonly overheadSd: number,
  ) {}

  static fit(setting: Setting, history: History): FittedModel {
    const { model } = setting;
    const usable = history.all
      .map((o, index) => ({ o, index, stale: index < history.staleBefore }))
      .filter(({ o }) => !o.outOfMemory && o.iterations > 0);
    const ratios = { compute: [] as Weighted[], sync: [] as Weighted[], polls: [] as Weighted[], cost: [] as Weighted[] };
    // The fixed costs are told apart: epochs on workers already running show the per-epoch
    // overhead; epochs that started workers show that plus the start, calibrated after it.
    const fixed: Array<{ observedS: number; steadyS: number; startS: number; switched: boolean; weight: number }> = [];
    let previous: Config | undefined;
    for (const { o, stale } of usable) {
      const weight = stale ? STALE_WEIGHT : 1;
      const config = configOf(o);
      const b = o.batchSize / o.workers;
      const compute = model.computeS(config, b);
      const sync = model.syncS(config, compute);
      const parts = observedParts(o, model, compute, sync);
      // Times measured during the workers' warm-up say little of the pace to come.
      const steady = o.steadyShare ?? 1;
      if (steady > 0) {
        ratios.compute.push({ value: parts.computeS / compute, weight: weight * steady });
        if (sync > 0) ratios.sync.push({ value: parts.syncS / sync, weight: weight * steady });
      }
      const runS = o.iterations * (parts.computeS + parts.syncS);
      const switched = previous === undefined || configKey(previous) !== configKey(config);
      const overhead = model.epochOverhead(config, runS, overheadContext(setting, config, switched, o.iterations));
      fixed.push({ observedS: o.durationS - runS, steadyS: overhead.steadyS, startS: overhead.startS, switched, weight });
      if (o.requests) {
        const base = iterationRequests(config.sync, config.workers, 0);
        const book = epochBookkeepingRequests(config.workers, o.iterations, { partitionDownloads: switched ? config.workers : 0, continuations: overhead.continuations });
        const polls = o.requests.get - base.get * o.iterations - book.get;
        const modelPolls = model.pollGets(config, parts.syncS) * o.iterations;
        if (modelPolls > 0) ratios.polls.push({ value: Math.max(polls, 0.05 * modelPolls) / modelPolls, weight });
      }
      const modelCost = epochCostUsd(
        setting,
        { config, iterations: o.iterations, durationS: o.durationS, launchS: overhead.launchS, epochEndS: overhead.epochEndS, continuations: overhead.continuations, switched, syncS: parts.syncS },
        UNCALIBRATED,
      );
      if (modelCost > 0 && o.costUsd > 0) ratios.cost.push({ value: o.costUsd / modelCost, weight });
      previous = config;
    }
    const overheadRatios = fixed.filter((f) => !f.switched && f.observedS > 0).map((f) => ({ value: f.observedS / f.steadyS, weight: f.weight }));
    const overheadFactor = shrunkRatio(overheadRatios, 0.25, 4);
    const startRatios = fixed
      .filter((f) => f.switched && f.startS > 0)
      .map((f) => ({ value: Math.max(f.observedS - f.steadyS * overheadFactor, 0) / f.startS, weight: f.weight }));
    const calibration: Calibration = {
      compute: shrunkRatio(ratios.compute, 0.05, 20),
      sync: shrunkRatio(ratios.sync, 0.05, 20),
      overhead: overheadFactor,
      polls: shrunkRatio(ratios.polls, 0.05, 20),
      cost: shrunkRatio(ratios.cost, 0.5, 2),
      start: shrunkRatio(startRatios, 0.25, 4),
    };
    const gps = new Map<SyncName, GaussianProcess>();
    for (const sync of setting.strategies) {
      const points: GpPoint[] = [];
      for (const { o, stale } of usable) {
        if (o.sync !== sync) continue;
        const observedS = steadyIterationSeconds(o, model);
        if (observedS === undefined || !(observedS > 0)) continue;
        const config = configOf(o);
        const parts = model.iteration(config, o.batchSize / o.workers, calibration);
        points.push({ x: gpInput(setting, config), y: Math.log(observedS / (parts.computeS + parts.syncS)), ...(stale ? { extraNoiseSd: STALE_NOISE_SD } : {}) });
      }
      gps.set(sync, GaussianProcess.fit(points, { dimensions: 2, priors: { signalSd: 0.3, lengthScale: 0.5, noiseSd: 0.04, minNoiseSd: 0.02 } }));
    }
    // How far one epoch lands from a prediction made for a configuration already observed: the
    // weather of the store, drift. Prior: 5% (two pseudo-observations).
    let squares = 2 * EPOCH_NOISE_PRIOR ** 2;
    let count = 2;
    const seen = new Set<string>();
    for (const o of history.all) {
      const key = configKey(configOf(o));
      const observedS = o.outOfMemory ? undefined : steadyIterationSeconds(o, model);
      if (seen.has(key) && o.predictedIterationS !== undefined && observedS !== undefined) {
        squares += Math.log(observedS / o.predictedIterationS) ** 2;
        count++;
      }
      seen.add(key);
    }
    return new FittedModel(setting, calibration, gps, Math.sqrt(squares / count), spreadOf([{ ratios: overheadRatios, factor: calibration.overhead }, { ratios: startRatios, factor: calibration.start }], OVERHEAD_PRIOR_SD));
  }

  /** The mean iteration time the fit predicts for a configuration, and the GP's sd (log scale). */
  predictIteration(config: Config, batchSize: number): { meanS: number; sigma: number } {
    const parts = this.setting.model.iteration(config, batchSize / config.workers, this.calibration);
    const gp = this.gps.get(config.sync) ?? [...this.gps.values()][0];
    const { mean, sd } = gp.predict(gpInput(this.setting, config));
    return { meanS: (parts.computeS + parts.syncS) * Math.exp(mean), sigma: sd };
  }

  /** The GP's residual at a configuration (cached for the life of this fit). */
  residual(config: Config): { mean: number; sd: number } {
    const key = configKey(config);
    let prediction = this.gpCache.get(key);
    if (!prediction) {
      prediction = this.gps.get(config.sync)!.predict(gpInput(this.setting, config));
      this.gpCache.set(key, prediction);
    }
    return prediction;
  }

  /** One epoch of `shape` when its log residual is `r` (and its fixed costs `overheadScale` times the fit's). */
  epochAt(shape: EpochShape, r: number, overheadScale = 1): { timeS: number; costUsd: number } {
    const { model } = this.setting;
    const scale = Math.exp(r);
    const iterationS = shape.modelS * scale;
    const runS = shape.iterations * iterationS;
    const overhead = model.epochOverhead(shape.config, runS, overheadContext(this.setting, shape.config, shape.switched, shape.iterations), this.calibration);
    const timeS = runS + overhead.overheadS * overheadScale;
    const costUsd = epochCostUsd(
      this.setting,
      {
        config: shape.config,
        iterations: shape.iterations,
        durationS: timeS,
        launchS: overhead.launchS,
        epochEndS: overhead.epochEndS,
        continuations: overhead.continuations,
        switched: shape.switched,
        syncS: shape.parts.syncS * scale,
      },
      this.calibration,
    );
    return { timeS, costUsd };
  }

  /**
   * `epochs` epochs of `shape` when its log residual is `r`: a switch to its configuration (cold
   * starts, data downloads) is paid by the first epoch only.
   */
  groupAt(shape: EpochShape & { epochs: number }, r: number, overheadScale = 1): { timeS: number; costUsd: number } {
    const first = this.epochAt(shape, r, overheadScale);
    if (shape.epochs === 1 || !shape.switched) return { timeS: shape.epochs * first.timeS, costUsd: shape.epochs * first.costUsd };
    const rest = this.epochAt({ ...shape, switched: false }, r, overheadScale);
    return { timeS: first.timeS + (shape.epochs - 1) * rest.timeS, costUsd: first.costUsd + (shape.epochs - 1) * rest.costUsd };
  }
}

/** GP input: (log n, log m), each scaled to [0, 1] over the search space. */
function gpInput(setting: Setting, config: Config): number[] {
  const [low, high] = setting.range;
  return [Math.log(config.workers) / Math.log(Math.max(setting.maxWorkers, 2)), Math.log(config.memoryMb / low) / Math.log(high / low)];
}

interface Weighted {
  value: number;
  weight: number;
}

/**
 * Log-sd of ratios around their fitted factors, with `priorSd` counted as two observations: wide
 * before anything is seen, the observed spread once epochs are.
 */
function spreadOf(groups: Array<{ ratios: Weighted[]; factor: number }>, priorSd: number): number {
  let squares = 2 * priorSd ** 2;
  let weights = 2;
  for (const { ratios, factor } of groups) {
    for (const { value, weight } of ratios) {
      if (!(value > 0) || !Number.isFinite(value)) continue;
      squares += weight * Math.log(value / factor) ** 2;
      weights += weight;
    }
  }
  return Math.sqrt(squares / weights);
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
