/**
 * How much memory a worker needs, and which memory sizes can make it faster.
 *
 *   footprint = parameters × (weights + gradients + optimizer slots + shard buffers) × 4 B
 *             + activations of the per-worker batch
 *             + runtime base + the cached data partition (PARTITION_COPIES copies)
 *
 * Tensor bytes get the profile's overhead factor (allocator slack, temporaries of the step).
 * On a `webgpu` profile of a real GPU the tensors are GPU buffers, which must fit its memory (when
 * known), and the function only holds the runtime, the data and the exchange buffers. On any
 * webgpu profile no single tensor (a weight, or a layer's activations for the batch) may pass
 * the adapter's binding limit.
 */
import type { SyncName } from '../spec/job-spec.js';
import type { OptimizerName } from '../spec/job-spec.js';
import { type BackendProfile, computeSpeedup, LAMBDA_MAX_MEMORY_MB, MB_PER_VCPU } from './profiles.js';

const MB = 1024 * 1024;
const FLOAT32 = 4;
/** Memory sizes are rounded up to this step, so nearby sizes share one function (one per tier). */
export const MEMORY_STEP_MB = 64;

/**
 * Copies of the data partition a worker holds at its peak: the downloaded encoded bytes and the
 * decoded, aligned copy `decodeDataset` makes (lambda-worker's warm cache keeps the latter; the
 * former is garbage V8 has not collected yet). Checked against measured RSS in
 * test/fixtures/sizing/measured-rss.json.
 */
export const PARTITION_COPIES = 2;

/** Optimizer state per parameter, as tfjs keeps it. */
export function optimizerSlots(optimizer: OptimizerName): number {
  switch (optimizer) {
    case 'sgd':
      return 0;
    case 'momentum':
    case 'adagrad':
      return 1;
    case 'adam':
    case 'rmsprop':
      return 2;
  }
}

/**
 * Float32 values a worker holds for one all-reduce, in parameters (the busiest rank).
 * hierarchical: the encoded outgoing shards ((n-1)/n), the received shards ((n-1)/n) and the
 * assembled average (1). flat: the aggregator holds n-1 received gradients and the mean.
 */
export function syncBufferParams(sync: SyncName, workers: number): number {
  if (workers <= 1) return 1;
  return sync === 'hierarchical' ? (2 * (workers - 1)) / workers + 1 : workers;
}

/** Bytes of one training sample as a worker holds it: features and label, float32. */
export function sampleBytes(xShape: readonly number[], yShape: readonly number[]): number {
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  return FLOAT32 * (size(xShape) + size(yShape));
}

export interface ModelFootprint {
  paramCount: number;
  optimizer: OptimizerName;
  /** Bytes of one training sample as a worker holds it (features and label, float32). */
  bytesPerSample: number;
  /** The largest weight tensor, and the largest layer output per sample, in values (webgpu's binding limit). */
  largestTensor?: { weightValues: number; activationValuesPerSample: number };
  /**
   * Activation bytes kept for the backward pass, per sample. When unknown the default is a rough
   * 64 × bytesPerSample (right order for small CNNs; far too low for transformers: pass it, e.g.
   * from `activationBytesFromLayerOutputs`).
   */
  activationBytesPerSample?: number;
}

/** Activations of one sample from the sizes (values) of each layer's output: forward value + its gradient, float32. */
export function activationBytesFromLayerOutputs(outputSizes: readonly number[]): number {
  return 2 * FLOAT32 * outputSizes.reduce((a, b) => a + b, 0);
}

export interface SizingInput {
  model: ModelFootprint;
  profile: BackendProfile;
  workers: number;
  perWorkerBatch: number;
  /** Samples of the worker's data partition, kept decoded in memory. */
  partitionSamples: number;
  sync: SyncName;
}

export interface MemoryBreakdown {
  weightsMb: number;
  gradientsMb: number;
  optimizerSlotsMb: number;
  shardBuffersMb: number;
  activationsMb: number;
  runtimeBaseMb: number;
  cachedDataMb: number;
  /** What the function needs (host memory). */
  hostMb: number;
  /** webgpu: what the GPU device must hold; 0 on host profiles. */
  gpuMb: number;
  /** Smallest function size that fits, rounded up to MEMORY_STEP_MB (at least 128). */
  minimumMemoryMb: number;
  /** webgpu only: false when the tensors do not fit the device. */
  fitsDevice: boolean;
  /** webgpu only: the largest single tensor of the step, MB. */
  largestTensorMb: number;
}

