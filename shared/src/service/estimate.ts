/**
 * A first estimate of a run's time and cost before launch, for the prompts in the editors and
 * `POST /v1/estimate`: a short probe of the real gradient step in this process, plus a simple
 * model of synchronization through the store. The adaptive scheduler refines this with what it
 * observes during the run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Captured } from '../capture/capture.js';
import { invocationCostUsd, storageRequestsCostUsd } from '../cost/cost.js';
import { iterationRequests } from '../cost/epoch-cost.js';
import { splitHoldout } from '../data/dataset.js';
import { buildModel } from '../model/build.js';
import { computeGradients, lossFunction } from '../model/training.js';
import { adaptivePlanEpoch, type AdaptivePlan } from '../run/adaptive-plan.js';
import type { ChannelName } from '../scheduler/channel-choice.js';
import type { Estimate as PlannerEstimate, Objective } from '../scheduler/types.js';
import { profileOfBackend } from '../sizing/profiles.js';
import type { Platform } from '../backends/ports.js';
import { backendInfo, initBackend } from '../tf/backend.js';
import type { Estimate } from './run-service.js';

export interface EstimateInput {
  workers: number;
  memoryMb: number;
  deadlineS?: number;
  budgetUsd?: number;
}

/** Probe iterations after one warm-up step. */
const PROBE_STEPS = 3;
/** Per-request latency of the local folder store with inotify wake-ups (measured: ~0.6 ms a put). */
const STORE_REQUEST_MS = 0.8;
/** Relative spread of the prediction: probes are short and the machine is shared. */
const LOW = 0.7;
const HIGH = 1.5;

export async function estimateRun(captured: Captured, input: EstimateInput): Promise<Estimate> {
  const { spec, dataset } = captured;
  const { workers, memoryMb } = input;
  const perWorkerBatch = Math.max(1, Math.floor(spec.training.batchSize / workers));
  const { train } = splitHoldout(dataset, spec.training.validationSplit);
  const iterationsPerEpoch = Math.max(1, Math.floor(Math.floor(train.count / workers) / perWorkerBatch));
  const probe = await probeComputeMsPerSample(captured, perWorkerBatch);
  const { computeMsPerSample } = probe;

  // Hierarchical sync plus each rank's marker, all workers; each worker makes its share in turn.
  const perIteration = iterationRequests('hierarchical', workers);
  const gradientBytes = spec.model.paramCount * 4;
  const syncMs = workers > 1 ? ((perIteration.put + perIteration.get) / workers) * STORE_REQUEST_MS + (3 * gradientBytes) / 5e5 : 0;
  const iterationMs = computeMsPerSample * perWorkerBatch + syncMs;
  const iterations = iterationsPerEpoch * spec.training.epochs;
  const timeS = (iterations * iterationMs) / 1000;
  const costUsd =
    workers * invocationCostUsd(memoryMb, timeS * 1000) +
    storageRequestsCostUsd({ ...perIteration, put: perIteration.put * iterations, get: perIteration.get * iterations });

  const problems: string[] = [];
  if (input.deadlineS !== undefined && timeS * HIGH > input.deadlineS) {
    problems.push(`the predicted time (up to ${Math.ceil(timeS * HIGH)} s) exceeds the deadline of ${input.deadlineS} s`);
  }
  if (input.budgetUsd !== undefined && costUsd * HIGH > input.budgetUsd) {
    problems.push(`the predicted cost (up to $${(costUsd * HIGH).toFixed(4)}) exceeds the budget of $${input.budgetUsd}`);
  }
  return {
    workers,
    memoryMb,
    iterationsPerEpoch,
    epochs: spec.training.epochs,
    timeS: { expected: timeS, low: timeS * LOW, high: timeS * HIGH },
    costUsd: { expected: costUsd, low: costUsd * LOW, high: costUsd * HIGH },
    computeMsPerSample,
    probe: { steps: probe.steps, seconds: probe.seconds, costUsd: probeCostUsd(probe, memoryMb) },
    feasible: problems.length === 0,
    ...(problems.length > 0
      ? {
          advice:
            `${problems.join(' and ')}: allow at least ${Math.ceil(timeS * HIGH)} s and $${(costUsd * HIGH).toFixed(4)}, ` +
            'or train fewer epochs.',
        }
      : {}),
  };
}

