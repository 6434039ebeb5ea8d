/**
 * Runs a whole training job in the simulated cloud under a policy: the real planner (with the
 * real cost model) or a fixed configuration. Pure and seeded: the same inputs give the same run.
 */
import { mulberry32 } from '../data/order.js';
import type { SyncName } from '../spec/job-spec.js';
import { createPlanner, type Planner } from '../scheduler/planner.js';
import type { Decision, Estimate, Objective, PlannerOptions } from '../scheduler/types.js';
import { DEFAULT_SIM_PARAMS, type SimEpochResult, type SimParams, SimulatedCloud } from './cloud.js';
import { noiseNormal } from './random.js';
import type { SimWorkload } from './workloads.js';

export type SimPolicy =
  | { kind: 'planner'; maxProbes?: number; confidence?: number; syncStrategies?: readonly SyncName[] }
  | { kind: 'fixed'; workers: number; memoryMb: number; sync: SyncName };

export interface SimRunInput {
  workload: SimWorkload;
  seed: number;
  policy: SimPolicy;
  deadlineS?: number;
  budgetUsd?: number;
  objective?: Objective;
  params?: SimParams;
  /** Relative error (log-sd) of the profiler's compute estimate the planner starts from (default 0.3). */
  profilerErrorSd?: number;
  /** Keep the planner's explanations (costly for big benchmarks). */
  keepExplanations?: boolean;
}

export interface SimRunResult {
  completed: boolean;
  epochsDone: number;
  durationS: number;
  costUsd: number;
  metDeadline: boolean;
  overBudget: boolean;
  stoppedByGuard: boolean;
  outOfMemoryEpochs: number;
  probes: number;
  epochs: Array<SimEpochResult & { probe: boolean; reason: string }>;
  /** The planner's estimate before launch. */
  estimateBefore?: Estimate;
  /** The planner's estimate of the remaining job after the first epoch, and what it really took. */
  afterFirstEpoch?: { predictedS: number; predictedUsd: number; actualS: number; actualUsd: number };
  decisions: Decision[];
  explanations: NonNullable<ReturnType<Planner['explain']>>[];
}

/** The planner's options for a simulated workload: what a real run would know before launch. */
export function plannerOptionsFor(input: SimRunInput): PlannerOptions {
  const { workload, seed } = input;
  const policy = input.policy.kind === 'planner' ? input.policy : { kind: 'planner' as const };
  const profilerError = Math.exp((input.profilerErrorSd ?? 0.3) * noiseNormal(seed, -1, 'profiler'));
  const params = input.params ?? DEFAULT_SIM_PARAMS;
  let clockMs = 0;
  return {
    model: {
      paramCount: workload.paramCount,
      bytesPerSample: workload.bytesPerSample,
      optimizer: workload.optimizer,
      activationBytesPerSample: workload.activationBytesPerSample,
      computeMsPerSample: workload.truth.computeMsPerSample * profilerError,
    },
    workload: { samplesPerEpoch: workload.samplesPerEpoch, epochs: workload.epochs, batchSize: workload.batchSize },
    platform: {
      backend: workload.backend,
      timeLimitMs: params.timeLimitS * 1000,
      safetyMarginMs: params.safetyMarginS * 1000,
      maxWorkers: 256,
      prices: params.prices,
      ...(policy.syncStrategies ? { syncStrategies: policy.syncStrategies } : {}),
    },
    constraints: {
      objective: input.objective ?? 'cost',
      ...(input.deadlineS !== undefined ? { deadlineS: input.deadlineS } : {}),
      ...(input.budgetUsd !== undefined ? { budgetUsd: input.budgetUsd } : {}),
      ...(policy.confidence !== undefined ? { confidence: policy.confidence } : {}),
    },
    search: { maxProbes: policy.maxProbes ?? 3 },
    random: mulberry32(seed ^ 0x5bd1e995),
    now: () => (clockMs += 1000),
  };
}

export function simulateRun(input: SimRunInput): SimRunResult {
  const { workload, seed } = input;
  const cloud = new SimulatedCloud(workload, seed, input.params ?? DEFAULT_SIM_PARAMS);
  const result: SimRunResult = {
    completed: false,
    epochsDone: 0,
    durationS: 0,
    costUsd: 0,
    metDeadline: false,
    overBudget: false,
    stoppedByGuard: false,
    outOfMemoryEpochs: 0,
    probes: 0,
    epochs: [],
    decisions: [],
    explanations: [],
  };
  const planner = input.policy.kind === 'planner' ? createPlanner(plannerOptionsFor(input)) : undefined;
  if (planner) result.estimateBefore = planner.estimate();
  let epoch = 0;
  // An epoch that ran out of memory is retried; bound the retries so a bad policy cannot loop.
  for (let attempts = 0; epoch < workload.epochs && attempts < workload.epochs * 4; attempts++) {
    let config: { workers: number; memoryMb: number; sync: SyncName };
    let probe = false;
    let reason = 'fixed configuration';
    if (planner) {
      const decision = planner.next({ elapsedS: result.durationS, spentUsd: result.costUsd });
      result.decisions.push(decision);
      if (input.keepExplanations) result.explanations.push(planner.explain()!);
      if (decision.action === 'stop') {
        result.stoppedByGuard = decision.stop === 'budget';
        break;
      }
      config = decision;
      probe = decision.probe;
      reason = decision.reason;
    } else {
      config = input.policy as { workers: number; memoryMb: number; sync: SyncName };
    }
    const outcome = cloud.runEpoch(epoch, config);
    result.durationS += outcome.durationS;
    result.costUsd += outcome.costUsd;
    result.epochs.push({ ...outcome, probe, reason });
    if (probe) result.probes++;
    planner?.observe({
      epoch,
      workers: outcome.workers,
      memoryMb: outcome.memoryMb,
      sync: outcome.sync,
      batchSize: outcome.batchSize,
      iterations: outcome.iterations,
      durationS: outcome.durationS,
      costUsd: outcome.costUsd,
      computeMs: outcome.computeMs,
      syncMs: outcome.syncMs,
      requests: outcome.requests,
      outOfMemory: outcome.outOfMemory,
    });
    if (outcome.outOfMemory) {
      result.outOfMemoryEpochs++;
      if (!planner) break; // a fixed configuration that does not fit never will
      continue;
    }
    epoch++;
    if (planner && epoch === 1 && epoch < workload.epochs) {
      const estimate = planner.estimate({ elapsedS: result.durationS, spentUsd: result.costUsd });
      result.afterFirstEpoch = { predictedS: estimate.remainingS.expected, predictedUsd: estimate.remainingCostUsd.expected, actualS: -result.durationS, actualUsd: -result.costUsd };
    }
  }
  result.epochsDone = epoch;
  result.completed = epoch >= workload.epochs;
  if (result.afterFirstEpoch) {
    result.afterFirstEpoch.actualS += result.durationS;
    result.afterFirstEpoch.actualUsd += result.costUsd;
  }
  result.metDeadline = result.completed && (input.deadlineS === undefined || result.durationS <= input.deadlineS);
  result.overBudget = input.budgetUsd !== undefined && result.costUsd > input.budgetUsd;
  return result;
}