export function memoryFootprint(input: SizingInput): MemoryBreakdown {
  const { model, profile } = input;
  const paramMb = (model.paramCount * FLOAT32) / MB;
  const overhead = profile.tensorOverhead;
  const weightsMb = paramMb * overhead;
  const gradientsMb = paramMb * overhead;
  const optimizerSlotsMb = paramMb * optimizerSlots(model.optimizer) * overhead;
  // Exchange buffers are plain Float32Arrays on the host whatever the backend.
  const shardBuffersMb = paramMb * syncBufferParams(input.sync, input.workers);
  const activationBytes = model.activationBytesPerSample ?? 64 * model.bytesPerSample;
  const activationsMb = ((activationBytes * input.perWorkerBatch) / MB) * overhead;
  const cachedDataMb = (PARTITION_COPIES * model.bytesPerSample * input.partitionSamples) / MB;
  const runtimeBaseMb = profile.runtimeBaseMb;
  const tensorsMb = weightsMb + gradientsMb + optimizerSlotsMb + activationsMb;
  const onGpu = profile.tensorsOn === 'gpu';
  // A GPU backend still stages the weights and the gradient through host memory once.
  const hostMb = runtimeBaseMb + cachedDataMb + shardBuffersMb + (onGpu ? 2 * paramMb : tensorsMb);
  const gpuMb = onGpu ? tensorsMb : 0;
  const largest = model.largestTensor;
  const largestTensorMb = largest ? (FLOAT32 * Math.max(largest.weightValues, largest.activationValuesPerSample * input.perWorkerBatch)) / MB : 0;
  return {
    weightsMb,
    gradientsMb,
    optimizerSlotsMb,
    shardBuffersMb,
    activationsMb,
    runtimeBaseMb,
    cachedDataMb,
    hostMb,
    gpuMb,
    minimumMemoryMb: Math.max(128, Math.ceil(hostMb / MEMORY_STEP_MB) * MEMORY_STEP_MB),
    fitsDevice: fitsDevice(profile, gpuMb, largestTensorMb),
    largestTensorMb,
  };
}

function fitsDevice(profile: BackendProfile, gpuMb: number, largestTensorMb: number): boolean {
  const gpu = profile.gpu;
  if (!gpu) return true;
  return largestTensorMb <= gpu.maxTensorMb && (profile.tensorsOn === 'host' || gpu.memoryMb === undefined || gpuMb <= gpu.memoryMb);
}

/**
 * Memory sizes worth trying for a worker that needs at least `minimumMb`, within `rangeMb`:
 * fractions of a vCPU (slower, but sync-bound workers pay less), then whole-vCPU tiers as far
 * as the backend can use them. A single-threaded backend (cpu, wasm) gains nothing above one
 * vCPU, and a webgpu worker nothing above its minimum. Empty when nothing in range fits.
 */
export function usefulMemorySizesMb(profile: BackendProfile, minimumMb: number, rangeMb: readonly [number, number]): number[] {
  const [low, high] = rangeMb;
  const floor = Math.max(low, Math.ceil(minimumMb / MEMORY_STEP_MB) * MEMORY_STEP_MB);
  if (floor > high) return [];
  if (profile.tensorsOn === 'gpu') return [floor];
  const fractions = [512, 1024, 1536];
  const tiers = [1, 2, 3, 4, 5].map((k) => k * MB_PER_VCPU).concat(LAMBDA_MAX_MEMORY_MB);
  const ladder = profile.threads === 1 ? [...fractions, MB_PER_VCPU] : [...fractions, ...tiers];
  const sizes = new Set<number>([floor]);
  for (const size of ladder) if (size > floor && size <= high) sizes.add(size);
  // A size is useful when it is the floor or it computes faster than every smaller one.
  const sorted = [...sizes].sort((a, b) => a - b);
  return sorted.filter((size, i) => i === 0 || computeSpeedup(profile, size) > computeSpeedup(profile, sorted[i - 1]) * 1.01);
}

/**
 * The most parameters one worker of `maxMemoryMb` can train with `optimizer` (one worker, a batch
 * of one, no data cached): the footprint is linear in the parameters, so it is solved directly.
 */
export function largestParamCount(profile: BackendProfile, optimizer: OptimizerName, maxMemoryMb: number): number {
  const hostMb = (paramCount: number) =>
    memoryFootprint({ model: { paramCount, optimizer, bytesPerSample: 0 }, profile, workers: 1, perWorkerBatch: 1, partitionSamples: 0, sync: 'hierarchical' }).hostMb;
  const base = hostMb(0);
  const perMillion = hostMb(1e6) - base;
  return Math.max(0, Math.floor(((maxMemoryMb - base) / perMillion) * 1e6));
}