/** What the probe measured, and what it took: it is training time too, so it is shown with its cost. */
export interface Probe {
  computeMsPerSample: number;
  steps: number;
  seconds: number;
}

/** As if the probe had run on one Lambda worker of `memoryMb`. */
export function probeCostUsd(probe: Probe, memoryMb: number): number {
  return invocationCostUsd(memoryMb, probe.seconds * 1000);
}

/** Milliseconds per sample of the real gradient step on this machine's backend (`batch` samples a step). */
export async function probeComputeMsPerSample(captured: Captured, batch: number): Promise<Probe> {
  const probeStarted = performance.now();
  await initBackend();
  const { spec, dataset } = captured;
  const model = await buildModel(spec.model.topology, { seed: spec.training.seed });
  const loss = lossFunction(spec.training);
  const n = Math.min(batch, dataset.count);
  const xSize = dataset.xShape.reduce((a, b) => a * b, 1);
  const ySize = dataset.yShape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(dataset.x.subarray(0, n * xSize), [n, ...dataset.xShape]);
  const y = tf.tensor(dataset.y.subarray(0, n * ySize), [n, ...dataset.yShape]);
  try {
    computeGradients(model, loss, x, y); // warm-up: kernels compile, buffers allocate
    const started = performance.now();
    for (let i = 0; i < PROBE_STEPS; i++) computeGradients(model, loss, x, y);
    const computeMsPerSample = (performance.now() - started) / PROBE_STEPS / n;
    return { computeMsPerSample, steps: PROBE_STEPS + 1, seconds: (performance.now() - probeStarted) / 1000 };
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
  }
}

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
  const { train } = splitHoldout(dataset, spec.training.validationSplit);
  // Probe at the per-worker batch of a mid-sized configuration (4 workers when the batch splits).
  const probeWorkers = input.workers ?? (spec.training.batchSize % 4 === 0 ? 4 : 1);
  const probe = await probeComputeMsPerSample(captured, Math.max(1, Math.floor(spec.training.batchSize / probeWorkers)));
  const { computeMsPerSample } = probe;
  const info = backendInfo();
  const adaptive = adaptivePlanEpoch({
    spec,
    trainSamples: train.count,
    platform: input.platform,
    constraints: input.constraints,
    computeMsPerSample,
    backend: profileOfBackend(info.name, { simd: info.simd }),
    ...(input.workers !== undefined ? { workerCounts: [input.workers] } : {}),
    ...(input.memoryMb !== undefined ? { memorySizesMb: [input.memoryMb] } : {}),
    ...(input.channels ? { channels: input.channels } : {}),
  });
  return { adaptive, computeMsPerSample, probe, trainSamples: train.count };
}

/** The service's Estimate from the planner's (the first phase's configuration; advice when infeasible). */
export function estimateFromPlanner(estimate: PlannerEstimate, epochs: number, probe: Probe): Estimate {
  const first = estimate.plan[0];
  const { computeMsPerSample } = probe;
  return {
    workers: first?.workers ?? 1,
    memoryMb: first?.memoryMb ?? 0,
    iterationsPerEpoch: first?.iterationsPerEpoch ?? 0,
    epochs,
    timeS: { ...estimate.timeS },
    costUsd: { ...estimate.costUsd },
    computeMsPerSample,
    probe: { steps: probe.steps, seconds: probe.seconds, costUsd: probeCostUsd(probe, first?.memoryMb ?? 1769) },
    feasible: estimate.feasible,
    ...(estimate.advice ? { advice: estimate.advice.message } : {}),
  };
}
