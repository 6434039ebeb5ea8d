/**
 * What the adaptive scheduler starts from, before launch: the backend the workers will compute
 * with (service/backend-choice.ts), a probe of the real gradient step on it in this process, and
 * the planner built on it. Its `estimate()` is the one estimate SMLT shows —
 * `smlt plan`, the editors' prompts, `POST /v1/estimate` and the run's first plan — and the
 * planner refines it with what it observes during the run.
 */
import type { Captured } from '../capture/capture.js';
import { splitHoldout } from '../data/dataset.js';
import { adaptivePlanEpoch, type AdaptivePlan } from '../run/adaptive-plan.js';
import type { ChannelName } from '../scheduler/channel-choice.js';
import type { Estimate as PlannerEstimate, Objective } from '../scheduler/types.js';
import type { Platform } from '../backends/ports.js';
import { type BackendChoice, chooseBackend } from './backend-choice.js';
import { type Probe, probeCostUsd } from './step-probe.js';
import type { Estimate } from './run-service.js';

export interface AdaptiveInput {
  platform: Pick<Platform, 'name' | 'pricing' | 'timeLimitMs' | 'memoryRangeMb'>;
  constraints: { deadlineS?: number; budgetUsd?: number; objective: Objective };
  /** Fix the worker count (the planner still chooses memory and guards the budget). */
  workers?: number;
  /** Fix the memory size. */
  memoryMb?: number;
  /** Channels the planner may use (several: it chooses). */
  channels?: readonly ChannelName[];
}

export interface AdaptiveSetup {
  adaptive: AdaptivePlan;
  /** The backend every worker computes with, and why. */
  backend: BackendChoice;
  computeMsPerSample: number;
  probe: Probe;
  trainSamples: number;
}

/**
 * Probes the gradient step and creates the adaptive planner for a run of `captured` (the
 * orchestrator's `planEpoch` and, before launch, `planner.estimate()`).
 */
export async function setupAdaptive(captured: Captured, input: AdaptiveInput): Promise<AdaptiveSetup> {
  const { spec, dataset } = captured;
  const { train, holdout } = splitHoldout(dataset, spec.training.validationSplit);
  // At the largest per-worker batch the run can have (and a quarter of it, inside the probe).
  const batch = Math.max(1, Math.floor(spec.training.batchSize / (input.workers ?? 1)));
  const { choice: backend, probe } = await chooseBackend(captured, batch, input.platform);
  const { computeMsPerSample } = probe;
  const adaptive = adaptivePlanEpoch({
    spec,
    trainSamples: train.count,
    heldOutSamples: holdout.count,
    platform: input.platform,
    constraints: input.constraints,
    computeMsPerSample,
    stepMs: probe.stepMs,
    backend: backend.profile,
    largestTensor: probe.largestTensor,
    ...(input.workers !== undefined ? { workerCounts: [input.workers] } : {}),
    ...(input.memoryMb !== undefined ? { memorySizesMb: [input.memoryMb] } : {}),
    ...(input.channels ? { channels: input.channels } : {}),
  });
  return { adaptive, backend, computeMsPerSample, probe, trainSamples: train.count };
}

/** The service's Estimate from the planner's (the first phase's configuration; advice when infeasible). */
export function estimateFromPlanner(estimate: PlannerEstimate, epochs: number, setup: Pick<AdaptiveSetup, 'probe' | 'backend'>, platform: string): Estimate {
  const { probe, backend } = setup;
  const first = estimate.plan[0];
  const { computeMsPerSample } = probe;
  return {
    platform,
    workers: first?.workers ?? 1,
    memoryMb: first?.memoryMb ?? 0,
    iterationsPerEpoch: first?.iterationsPerEpoch ?? 0,
    epochs,
    timeS: { ...estimate.timeS },
    costUsd: { ...estimate.costUsd },
    computeMsPerSample,
    probe: { steps: probe.steps, seconds: probe.seconds, costUsd: probeCostUsd(probe, first?.memoryMb ?? 1769) },
    backend: { name: backend.name, reason: backend.reason },
    feasible: estimate.feasible,
    ...(estimate.advice ? { advice: estimate.advice.message } : {}),
  };
}
