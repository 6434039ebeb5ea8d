/** The scheduler's public types: what goes in (options, observations) and what comes out. */
import type { PriceTable, RequestCounts } from '../cost/prices.js';
import type { ChannelPrices } from '../cost/prices.js';
import type { SyncName } from '../spec/job-spec.js';
import type { BackendProfile, StaticProfileName } from '../sizing/profiles.js';
import type { OptimizerName } from '../spec/job-spec.js';
import type { Calibration, StoreNetworkModel } from './analytical.js';

export type Objective = 'time' | 'cost';

/** A prediction with its interval (`low`/`high` bound the planner's confidence level, two-sided 90% in reports). */
export interface Interval {
  expected: number;
  low: number;
  high: number;
}

export interface PlannerOptions {
  model: {
    paramCount: number;
    /** Bytes of one sample as a worker holds it (float32 features + label). */
    bytesPerSample: number;
    optimizer?: OptimizerName;
    /** Activation bytes per sample kept for the backward pass (see sizing/memory.ts); default rough. */
    activationBytesPerSample?: number;
    /** The largest weight and layer output (per sample), in values: a webgpu worker must bind each (sizing/memory.ts). */
    largestTensor?: { weightValues: number; activationValuesPerSample: number };
    /**
     * The profiler's input: gradient step time per sample at one vCPU of the backend, ms
     * (e.g. a short local probe, `service/estimate.ts`). Observations calibrate it.
     */
    computeMsPerSample: number;
    /** Fixed cost of a training step at one vCPU, whatever its batch (kernel dispatch, the loss, the update), ms (default 0). */
    stepMs?: number;
    /** Optimizer update at one vCPU, ms per million parameters (default 6). */
    applyMsPerMillionParams?: number;
  };
  workload: {
    /** Training samples per epoch (after the held-out split). */
    samplesPerEpoch: number;
    /** Samples the orchestrator evaluates after each epoch (default 0). */
    heldOutSamples?: number;
    epochs: number;
    /** Global batch size of an epoch: a number, or a schedule (e.g. a batch that grows mid-training). */
    batchSize: number | ((epoch: number) => number);
  };
  platform: {
    /** Default [128, 10240] (Lambda). */
    memoryRangeMb?: readonly [number, number];
    /** Per-invocation limit (Lambda: 900 s); default 900,000. */
    timeLimitMs?: number;
    /** A worker checkpoints and returns `continue` this long before the limit (default min(30 s, limit/10)). */
    safetyMarginMs?: number;
    /** Largest worker count to consider (default 256). */
    maxWorkers?: number;
    /** Default: Lambda x86_64 + S3 (cost/prices.ts). */
    prices?: PriceTable;
    backend: BackendProfile | StaticProfileName;
    /** Overrides of the store/network figures (defaults: CALIBRATION.md medians). */
    network?: Partial<StoreNetworkModel>;
    /**
     * Workers are processes on one machine with this many cores (the local platform): memory buys
     * no CPU there and the workers share the cores. Default: Lambda, where memory sizes the CPU.
     */
    sharedCores?: number;
    /** Strategies the planner may choose between (default ['hierarchical']). */
    syncStrategies?: readonly SyncName[];
    /**
     * Gradients go through an in-memory channel priced per GB moved and per hour (Redis), not
     * through the store's billed requests; pair it with `network: REDIS_NETWORK`.
     */
    channel?: ChannelPrices;
  };
  constraints: {
    deadlineS?: number;
    budgetUsd?: number;
    objective: Objective;
    /** One-sided confidence the plan meets the deadline and budget with (default 0.95). */
    confidence?: number;
  };
  search?: {
    /** Exploratory epochs allowed (default 3; the paper used 2 initial probes + 3 BO iterations). */
    maxProbes?: number;
    /** Worker counts to consider (default: every divisor of the batch size up to maxWorkers). */
    workerCounts?: readonly number[];
    /** Memory sizes to consider (default: sizing's useful sizes per backend). */
    memorySizesMb?: readonly number[];
    /** Relative deviation from prediction that counts as drift (default 0.2). */
    driftThreshold?: number;
  };
  /** Injected random source in [0, 1) (tie-breaks); the planner never calls Math.random. */
  random: () => number;
  /** Injected clock, ms since the epoch (only stamped on explanations); never Date.now. */
  now: () => number;
}

