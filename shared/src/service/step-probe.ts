/**
 * The real training step, timed in this process on one backend: the speed input of the adaptive
 * scheduler (service/estimate.ts) and of the backend choice (service/backend-choice.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Captured } from '../capture/capture.js';
import { invocationCostUsd } from '../cost/cost.js';
import { buildModel, largestTensorOf } from '../model/build.js';
import { applyGradient, computeGradients, createOptimizer, lossFunction } from '../model/training.js';
import { type BackendName, initBackend } from '../tf/backend.js';

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
  /** The largest weight and layer output (per sample) of the model, in values. */
  largestTensor: { weightValues: number; activationValuesPerSample: number };
  /** webgpu: the device bytes tfjs had allocated when the probe ended (its buffer pool included). */
  deviceBytes?: number;
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
export async function probeGradientStep(captured: Captured, batch: number, backend?: BackendName): Promise<Probe> {
  const probeStarted = performance.now();
  await initBackend(backend);
  const { spec, dataset } = captured;
  const model = await buildModel(spec.model.topology, { seed: spec.training.seed });
  const largestTensor = largestTensorOf(model);
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
    const deviceBytes = (tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU;
    return { computeMsPerSample, stepMs, steps, seconds: (performance.now() - probeStarted) / 1000, largestTensor, ...(deviceBytes !== undefined ? { deviceBytes } : {}) };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
