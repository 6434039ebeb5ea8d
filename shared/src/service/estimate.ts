/**
 * What the adaptive scheduler starts from, before launch: a probe of the real gradient step in
 * this process, and the planner built on it. Its `estimate()` is the one estimate SMLT shows —
 * `smlt plan`, the editors' prompts, `POST /v1/estimate` and the run's first plan — and the
 * planner refines it with what it observes during the run.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Captured } from '../capture/capture.js';
import { invocationCostUsd } from '../cost/cost.js';
import { splitHoldout } from '../data/dataset.js';
import { buildModel } from '../model/build.js';
import { applyGradient, computeGradients, createOptimizer, lossFunction } from '../model/training.js';
import { adaptivePlanEpoch, type AdaptivePlan } from '../run/adaptive-plan.js';
import type { ChannelName } from '../scheduler/channel-choice.js';
import type { Estimate as PlannerEstimate, Objective } from '../scheduler/types.js';
import { profileOfBackend } from '../sizing/profiles.js';
import type { Platform } from '../backends/ports.js';
import { backendInfo, initBackend } from '../tf/backend.js';
import type { Estimate } from './run-service.js';

/** Steps per half of a measurement at first; doubled until the two halves agree. */
const PROBE_STEPS = 3;
/** Two halves of a measurement agree when they differ by at most this (relative). */
const PROBE_AGREEMENT = 0.15;
/** A measurement stops doubling its steps after this long, agreed or not. */
const PROBE_MAX_MS = 1500;

/** What the probe measured, and what it took: it is training time too, so it is shown with its cost. */
export interface Probe {
  /** The gradient step's cost per sample, ms (the slope over the batch size). */
  computeMsPerSample: number;
  /** Its fixed cost per step, whatever the batch (kernel dispatch, the loss, the optimizer's update), ms. */
  stepMs: number;
  steps: number;
  seconds: number;
}

/** As if the probe had run on one Lambda worker of `memoryMb`. */
export function probeCostUsd(probe: Probe, memoryMb: number): number {
  return invocationCostUsd(memoryMb, probe.seconds * 1000);
}

/**
 * The real training step on this machine's backend — the gradient and the optimizer's update, as
 * a worker runs them — timed at two batch sizes (`batch` samples and a quarter of it) so that its
 * per-sample cost and its fixed cost per step are told apart; each size is timed in two halves,
 * doubling the steps until the halves agree within 15 %.
 */
export async function probeGradientStep(captured: Captured, batch: number): Promise<Probe> {
  const probeStarted = performance.now();
  await initBackend();
  const { spec, dataset } = captured;
  const model = await buildModel(spec.model.topology, { seed: spec.training.seed });
  const loss = lossFunction(spec.training);
  const optimizer = createOptimizer(spec.training);
  const high = Math.max(1, Math.min(batch, dataset.count));
  const low = Math.max(1, Math.floor(high / 4));
  let steps = 0;
  const msPerStep = async (n: number): Promise<number> => {
    const xSize = dataset.xShape.reduce((a, b) => a * b, 1);
    const ySize = dataset.yShape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(dataset.x.subarray(0, n * xSize), [n, ...dataset.xShape]);
    const y = tf.tensor(dataset.y.subarray(0, n * ySize), [n, ...dataset.yShape]);
    const timeSteps = async (k: number) => {
      const started = performance.now();
      for (let i = 0; i < k; i++) applyGradient(model, optimizer, (await computeGradients(model, loss, x, y)).gradient);
      steps += k;
      return (performance.now() - started) / k;
    };
    try {
      await timeSteps(1); // warm-up: kernels compile, buffers allocate
      const started = performance.now();
      for (let k = PROBE_STEPS; ; k *= 2) {
        const [a, b] = [await timeSteps(k), await timeSteps(k)];
        if (Math.abs(a - b) <= PROBE_AGREEMENT * Math.min(a, b) || performance.now() - started > PROBE_MAX_MS) return Math.min(a, b);
      }
    } finally {
      x.dispose();
      y.dispose();
    }
  };
  try {
    let atHigh = await msPerStep(high);
    let atLow = high > low ? await msPerStep(low) : atHigh;
    if (high > low && atHigh <= atLow) {
      // A larger batch measured no slower: noise (another process on the cores) or a tiny model.
      // Measure both once more and keep each size's faster figure before believing it.
      atHigh = Math.min(atHigh, await msPerStep(high));
      atLow = Math.min(atLow, await msPerStep(low));
    }
    const slope = high > low ? (atHigh - atLow) / (high - low) : 0;
    // On a tiny model noise hides the slope: the step then costs the same whatever its batch. A
    // negative intercept (noise the other way) puts the whole step on the samples.
    const [computeMsPerSample, stepMs] =
      slope <= 0 ? [0, Math.min(atHigh, atLow)] : atLow - slope * low >= 0 ? [slope, atLow - slope * low] : [atHigh / high, 0];
    return { computeMsPerSample, stepMs, steps, seconds: (performance.now() - probeStarted) / 1000 };
  } finally {
    model.dispose();
    optimizer.dispose();
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
  // At the largest per-worker batch the run can have (and a quarter of it, inside the probe).
  const probe = await probeGradientStep(captured, Math.max(1, Math.floor(spec.training.batchSize / (input.workers ?? 1))));
  const { computeMsPerSample } = probe;
  const info = backendInfo();
  const adaptive = adaptivePlanEpoch({
    spec,
    trainSamples: train.count,
    platform: input.platform,
    constraints: input.constraints,
    computeMsPerSample,
    stepMs: probe.stepMs,
    backend: profileOfBackend(info.name, { simd: info.simd }),
    ...(input.workers !== undefined ? { workerCounts: [input.workers] } : {}),
    ...(input.memoryMb !== undefined ? { memorySizesMb: [input.memoryMb] } : {}),
    ...(input.channels ? { channels: input.channels } : {}),
  });
  return { adaptive, computeMsPerSample, probe, trainSamples: train.count };
}

/** The service's Estimate from the planner's (the first phase's configuration; advice when infeasible). */
export function estimateFromPlanner(estimate: PlannerEstimate, epochs: number, probe: Probe, platform: string): Estimate {
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
    feasible: estimate.feasible,
    ...(estimate.advice ? { advice: estimate.advice.message } : {}),
  };
}