/**
 * What one epoch showed. `computeMs` and `syncMs` are per worker, summed over the epoch's
 * iterations and averaged over workers (the `worker_finished` events: see `summarizeWorkers`).
 */
export interface EpochObservation {
  epoch: number;
  workers: number;
  memoryMb: number;
  sync?: SyncName;
  /** Global batch of that epoch; default from the workload. */
  batchSize?: number;
  iterations: number;
  /** Wall time of the epoch, launch to checkpoint. */
  durationS: number;
  costUsd: number;
  computeMs?: number;
  syncMs?: number;
  /**
   * The share of the iterations `computeMs`/`syncMs` were measured on at the workers' steady pace
   * (past a fresh process's warm-up); 0: all were warm-up, they calibrate nothing. Default 1.
   */
  steadyShare?: number;
  /** Store requests of the epoch, all workers (the cost meter's counts). */
  requests?: RequestCounts;
  /** A worker ran out of memory at this size: the planner sizes up. */
  outOfMemory?: boolean;
}

export interface Progress {
  elapsedS: number;
  spentUsd: number;
}

export interface ConfigPrediction {
  workers: number;
  memoryMb: number;
  sync: SyncName;
  /** Iteration time at the current epoch's batch size. */
  iterationS: Interval;
  epochS: Interval;
  epochCostUsd: Interval;
  /** The rest of the job (this epoch included) when this configuration runs now and the plan after it. */
  remainingS: Interval;
  remainingCostUsd: Interval;
  /** How many epochs were observed at this configuration. */
  observedEpochs: number;
}

export type Trigger = 'initial' | 'epoch-end' | 'batch-size-change' | 'drift' | 'out-of-memory' | 'budget-guard';
export type BindingConstraint = 'deadline' | 'budget' | 'none';

export interface Decision {
  action: 'run' | 'stop';
  /** Why a `stop`: every epoch is done, the budget guard, or no configuration fits the model. */
  stop?: 'done' | 'budget' | 'no-fit';
  epoch: number;
  workers: number;
  memoryMb: number;
  sync: SyncName;
  batchSize: number;
  iterations: number;
  /** An exploratory configuration (counted against maxProbes). */
  probe: boolean;
  /** One sentence for the user (the orchestrator's `plan` event carries it). */
  reason: string;
  predicted: { iterationS: Interval; epochS: Interval; epochCostUsd: Interval };
}

export interface Advice {
  /** Total budget (spent included) the deadline needs at the planner's confidence. */
  budgetNeededUsd?: number;
  /** Earliest deadline (seconds from the start) the budget allows at the planner's confidence. */
  earliestDeadlineS?: number;
  message: string;
}

export interface PlanSegment {
  fromEpoch: number;
  /** Inclusive. */
  toEpoch: number;
  batchSize: number;
  workers: number;
  memoryMb: number;
  sync: SyncName;
  iterationsPerEpoch: number;
}

export interface Estimate {
  /** Deadline and budget both hold at the planner's confidence. */
  feasible: boolean;
  /** The confidence the chosen plan meets its constraints with (the requested one when feasible). */
  confidence: number;
  /** Whole job, elapsed included; 90% interval. */
  timeS: Interval;
  /** Whole job, spend included; 90% interval. */
  costUsd: Interval;
  remainingS: Interval;
  remainingCostUsd: Interval;
  plan: PlanSegment[];
  binding: BindingConstraint;
  advice?: Advice;
}

export interface ObservationView {
  epoch: number;
  workers: number;
  memoryMb: number;
  sync: SyncName;
  batchSize: number;
  /** Mean iteration time observed (absent when the epoch ran out of memory). */
  iterationS?: number;
  outOfMemory?: true;
  /** What the planner predicted for it when it chose it (absent for the first epoch's prior). */
  predictedIterationS?: number;
  stale: boolean;
}

export interface Explanation {
  epoch: number;
  decidedAtMs: number;
  action: Decision['action'];
  triggers: Trigger[];
  observations: ObservationView[];
  calibration: Calibration;
  gp: Array<{ sync: SyncName; points: number; lengthScales: number[]; signalSd: number; noiseSd: number; jitter: number }>;
  chosen: ConfigPrediction;
  runnerUp?: ConfigPrediction;
  binding: BindingConstraint;
  feasible: boolean;
  confidence: number;
  probes: { used: number; max: number; expectedGain?: number; probeCost?: number };
  advice?: Advice;
  reason: string;
}
