/**
 * A calibrated model of AWS Lambda + S3 running SMLT's synchronous data-parallel SGD, one epoch
 * at a time, seeded (CALIBRATION.md for every default):
 *
 *  - compute: per-sample time per vCPU (the workload's truth), CPU share ∝ memory (1,769 MB = 1
 *    vCPU), the backend's real scaling; per-worker jitter and rare stragglers, and the barrier
 *    waits for the slowest worker (max over n);
 *  - network: ≈75 MiB/s sustained per function after a burst bucket (150 MiB at 1.2 GiB/s,
 *    refilled while the worker computes), the same for every memory size;
 *  - S3: log-normal request latency (median 27 ms GET / 40 ms PUT, p95 ≈ 3× median) with a
 *    Pareto tail up to 10 s, 16 requests in flight per worker, 3,500 PUT and 5,500 GET per second
 *    per partition (a new bucket is one partition; read partitions grow under sustained load,
 *    write partitions do not), polls while waiting;
 *  - Lambda: launch ramp (≈2.8 s per 100 workers), cold starts when the configuration changes,
 *    warm containers otherwise, the 900 s limit (checkpoint and re-invoke), random worker
 *    failures (relaunch and redo the iteration), out-of-memory below the real footprint;
 *  - weather: per-epoch variation of S3 latency and bandwidth, and with some probability a lasting
 *    drift (a slower network from some epoch on).
 *
 * Per-iteration latency maxima over n workers are Monte Carlo profiles computed once per n (a
 * fixed internal seed); a run's seed picks the epoch-level noise through `noiseUniform`, so every
 * configuration run with the same seed sees the same weather, failures and drift.
 */
import { channelCostUsd, epochBookkeepingRequests, epochEndRounds, iterationRequests, requestsCostUsd, durationCostUsd, syncBytesPerIteration } from '../cost/epoch-cost.js';
import { type ChannelPrices, PRICE_TABLES, type PriceTable, REDIS_CHANNEL_PRICES } from '../cost/prices.js';
import type { RequestCounts } from '../backends/ports.js';
import type { SyncName } from '../spec/job-spec.js';
import { memoryFootprint, optimizerSlots } from '../sizing/memory.js';
import { BACKEND_PROFILES, computeSpeedup } from '../sizing/profiles.js';
import { iterationsOf } from '../scheduler/candidates.js';
import { normalQuantile } from '../scheduler/stats.js';
import { noiseNormal, noiseUniform, poissonQuantile, Rng } from './random.js';
import type { SimWorkload } from './workloads.js';

const MIB = 1024 * 1024;

export interface SimParams {
  sustainedBytesPerS: number;
  burstBytesPerS: number;
  burstBucketBytes: number;
  getMedianMs: number;
  putMedianMs: number;
  latencySigma: number;
  tailProbability: number;
  tailMinMs: number;
  tailAlpha: number;
  tailMaxMs: number;
  requestsInFlight: number;
  putsPerS: number;
  getsPerS: number;
  maxReadPartitions: number;
  /** Seconds of sustained read load per extra read partition (Skyrise: 1 → 5 in ≈26 min). */
  secondsPerReadPartition: number;
  throttleRetryPenalty: number;
  /** Average wait added by polling with back-off, per wait. */
  pollGranularityS: number;
  /** Billed polls per worker per second of waiting. */
  pollsPerWaitS: number;
  cpuNsPerSyncByte: number;
  launchS: number;
  launchSPerWorker: number;
  coldStartMedianS: number;
  coldStartSigma: number;
  warmStartS: number;
  /** Half of idle containers are evicted every this many seconds (SeBS). */
  idleHalfLifeS: number;
  timeLimitS: number;
  safetyMarginS: number;
  failuresPerWorkerHour: number;
  computeJitterSigma: number;
  /** Epoch-to-epoch log-sd of compute speed. */
  computeWeatherSigma: number;
  stragglerProbability: number;
  weatherSigma: number;
  driftProbability: number;
  driftBandwidthFactor: number;
  driftLatencyFactor: number;
  prices: PriceTable;
  /** Gradients through an in-memory channel (Redis) instead of S3: its prices and its network cap. */
  channel?: ChannelPrices & { serverBytesPerS: number };
}

