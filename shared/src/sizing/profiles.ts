/**
 * Backend profiles: how a tfjs backend turns a function's memory size into speed and what it
 * needs in memory (DESIGN.md, "Runtime facts": "CPU/WebGPU-aware memory sizing").
 *
 * Lambda gives CPU in proportion to memory: 1,769 MB = one vCPU, up to 10,240 MB ≈ 5.79 vCPU
 * (CALIBRATION.md §1). What extra vCPUs buy depends on the backend:
 *  - `cpu` (pure JS) and `wasm-simd` run on one thread (wasm threads are off in Node): above one
 *    vCPU they gain nothing but footprint; below it they slow down in proportion.
 *  - `native` (tfjs-node / libtensorflow, in a container image) uses every core: Amdahl's law
 *    with the profile's parallel fraction.
 *  - `webgpu` computes on a GPU device: memory size does not change its speed, and on a real GPU
 *    the model's tensors live in GPU buffers, which count against the device, not the function.
 *    Its profile has no constants: `webgpuProfile` builds it from what the run's probe measured
 *    on the adapter (service/backend-choice.ts).
 */
import type { BackendName } from '../tf/backend.js';
import type { GpuAdapterReport } from '../tf/webgpu.js';

/** Profiles known before anything is measured. */
export type StaticProfileName = 'cpu' | 'wasm-simd' | 'native';
export type BackendProfileName = StaticProfileName | 'webgpu';

export interface BackendProfile {
  name: BackendProfileName;
  /** Threads the backend computes with: 1, or 'all' (one per vCPU). */
  threads: 1 | 'all';
  /** Share of a step that parallelises over threads (Amdahl), for `threads: 'all'`. */
  parallelFraction: number;
  /** Throughput per vCPU relative to wasm-simd (wasm-simd = 1); the design brief measured wasm 4-5x cpu; webgpu: measured. */
  relativeSpeed: number;
  /** Resident memory of the runtime before any model: Node, the bundle, the backend's binary. */
  runtimeBaseMb: number;
  /** Multiplier on tensor bytes for allocator slack and temporaries of the gradient step. */
  tensorOverhead: number;
  /**
   * Where tensors live; 'gpu' means weights, gradients, optimizer slots and activations are GPU
   * buffers. A software adapter's "GPU buffers" are the worker's own memory: 'host'.
   */
  tensorsOn: 'host' | 'gpu';
  /** webgpu only: the adapter and the limits its tensors must fit. */
  gpu?: {
    adapter: GpuAdapterReport;
    /** The largest tensor one shader can bind (the adapter's maxStorageBufferBindingSize), MB. */
    maxTensorMb: number;
    /** The device's memory when known; WebGPU does not report it, so only a caller can say. */
    memoryMb?: number;
  };
}

/** Lambda: memory per vCPU and the largest function (CALIBRATION.md §1). */
export const MB_PER_VCPU = 1769;
export const LAMBDA_MAX_MEMORY_MB = 10_240;

export const BACKEND_PROFILES: Readonly<Record<StaticProfileName, BackendProfile>> = {
  cpu: { name: 'cpu', threads: 1, parallelFraction: 0, relativeSpeed: 0.22, runtimeBaseMb: 110, tensorOverhead: 1.3, tensorsOn: 'host' },
  'wasm-simd': {
    name: 'wasm-simd',
    threads: 1,
    parallelFraction: 0,
    relativeSpeed: 1,
    // Measured (test/fixtures/sizing/measured-rss.json, test/bench/sizing-rss.ts): a bare Node 20
    // process with tfjs-core + tfjs-layers + the wasm backend initialised is ~88 MB RSS; an idle
    // local worker (handler, store client) training a 131-parameter model on iris peaks at ~99 MB.
    runtimeBaseMb: 100,
    // Fitted to the same fixture (4 models, 131 to 1.86 M parameters, one set of constants): the
    // wasm heap grows to a high-water mark and never shrinks, every gradient is copied to JS
    // (dataSync) and back, and V8 collects those per-step copies lazily. 1.25 under-estimated a
    // 1.86 M-parameter MLP's peak by ~40%.
    tensorOverhead: 4.5,
    tensorsOn: 'host',
  },
  native: { name: 'native', threads: 'all', parallelFraction: 0.9, relativeSpeed: 3, runtimeBaseMb: 420, tensorOverhead: 1.2, tensorsOn: 'host' },
};

/** What the run's probe measured on a WebGPU adapter (service/backend-choice.ts). */
export interface WebgpuMeasurement {
  adapter: GpuAdapterReport;
  /** The webgpu step's speed over the wasm step's, same model and batch, same process. */
  relativeSpeed: number;
  /** Resident memory the process gained while Dawn started and the probe ran, MB. */
  runtimeGrowthMb: number;
  /** Bytes tfjs allocated on the device during the probe over the tensor bytes sizing counts. */
  tensorOverhead: number;
}

/** The webgpu profile of one adapter, from measurements only. */
export function webgpuProfile(measured: WebgpuMeasurement): BackendProfile {
  const { adapter } = measured;
  return {
    name: 'webgpu',
    threads: 1,
    parallelFraction: 0,
    relativeSpeed: measured.relativeSpeed,
    // The wasm runtime (measured) plus what Dawn and its driver added in the probe's process.
    runtimeBaseMb: BACKEND_PROFILES['wasm-simd'].runtimeBaseMb + measured.runtimeGrowthMb,
    tensorOverhead: measured.tensorOverhead,
    tensorsOn: adapter.software ? 'host' : 'gpu',
    gpu: { adapter, maxTensorMb: adapter.maxBindingBytes / 2 ** 20 },
  };
}

/** The profile of a backend the registry in `tf/backend.ts` activated. */
export function profileOfBackend(name: Exclude<BackendName, 'webgpu'>, options: { simd?: boolean } = {}): BackendProfile {
  if (name === 'wasm') return options.simd === false ? { ...BACKEND_PROFILES['wasm-simd'], relativeSpeed: 0.5 } : BACKEND_PROFILES['wasm-simd'];
  return BACKEND_PROFILES[name];
}

/** vCPU share of a Lambda function of `memoryMb` (fractional below 1,769 MB). */
export function vcpusOf(memoryMb: number): number {
  return Math.min(memoryMb, LAMBDA_MAX_MEMORY_MB) / MB_PER_VCPU;
}

/**
 * Speed of the gradient step at `memoryMb` relative to one full vCPU of the same backend
 * (1 at 1,769 MB). Below one vCPU every backend slows in proportion (CPU credits are linear).
 */
export function computeSpeedup(profile: BackendProfile, memoryMb: number): number {
  if (profile.tensorsOn === 'gpu') return 1;
  const v = vcpusOf(memoryMb);
  if (v <= 1 || profile.threads === 1) return Math.min(v, 1);
  const p = profile.parallelFraction;
  return 1 / (1 - p + p / v);
}
