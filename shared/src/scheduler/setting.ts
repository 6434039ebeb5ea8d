/**
 * What the planner knows before anything runs, read once from its options: the analytical model,
 * the backend's profile, prices, limits, the sync strategies and the confidence levels it plans at.
 */
import { PRICE_TABLES, type PriceTable } from '../cost/prices.js';
import type { SyncName } from '../spec/job-spec.js';
import { BACKEND_PROFILES, type BackendProfile } from '../sizing/profiles.js';
import { AnalyticalModel, type Config, DEFAULT_NETWORK } from './analytical.js';
import { normalQuantile } from './stats.js';
import type { PlannerOptions } from './types.js';

export interface Setting {
  readonly options: PlannerOptions;
  readonly model: AnalyticalModel;
  readonly profile: BackendProfile;
  readonly prices: PriceTable;
  readonly range: readonly [number, number];
  readonly timeLimitS: number;
  readonly safetyMarginS: number;
  readonly maxWorkers: number;
  readonly strategies: readonly SyncName[];
  /** z of the requested confidence. */
  readonly zPlan: number;
  /** The confidence levels a plan is searched at, most cautious first: the requested one, half of it in z, expected values. */
  readonly zLevels: number[];
  readonly maxProbes: number;
  readonly driftThreshold: number;
}

export function plannerSetting(options: PlannerOptions): Setting {
  const { platform, model, constraints } = options;
  const profile = typeof platform.backend === 'string' ? BACKEND_PROFILES[platform.backend] : platform.backend;
  const analytical = new AnalyticalModel(
    {
      paramCount: model.paramCount,
      optimizer: model.optimizer ?? 'adam',
      bytesPerSample: model.bytesPerSample,
      computeMsPerSample: model.computeMsPerSample,
      stepMs: model.stepMs ?? 0,
      applyMsPerMillionParams: model.applyMsPerMillionParams ?? 6,
      heldOutSamples: options.workload.heldOutSamples ?? 0,
    },
    profile,
    { ...DEFAULT_NETWORK, ...platform.network },
    platform.sharedCores,
  );
  const limitMs = platform.timeLimitMs ?? 900_000;
  const confidence = constraints.confidence ?? 0.95;
  if (!(confidence > 0.5 && confidence < 1)) throw new RangeError(`confidence must be in (0.5, 1), got ${confidence}`);
  const zPlan = normalQuantile(confidence);
  if (!(options.workload.samplesPerEpoch > 0) || !(options.workload.epochs > 0)) {
    throw new RangeError('workload.samplesPerEpoch and workload.epochs must be positive');
  }
  return {
    options,
    model: analytical,
    profile,
    prices: platform.prices ?? PRICE_TABLES['lambda-x86_64'],
    range: platform.memoryRangeMb ?? [128, 10_240],
    timeLimitS: limitMs / 1000,
    safetyMarginS: (platform.safetyMarginMs ?? Math.min(30_000, limitMs / 10)) / 1000,
    maxWorkers: platform.maxWorkers ?? 256,
    strategies: platform.syncStrategies?.length ? platform.syncStrategies : ['hierarchical'],
    zPlan,
    zLevels: [zPlan, zPlan / 2, 0],
    maxProbes: options.search?.maxProbes ?? 3,
    driftThreshold: options.search?.driftThreshold ?? 0.2,
  };
}

/** The global batch size of `epoch` (the workload's number or schedule), checked. */
export function batchSizeOf(setting: Setting, epoch: number): number {
  const { batchSize } = setting.options.workload;
  const value = typeof batchSize === 'function' ? batchSize(epoch) : batchSize;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`batch size of epoch ${epoch} must be a positive integer, got ${value}`);
  return value;
}

/** What the analytical model needs to know of an epoch's setting to price its overheads. */
export function overheadContext(setting: Setting, config: Config, switched: boolean, iterations: number) {
  return {
    switched,
    iterations,
    partitionBytes: (setting.options.workload.samplesPerEpoch / config.workers) * setting.options.model.bytesPerSample,
    timeLimitS: setting.timeLimitS,
    safetyMarginS: setting.safetyMarginS,
  };
}
