/**
 * Wires the adaptive scheduler (scheduler/) into the orchestrator's `planEpoch` hook: before each
 * epoch it observes the epochs recorded since the last call, asks the planner for the next
 * configuration and returns it with the planner's one-sentence reason. When the budget guard says
 * stop, it throws `BUDGET_EXHAUSTED` so the run ends cleanly, checkpoint and report kept, before
 * the spend passes the budget.
 */
import { availableParallelism } from 'node:os';
import { typicalWorkerStartS } from '../backends/local/worker-starts.js';
import type { Platform } from '../backends/ports.js';
import { FOLDER_STORE_NETWORK, type StoreNetworkModel } from '../scheduler/analytical.js';
import { PRICE_TABLES } from '../cost/prices.js';
import { mulberry32 } from '../data/order.js';
import { SmltError } from '../errors.js';
import { createPlanner, divisors, type Planner } from '../scheduler/index.js';
import { observationFromRecord } from './observations.js';
import { type ChannelName, channelPlatform, chooseChannel } from '../scheduler/channel-choice.js';
import type { Decision, Objective, PlannerOptions } from '../scheduler/types.js';
import type { BackendProfile, StaticProfileName } from '../sizing/profiles.js';
import { sampleBytes } from '../sizing/memory.js';
import type { JobSpec } from '../spec/job-spec.js';
import type { EpochConfig, EpochFailure, RunOptions } from './run-options.js';
import type { EpochRecord } from './run-state.js';

/** Local workers share one machine: more than this many processes only contend for its cores. */
export const LOCAL_MAX_WORKERS = 16;

export interface AdaptivePlanInput {
  spec: JobSpec;
  /** Training samples per epoch (after the held-out split). */
  trainSamples: number;
  /** Held-out samples the orchestrator evaluates after each epoch (default 0). */
  heldOutSamples?: number;
  platform: Pick<Platform, 'name' | 'pricing' | 'timeLimitMs' | 'memoryRangeMb'>;
  constraints: { deadlineS?: number; budgetUsd?: number; objective: Objective };
  /** The profiler's measurement (service/estimate.ts `probeGradientStep`): per sample, and fixed per step. */
  computeMsPerSample: number;
  stepMs?: number;
  /** The backend workers compute with (default wasm-simd). */
  backend?: BackendProfile | StaticProfileName;
  /** The model's largest weight and layer output per sample, in values (a webgpu worker binds each whole). */
  largestTensor?: { weightValues: number; activationValuesPerSample: number };
  /** Worker counts to choose from (default: the divisors of the batch size up to maxWorkers). */
  workerCounts?: readonly number[];
  /** Memory sizes to choose from (default: sizing's useful sizes within the platform's range). */
  memorySizesMb?: readonly number[];
  /** Largest worker count (default 16, the local machine). */
  maxWorkers?: number;
  /** Clock, ms (default Date.now); only the elapsed time and explanations use it. */
  now?: () => number;
  /**
   * Channels gradients may go through (default the store). One: the planner models it; several:
   * the planner chooses among them with the workers and memory (`AdaptivePlan.channel`).
   */
  channels?: readonly ChannelName[];
}

export interface AdaptivePlan {
  planEpoch: NonNullable<RunOptions['planEpoch']>;
  planner: Planner;
  /** The decisions made so far, in order. */
  decisions: Decision[];
  /** Worker counts the planner may choose from. */
  workerCounts: number[];
  /** The channel the plan is for, and why (when the planner chose among several). */
  channel: { name: ChannelName; reason?: string };
}

