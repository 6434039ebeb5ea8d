/**
 * The search space: for a batch size, every (workers, memory, sync) whose model and data fit a
 * worker (sizing/memory.ts), less what an out-of-memory failure has ruled out; for processes on
 * one machine only the smallest memory of each worker count.
 */
import { memoryFootprint, usefulMemorySizesMb } from '../sizing/memory.js';
import type { Config } from './analytical.js';
import type { StoredObservation } from './history.js';
import type { Setting } from './setting.js';

export class Candidates {
  private readonly cache = new Map<string, Config[]>();

  constructor(private readonly setting: Setting) {}

  /** The configurations for a global batch size, without those `failures` (out of memory) rule out. */
  for(batchSize: number, failures: StoredObservation[]): Config[] {
    const cacheKey = String(batchSize);
    let configs = this.cache.get(cacheKey);
    if (!configs) {
      configs = this.enumerate(batchSize);
      this.cache.set(cacheKey, configs);
    }
    const left = configs.filter(
      (c) => !failures.some((f) => f.sync === c.sync && c.memoryMb <= f.memoryMb && batchSize / c.workers >= f.batchSize / f.workers),
    );
    // Processes on one machine: memory buys no CPU, only room, so the smallest size that fits is the choice.
    return this.setting.options.platform.sharedCores === undefined ? left : smallestPerShape(left);
  }

  private enumerate(batchSize: number): Config[] {
    const { options, profile, range, maxWorkers, strategies } = this.setting;
    const samples = options.workload.samplesPerEpoch;
    const counts = (options.search?.workerCounts ?? divisors(batchSize)).filter(
      (n) => Number.isInteger(n) && n >= 1 && n <= maxWorkers && batchSize % n === 0 && iterationsOf(samples, n, batchSize) >= 1,
    );
    const configs: Config[] = [];
    for (const sync of strategies) {
      for (const workers of counts) {
        const footprint = memoryFootprint({
          model: {
            paramCount: options.model.paramCount,
            optimizer: options.model.optimizer ?? 'adam',
            bytesPerSample: options.model.bytesPerSample,
            ...(options.model.activationBytesPerSample !== undefined ? { activationBytesPerSample: options.model.activationBytesPerSample } : {}),
            ...(options.model.largestTensor ? { largestTensor: options.model.largestTensor } : {}),
          },
          profile,
          workers,
          perWorkerBatch: batchSize / workers,
          partitionSamples: Math.ceil(samples / workers),
          sync,
        });
        if (!footprint.fitsDevice) continue;
        const sizes = options.search?.memorySizesMb
          ? options.search.memorySizesMb.filter((m) => m >= footprint.minimumMemoryMb && m >= range[0] && m <= range[1])
          : usefulMemorySizesMb(profile, footprint.minimumMemoryMb, range);
        for (const memoryMb of sizes) configs.push({ workers, memoryMb, sync });
      }
    }
    return configs;
  }
}

/** Of each (workers, sync), the configuration with the least memory. */
function smallestPerShape(configs: Config[]): Config[] {
  const smallest = new Map<string, Config>();
  for (const c of configs) {
    const key = `${c.workers}:${c.sync}`;
    const seen = smallest.get(key);
    if (!seen || c.memoryMb < seen.memoryMb) smallest.set(key, c);
  }
  return [...smallest.values()];
}

/** Iterations of an epoch as the orchestrator counts them: floor(floor(samples / n) / (batch / n)). */
export function iterationsOf(samples: number, workers: number, batchSize: number): number {
  return Math.floor(Math.floor(samples / workers) / (batchSize / workers));
}

export function divisors(n: number): number[] {
  const small: number[] = [];
  const large: number[] = [];
  for (let d = 1; d * d <= n; d++) {
    if (n % d !== 0) continue;
    small.push(d);
    if (d * d !== n) large.unshift(n / d);
  }
  return [...small, ...large];
}
