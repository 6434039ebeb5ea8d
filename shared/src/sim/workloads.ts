/**
 * Paper-scale workloads for the simulator. Each has what the planner is told (model facts,
 * workload, backend profile) and the truth the simulator runs on, which the planner never sees
 * directly (compute speed per vCPU, how well the native backend really scales, how much memory
 * the worker really needs).
 */
import type { StaticProfileName } from '../sizing/profiles.js';
import type { OptimizerName } from '../spec/job-spec.js';

export interface SimWorkload {
  name: string;
  description: string;
  paramCount: number;
  bytesPerSample: number;
  activationBytesPerSample: number;
  optimizer: OptimizerName;
  samplesPerEpoch: number;
  epochs: number;
  batchSize: (epoch: number) => number;
  backend: StaticProfileName;
  truth: {
    /** Gradient step per sample at one vCPU (1,769 MB), ms. */
    computeMsPerSample: number;
    /** Optimizer update, ms per million parameters at one vCPU. */
    applyMsPerMillionParams: number;
    /** native only: the real parallel fraction (the planner's profile assumes 0.9). */
    parallelFraction: number;
    /** Real memory need over the sizing model's estimate (> 1: the floor size runs out of memory). */
    memoryFactor: number;
  };
  /** Fixed configurations the benchmark compares against (filtered by what fits). */
  grid: { workers: number[]; memoryMb: number[] };
}

const LAMBDA_MEMORY_GRID = [512, 1024, 1769, 3008, 5307, 7076, 10240];

/** ResNet-18 (11.7 M parameters) on CIFAR-10-sized data: 32×32×3 float32 images, 10 classes. */
const RESNET18 = {
  paramCount: 11_689_512,
  bytesPerSample: 32 * 32 * 3 * 4 + 10 * 4,
  // ≈1.5 M activation values per 32×32 sample (conv, BN, ReLU outputs of 4 stages), value + gradient.
  activationBytesPerSample: 12 * 1024 * 1024,
  optimizer: 'momentum' as const,
  samplesPerEpoch: 50_000,
};

export const WORKLOADS: Readonly<Record<string, SimWorkload>> = {
  'resnet18-native': {
    name: 'resnet18-native',
    description: 'ResNet-18 / CIFAR-10 size, batch 800, 12 epochs, native multi-threaded backend (container image)',
    ...RESNET18,
    epochs: 12,
    batchSize: () => 800,
    backend: 'native',
    truth: { computeMsPerSample: 40, applyMsPerMillionParams: 6, parallelFraction: 0.82, memoryFactor: 1 },
    grid: { workers: [2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 80, 100, 160, 200], memoryMb: LAMBDA_MEMORY_GRID },
  },
  'resnet18-growing-batch': {
    name: 'resnet18-growing-batch',
    description: 'ResNet-18 / CIFAR-10 size, batch 200 → 400 → 800 → 1600 every 4 epochs, 16 epochs, wasm-simd (one thread)',
    ...RESNET18,
    epochs: 16,
    batchSize: (epoch) => 200 * 2 ** Math.min(3, Math.floor(epoch / 4)),
    backend: 'wasm-simd',
    truth: { computeMsPerSample: 130, applyMsPerMillionParams: 8, parallelFraction: 0, memoryFactor: 1 },
    grid: { workers: [1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200], memoryMb: LAMBDA_MEMORY_GRID },
  },
  'bert-base-native': {
    name: 'bert-base-native',
    description: 'BERT-base size (110 M parameters), sequence 128, batch 320, 4 epochs of 32,000 samples, Adam, native backend',
    paramCount: 109_482_240,
    bytesPerSample: 128 * 3 * 4 + 8,
    activationBytesPerSample: 160 * 1024 * 1024,
    optimizer: 'adam',
    samplesPerEpoch: 32_000,
    epochs: 4,
    batchSize: () => 320,
    backend: 'native',
    truth: { computeMsPerSample: 900, applyMsPerMillionParams: 6, parallelFraction: 0.85, memoryFactor: 1.04 },
    grid: { workers: [10, 16, 20, 32, 40, 64, 80, 160], memoryMb: LAMBDA_MEMORY_GRID },
  },
  'mlp-mnist-wasm': {
    name: 'mlp-mnist-wasm',
    description: 'MLP 784-128-10 (0.1 M parameters) on MNIST, batch 512, 10 epochs, wasm-simd: latency-bound sync',
    paramCount: 101_770,
    bytesPerSample: 794 * 4,
    activationBytesPerSample: 4 * 1024,
    optimizer: 'adam',
    samplesPerEpoch: 48_000,
    epochs: 10,
    batchSize: () => 512,
    backend: 'wasm-simd',
    truth: { computeMsPerSample: 0.12, applyMsPerMillionParams: 8, parallelFraction: 0, memoryFactor: 1 },
    grid: { workers: [1, 2, 4, 8, 16, 32, 64, 128, 256], memoryMb: LAMBDA_MEMORY_GRID },
  },
};