export const DEFAULT_SIM_PARAMS: SimParams = {
  sustainedBytesPerS: 75 * MIB,
  burstBytesPerS: 1.2 * 1024 * MIB,
  burstBucketBytes: 150 * MIB,
  getMedianMs: 27,
  putMedianMs: 40,
  // p95 = median × e^(1.645 σ) ≈ 2.8× median (CALIBRATION.md: p95 ≈ 3× median).
  latencySigma: 0.62,
  tailProbability: 2e-4,
  tailMinMs: 300,
  tailAlpha: 1.2,
  tailMaxMs: 10_000,
  requestsInFlight: 16,
  putsPerS: 3500,
  getsPerS: 5500,
  maxReadPartitions: 5,
  secondsPerReadPartition: 390,
  throttleRetryPenalty: 0.2,
  pollGranularityS: 0.02,
  pollsPerWaitS: 6,
  cpuNsPerSyncByte: 1.4,
  launchS: 0.25,
  launchSPerWorker: 0.026,
  coldStartMedianS: 0.45,
  coldStartSigma: 0.35,
  warmStartS: 0.035,
  idleHalfLifeS: 380,
  timeLimitS: 900,
  safetyMarginS: 30,
  failuresPerWorkerHour: 0.05,
  computeJitterSigma: 0.04,
  computeWeatherSigma: 0.03,
  stragglerProbability: 0.002,
  weatherSigma: 0.08,
  driftProbability: 0.2,
  driftBandwidthFactor: 0.7,
  driftLatencyFactor: 1.3,
  prices: PRICE_TABLES['lambda-x86_64'],
};

/**
 * The simulator with gradients through ElastiCache (Redis/Valkey) in the functions' VPC: the same
 * Lambda, sub-millisecond requests with a thin tail, waits woken by PUBLISH (no polls), ~100 K
 * operations per second, and one node's ≈600 MB/s network shared by all workers. CALIBRATION.md
 * cites no Lambda-side latency distribution for ElastiCache; these are conservative.
 */
export const REDIS_SIM_PARAMS: SimParams = {
  ...DEFAULT_SIM_PARAMS,
  getMedianMs: 0.6,
  putMedianMs: 0.8,
  latencySigma: 0.35,
  tailProbability: 1e-6,
  tailMinMs: 20,
  tailMaxMs: 500,
  putsPerS: 100_000,
  getsPerS: 100_000,
  maxReadPartitions: 1,
  pollGranularityS: 0,
  pollsPerWaitS: 0,
  channel: { ...REDIS_CHANNEL_PRICES, serverBytesPerS: 600e6 },
};

export interface SimConfig {
  workers: number;
  memoryMb: number;
  sync: SyncName;
}

export interface SimEpochResult {
  epoch: number;
  workers: number;
  memoryMb: number;
  sync: SyncName;
  batchSize: number;
  iterations: number;
  durationS: number;
  costUsd: number;
  /** Per worker, summed over iterations (what `worker_finished` reports, averaged over ranks). */
  computeMs: number;
  syncMs: number;
  requests: RequestCounts;
  outOfMemory: boolean;
  continuations: number;
  failures: number;
  coldStarts: number;
}

interface Profile {
  mean: number;
  sd: number;
}

/** Monte Carlo profiles shared by every cloud with the same params (they do not depend on the run's seed). */
const profileCache = new WeakMap<SimParams, Map<string, Profile>>();

export class SimulatedCloud {
  private readonly warm = new Map<number, number>();
  private partitionWorkers = 0;
  private clockS = 0;
  private sustainedReadS = 0;
  private readonly driftEpoch: number | undefined;
  private readonly profiles: Map<string, Profile>;