export function adaptivePlanEpoch(input: AdaptivePlanInput): AdaptivePlan {
  const { spec, platform, constraints } = input;
  const now = input.now ?? (() => Date.now());
  const batchSize = spec.training.batchSize;
  // Counts the caller fixed are taken as given; the local limit applies to the planner's own choice.
  const maxWorkers = Math.max(input.maxWorkers ?? LOCAL_MAX_WORKERS, ...(input.workerCounts ?? []));
  const workerCounts = (input.workerCounts ?? divisors(batchSize)).filter(
    (n) => Number.isInteger(n) && n >= 1 && n <= maxWorkers && batchSize % n === 0 && Math.floor(Math.floor(input.trainSamples / n) / (batchSize / n)) >= 1,
  );
  if (workerCounts.length === 0) {
    throw new SmltError(
      'OPTION_INVALID',
      input.workerCounts
        ? `The batch size ${batchSize} does not split evenly over ${input.workerCounts.join(' or ')} workers ` +
            `(or leaves no full batch of the ${input.trainSamples} training samples); choose other --workers or use --workers auto.`
        : `The batch size ${batchSize} is larger than the ${input.trainSamples} training samples; choose a smaller batchSize.`,
    );
  }
  const options: PlannerOptions = {
    model: {
      paramCount: spec.model.paramCount,
      bytesPerSample: sampleBytes(spec.data.xShape, spec.data.yShape),
      optimizer: spec.training.optimizer,
      computeMsPerSample: input.computeMsPerSample,
      ...(input.largestTensor ? { largestTensor: input.largestTensor } : {}),
      // A measured step (setupAdaptive's probe) already includes the optimizer's update.
      ...(input.stepMs !== undefined ? { stepMs: input.stepMs, applyMsPerMillionParams: 0 } : {}),
    },
    workload: { samplesPerEpoch: input.trainSamples, heldOutSamples: input.heldOutSamples ?? 0, epochs: spec.training.epochs, batchSize },
    platform: {
      backend: input.backend ?? 'wasm-simd',
      memoryRangeMb: platform.memoryRangeMb,
      timeLimitMs: platform.timeLimitMs,
      maxWorkers,
      prices: PRICE_TABLES[platform.pricing],
      // Local workers are processes on this machine around a folder store, not Lambda and S3,
      // and start as fast as they last did here.
      ...(platform.name === 'local' ? { network: localNetwork(), sharedCores: availableParallelism() } : {}),
    },
    constraints: {
      objective: constraints.objective,
      ...(constraints.deadlineS !== undefined ? { deadlineS: constraints.deadlineS } : {}),
      ...(constraints.budgetUsd !== undefined ? { budgetUsd: constraints.budgetUsd } : {}),
    },
    search: { workerCounts, ...(input.memorySizesMb ? { memorySizesMb: input.memorySizesMb } : {}) },
    random: mulberry32(spec.training.seed ^ 0x5bd1e995),
    now,
  };
  const channels = input.channels?.length ? input.channels : (['store'] as const);
  const choice = channels.length > 1 ? chooseChannel(options, channels) : undefined;
  const channel = { name: choice?.channel ?? channels[0]!, ...(choice ? { reason: choice.reason } : {}) };
  const planner = choice?.planner ?? createPlanner({ ...options, platform: { ...options.platform, ...channelPlatform(channel.name) } });

  const decisions: Decision[] = [];
  let seen = 0;
  let startedAtMs: number | undefined;
  let elapsedBeforeS = 0;

  const planEpoch = (epoch: number, previous: EpochRecord[], failure?: EpochFailure): EpochConfig => {
    if (startedAtMs === undefined) {
      startedAtMs = now();
      // A resumed run: the epochs before count as elapsed.
      elapsedBeforeS = previous.reduce((s, r) => s + r.durationS, 0);
    }
    for (; seen < previous.length; seen++) {
      const record = previous[seen]!;
      // The workers' compute/sync split lets the planner calibrate each term of its model.
      const split =
        record.computeMs !== undefined && record.syncMs !== undefined
          ? { computeMs: record.computeMs, syncMs: record.syncMs, ...(record.steadyShare !== undefined ? { steadyShare: record.steadyShare } : {}) }
          : {};
      planner.observe({ ...observationFromRecord(record, batchSize), ...split });
    }
    if (failure) {
      const { workers, memoryMb } = failure.outOfMemory;
      planner.observe({ epoch, workers, memoryMb, batchSize, iterations: 0, durationS: 0, costUsd: 0, outOfMemory: true });
    }
    const spentUsd = previous.reduce((s, r) => s + r.costUsd, 0);
    const elapsedS = elapsedBeforeS + (now() - startedAtMs) / 1000;
    const decision = planner.next({ elapsedS, spentUsd });
    decisions.push(decision);
    const planned = planner.explain()?.reason ?? decision.reason;
    // The first plan also says which channel was chosen, and why.
    const reason = decisions.length === 1 && channel.reason ? `${channel.reason} ${planned}` : planned;
    if (decision.action === 'stop') {
      if (decision.stop === 'budget') {
        // The planner's reason says what was spent of the budget and what the next epoch could cost.
        const stopReason = decision.reason || reason;
        throw new SmltError(
          'BUDGET_EXHAUSTED',
          `${stopReason} Stopped before epoch ${epoch + 1} of ${spec.training.epochs}; the last checkpoint and report are kept.`,
        );
      }
      if (decision.stop === 'no-fit') {
        throw new SmltError('OPTION_INVALID', `No configuration fits this model: ${reason}`);
      }
      throw new SmltError('RUN_FAILED', `The scheduler stopped before epoch ${epoch + 1} of ${spec.training.epochs}: ${reason}`);
    }
    return { workers: decision.workers, memoryMb: decision.memoryMb, reason };
  };
  return { planEpoch, planner, decisions, workerCounts, channel };
}

/** The folder store's model, with this machine's remembered worker start when there is one. */
function localNetwork(): Partial<StoreNetworkModel> {
  const coldStartS = typicalWorkerStartS();
  return coldStartS === undefined ? FOLDER_STORE_NETWORK : { ...FOLDER_STORE_NETWORK, coldStartS };
}