  constructor(
    readonly workload: SimWorkload,
    readonly seed: number,
    readonly params: SimParams = DEFAULT_SIM_PARAMS,
  ) {
    let profiles = profileCache.get(params);
    if (!profiles) {
      profiles = new Map();
      profileCache.set(params, profiles);
    }
    this.profiles = profiles;
    if (noiseUniform(seed, 0, 'drift?') < params.driftProbability) {
      this.driftEpoch = 1 + Math.floor(noiseUniform(seed, 0, 'drift-epoch') * Math.max(workload.epochs - 1, 1));
    }
  }

  /** Epoch from which the network is slower, if this seed drifts. */
  get drift(): number | undefined {
    return this.driftEpoch;
  }

  get elapsedS(): number {
    return this.clockS;
  }

  /** The memory a worker really needs (the sizing model's estimate × the workload's truth factor). */
  realMinimumMemoryMb(config: SimConfig, batchSize: number): number {
    const w = this.workload;
    const footprint = memoryFootprint({
      model: { paramCount: w.paramCount, optimizer: w.optimizer, bytesPerSample: w.bytesPerSample, activationBytesPerSample: w.activationBytesPerSample },
      profile: BACKEND_PROFILES[w.backend],
      workers: config.workers,
      perWorkerBatch: batchSize / config.workers,
      partitionSamples: Math.ceil(w.samplesPerEpoch / config.workers),
      sync: config.sync,
    });
    return footprint.hostMb * w.truth.memoryFactor;
  }

  /** Runs one epoch (or fails it for memory) and advances the cloud's state. */
  runEpoch(epoch: number, config: SimConfig): SimEpochResult {
    const w = this.workload;
    const p = this.params;
    const { workers: n, memoryMb: m, sync } = config;
    const batchSize = w.batchSize(epoch);
    const iterations = iterationsOf(w.samplesPerEpoch, n, batchSize);
    const b = batchSize / n;
    const g = 4 * w.paramCount;
    const stateBytes = g * (1 + optimizerSlots(w.optimizer));
    const drifted = this.driftEpoch !== undefined && epoch >= this.driftEpoch;
    const weather = Math.exp(p.weatherSigma * noiseNormal(this.seed, epoch, 'weather'));
    const bandwidth = (p.sustainedBytesPerS * (drifted ? p.driftBandwidthFactor : 1)) / weather;
    const latencyScale = weather * (drifted ? p.driftLatencyFactor : 1);

    // Start: launch ramp, cold starts for workers without a warm container of this size, data.
    const launchS = (p.launchS + p.launchSPerWorker * n) * Math.exp(0.1 * noiseNormal(this.seed, epoch, 'launch'));
    const warmHere = this.warm.get(m) ?? 0;
    const coldStarts = Math.max(0, n - warmHere);
    const coldS = coldStarts > 0 ? this.maxColdStart(coldStarts, noiseUniform(this.seed, epoch, 'cold')) : p.warmStartS;
    const download = coldStarts > 0 || this.partitionWorkers !== n;
    const partitionBytes = Math.ceil(w.samplesPerEpoch / n) * w.bytesPerSample;
    const dataS = download ? this.transferS(partitionBytes, bandwidth, p.burstBucketBytes) + (p.getMedianMs * latencyScale) / 1000 : 0;
    const stateLoadS = this.transferS(stateBytes, bandwidth, p.burstBucketBytes) + (p.getMedianMs * latencyScale) / 1000;
    const startS = launchS + coldS + dataS + stateLoadS;

    // Out of memory: the workers die in their first iteration.
    const speed = this.speedup(m);
    // CPU weather: neighbours and thermal state move a function's speed a little from epoch to epoch.
    const cpuWeather = Math.exp(p.computeWeatherSigma * noiseNormal(this.seed, epoch, 'cpu'));
    const computeBaseS = ((b * w.truth.computeMsPerSample + (w.truth.applyMsPerMillionParams * w.paramCount) / 1e6) / 1000 / speed) * cpuWeather;
    if (m < this.realMinimumMemoryMb(config, batchSize)) {
      const durationS = startS + computeBaseS;
      this.advance(durationS, config);
      const costUsd = durationCostUsd(n, m, durationS - launchS / 2, p.prices) + n * p.prices.usdPerInvocation + requestsCostUsd({ put: 0, get: 2 * n, list: 1, delete: 0 }, p.prices);
      return { epoch, workers: n, memoryMb: m, sync, batchSize, iterations: 0, durationS, costUsd, computeMs: 0, syncMs: 0, requests: { put: 0, get: 2 * n, list: 1, delete: 0 }, outOfMemory: true, continuations: 0, failures: 0, coldStarts };
    }

    // One iteration.
    const jitter = this.profile(`jitter:${n}`, () => this.jitterProfile(n));
    const latency = this.profile(`latency:${sync}:${n}`, () => this.latencyProfile(n, sync));
    const computeMaxS = computeBaseS * jitter.mean;
    const bytesS = this.syncBytesS(n, sync, g, bandwidth, computeBaseS);
    const cpuShare = Math.max(Math.min(m / 1769, 1), 0.05);
    const cpuS = n === 1 ? 0 : ((sync === 'hierarchical' ? 3 * g : (n + 2) * g) * p.cpuNsPerSyncByte) / 1e9 / cpuShare;
    const latencyS = latency.mean * latencyScale + (n > 1 ? 2 * p.pollGranularityS : 0);
    let syncS = bytesS + cpuS + latencyS;
    const puts = sync === 'hierarchical' ? n * n : n;
    const gets = sync === 'hierarchical' ? 2 * n * (n - 1) : 2 * (n - 1);
    const pollsPerIteration = n > 1 ? n * p.pollsPerWaitS * (syncS + computeMaxS - computeBaseS) : 0;
    const readPartitions = Math.min(p.maxReadPartitions, 1 + Math.floor(this.sustainedReadS / p.secondsPerReadPartition));
    const putFloorS = puts / p.putsPerS;
    const getFloorS = (gets + pollsPerIteration) / (p.getsPerS * readPartitions);
    const serverFloorS = p.channel ? syncBytesPerIteration(n, g) / p.channel.serverBytesPerS : 0;
    const floorS = putFloorS + getFloorS + serverFloorS;
    if (floorS > syncS) syncS = floorS + (floorS - syncS) * p.throttleRetryPenalty;
    // The progress marker is written while the next iteration runs, one at a time: an iteration waits for a slower PUT.
    const iterationMeanS = Math.max(computeMaxS + syncS, (p.putMedianMs * latencyScale) / 1000);
    const iterationSd = Math.hypot(computeBaseS * jitter.sd, latency.sd * latencyScale);
    const runNoise = noiseNormal(this.seed, epoch, 'iterations');
    const runS = Math.max(iterations * iterationMeanS + Math.sqrt(iterations) * iterationSd * runNoise, 0.5 * iterations * iterationMeanS);
    const getRate = (gets + pollsPerIteration) / iterationMeanS;
    if (getRate > 0.8 * p.getsPerS * readPartitions) this.sustainedReadS += runS;

    // Failures (relaunch from the last state, redo the iteration) and the time limit.
    const failures = poissonQuantile((n * runS * p.failuresPerWorkerHour) / 3600, noiseUniform(this.seed, epoch, 'failures'));
    const relaunchS = this.maxColdStart(1, 0.5) + stateLoadS + iterationMeanS;
    const usableS = p.timeLimitS - p.safetyMarginS;
    const continuations = Math.max(0, Math.ceil((stateLoadS + runS + 2 * iterationMeanS) / usableS) - 1);
    const continuationS = continuations * (2 * this.transferS(stateBytes, bandwidth, 0) + p.warmStartS + ((p.putMedianMs + p.getMedianMs) * latencyScale) / 1000);
    const checkpointS = this.transferS(stateBytes, bandwidth, 0) + (p.putMedianMs * latencyScale) / 1000;
    // After the workers: the orchestrator reads every marker and clears the exchange (S3 pages of 1,000 keys).
    const end = epochEndRounds(sync, n, iterations, { inFlight: p.requestsInFlight, keysPerRequest: 1000 });
    const epochEndS = ((end.getRounds * p.getMedianMs + end.putRounds * p.putMedianMs) * latencyScale) / 1000;
    const durationS = startS + runS + failures * relaunchS + continuationS + checkpointS + epochEndS;

    // Bill: every worker from its start to the checkpoint (the launch ramp staggers starts), plus relaunches.
    const billedS = durationS - epochEndS - launchS / 2;
    // Through a channel, S3 keeps only each rank's progress marker per iteration.
    const perIteration = p.channel ? { put: n, get: 0, list: 0, delete: 0 } : iterationRequests(sync, n, Math.round(pollsPerIteration));
    const book = epochBookkeepingRequests(n, iterations, { partitionDownloads: download ? n : 0, continuations });
    const requests: RequestCounts = {
      put: perIteration.put * iterations + book.put,
      get: perIteration.get * iterations + book.get,
      list: book.list,
      delete: 0,
    };
    const invocations = n * (1 + continuations) + failures;
    const costUsd =
      durationCostUsd(n, m, billedS, p.prices) +
      durationCostUsd(failures, m, relaunchS, p.prices) +
      invocations * p.prices.usdPerInvocation +
      requestsCostUsd(requests, p.prices) +
      (p.channel ? channelCostUsd(syncBytesPerIteration(n, g) * iterations, durationS, p.channel) : 0);
    this.advance(durationS, config);
    const ownComputeS = computeBaseS * (1 + p.stragglerProbability);
    return {
      epoch,
      workers: n,
      memoryMb: m,
      sync,
      batchSize,
      iterations,
      durationS,
      costUsd,
      computeMs: iterations * ownComputeS * 1000,
      syncMs: Math.max(runS - iterations * ownComputeS, 0) * 1000,
      requests,
      outOfMemory: false,
      continuations,
      failures,
      coldStarts,
    };
  }

  private advance(durationS: number, config: SimConfig): void {
    // Idle containers of other sizes are evicted (half per idleHalfLifeS); this size's stay warm.
    for (const [memory, count] of this.warm) {
      if (memory !== config.memoryMb) this.warm.set(memory, Math.floor(count * 0.5 ** (durationS / this.params.idleHalfLifeS)));
    }
    this.warm.set(config.memoryMb, Math.max(this.warm.get(config.memoryMb) ?? 0, config.workers));
    this.partitionWorkers = config.workers;
    this.clockS += durationS;
  }

  /** Gradient-step speed-up at memoryMb: the workload's real scaling (not the planner's profile). */
  private speedup(memoryMb: number): number {
    const profile = BACKEND_PROFILES[this.workload.backend];
    return computeSpeedup({ ...profile, parallelFraction: this.workload.truth.parallelFraction || profile.parallelFraction }, memoryMb);
  }

  /** Seconds to move `bytes` through one function's link, with `burst` bytes at the burst rate. */
  private transferS(bytes: number, bandwidth: number, burst: number): number {
    const fast = Math.min(bytes, burst);
    return fast / this.params.burstBytesPerS + (bytes - fast) / bandwidth;
  }

  /** Bytes on the critical path of one all-reduce; the burst bucket refills while the worker computes. */
  private syncBytesS(n: number, sync: SyncName, g: number, bandwidth: number, computeS: number): number {
    const p = this.params;
    const bucket = Math.min(p.burstBucketBytes, bandwidth * computeS);
    if (n === 1) return 0; // a lone worker exchanges nothing (sync/index.ts)
    if (sync === 'flat') {
      return this.transferS(g, bandwidth, bucket) + this.transferS((n - 1) * g, bandwidth, bucket) + 2 * this.transferS(g, bandwidth, 0);
    }
    const shard = g / n;
    const scatterOut = this.transferS((n - 1) * shard, bandwidth, bucket);
    const reduceIn = this.transferS((n - 1) * shard, bandwidth, bucket / 2);
    const meanOut = this.transferS(shard, bandwidth, Math.max(bucket - (n - 1) * shard, 0));
    const gatherIn = this.transferS((n - 1) * shard, bandwidth, Math.max(bucket / 2 - (n - 1) * shard, 0));
    return Math.max(scatterOut, reduceIn) + meanOut + gatherIn;
  }

  private profile(key: string, make: () => Profile): Profile {
    let profile = this.profiles.get(key);
    if (!profile) {
      profile = make();
      this.profiles.set(key, profile);
    }
    return profile;
  }

  /** Max over n workers of the compute multiplier (log-normal jitter, rare 1.5-3x stragglers). */
  private jitterProfile(n: number): Profile {
    const rng = new Rng(0x9e3779b9 ^ n);
    const samples = 200;
    const values: number[] = [];
    for (let s = 0; s < samples; s++) {
      // Max of n log-normals by inverting F^n; a straggler among n with probability 1-(1-p)^n.
      const base = Math.exp(this.params.computeJitterSigma * normalQuantile(rng.uniform() ** (1 / n)));
      const straggler = rng.uniform() < 1 - (1 - this.params.stragglerProbability) ** n ? 1.5 + 1.5 * rng.uniform() : 1;
      values.push(Math.max(base, straggler));
    }
    return meanSd(values);
  }

  /**
   * Latency on the critical path of one all-reduce (seconds, bytes excluded), max over workers
   * per phase. hierarchical: scatter (n-1 PUTs in waves of 16) → the last shard's GET and the
   * mean's PUT → gather (n-1 GETs in waves). flat: one PUT each → the aggregator's n-1 GETs →
   * the mean's PUT → one GET each.
   */
  private latencyProfile(n: number, sync: SyncName): Profile {
    if (n === 1) return { mean: 0, sd: 0 };
    const rng = new Rng(0x85ebca6b ^ (n * 2 + (sync === 'flat' ? 1 : 0)));
    const p = this.params;
    const samples = n > 100 ? 48 : 96;
    const values: number[] = [];
    const waves = (k: number, medianMs: number) => {
      let total = 0;
      for (let left = k; left > 0; left -= p.requestsInFlight) total += this.waveS(Math.min(left, p.requestsInFlight), medianMs, rng);
      return total;
    };
    const maxOver = (f: () => number) => {
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, f());
      return max;
    };
    for (let s = 0; s < samples; s++) {
      values.push(
        sync === 'hierarchical'
          ? maxOver(() => waves(n - 1, p.putMedianMs)) +
              maxOver(() => this.waveS(1, p.getMedianMs, rng) + this.waveS(1, p.putMedianMs, rng)) +
              maxOver(() => waves(n - 1, p.getMedianMs))
          : maxOver(() => this.waveS(1, p.putMedianMs, rng)) +
              waves(n - 1, p.getMedianMs) +
              this.waveS(1, p.putMedianMs, rng) +
              maxOver(() => this.waveS(1, p.getMedianMs, rng)),
      );
    }
    return meanSd(values);
  }

  /** Duration of a wave of k parallel requests: the slowest of k log-normals, or a tail event. */
  private waveS(k: number, medianMs: number, rng: Rng): number {
    const p = this.params;
    let ms = medianMs * Math.exp(p.latencySigma * normalQuantile(rng.uniform() ** (1 / k)));
    if (rng.uniform() < 1 - (1 - p.tailProbability) ** k) {
      ms = Math.max(ms, Math.min(p.tailMinMs * rng.uniform() ** (-1 / p.tailAlpha), p.tailMaxMs));
    }
    return ms / 1000;
  }

  /** The slowest of `count` cold starts at quantile u of that maximum. */
  private maxColdStart(count: number, u: number): number {
    const p = this.params;
    return p.coldStartMedianS * Math.exp(p.coldStartSigma * normalQuantile(u ** (1 / count)));
  }
}

function meanSd(values: number[]): Profile {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(values.length - 1, 1);
  return { mean, sd: Math.sqrt(variance) };
}
