/**
 * The analytical model of an iteration and an epoch, the prior mean of the planner's Gaussian
 * process (DESIGN.md, "The scheduler's problem, stated"):
 *
 *   iteration = compute + sync
 *   compute   = (fixed step + per-worker batch × ms per sample + optimizer step) / speed-up(backend, memory)
 *               (locally: / min(1, cores / workers), memory buys no CPU)
 *   sync      = request rounds × latency + bytes / per-function bandwidth + CPU to (de)code and
 *               average, floored by the store's request rate (S3: 3,500 PUT / 5,500 GET per
 *               second per partitioned prefix)
 *   epoch     = launch + start state + iterations × iteration + checkpoint
 *               + epoch end (the orchestrator reads every marker, clears the exchange, evaluates
 *                 the held-out split)
 *               (+ cold start, the fresh workers' warm-up and data download when the
 *                  configuration changed, + a state save and reload per time-limit continuation)
 *
 * Figures are CALIBRATION.md's medians. Observations calibrate it: one factor each for compute,
 * sync, the per-epoch overhead and the start of new workers, from the compute and sync times
 * workers report (`worker_finished`).
 */
import { epochEndRounds } from '../cost/epoch-cost.js';
import type { OptimizerName, SyncName } from '../spec/job-spec.js';
import { optimizerSlots } from '../sizing/memory.js';
import { type BackendProfile, computeSpeedup } from '../sizing/profiles.js';
import { normalQuantile } from './stats.js';

const MIB = 1024 * 1024;

/** What the planner assumes of the function platform and the object store (CALIBRATION.md). */
export interface StoreNetworkModel {
  /** Median small-object latency, S3 Standard from Lambda (2024): 27 ms GET, 40 ms PUT. */
  getLatencyMs: number;
  putLatencyMs: number;
  /** Log-sd of request latency (p95 ≈ 3× median: 0.62). */
  latencySigma: number;
  /** Share of requests in the long tail, and the tail's mean delay (≈10 s max over 1 M requests). */
  tailProbability: number;
  tailMeanS: number;
  /** Sustained per-function bandwidth (≈75 MiB/s, constant across memory sizes). */
  bandwidthBytesPerS: number;
  /** Burst: a bucket of this many bytes at this rate, refilled at the sustained rate while the worker computes. */
  burstBucketBytes: number;
  burstBytesPerS: number;
  /** Requests a worker keeps in flight per direction (sync/exchange.ts). */
  requestsInFlight: number;
  /** Request rate per partitioned prefix; a new bucket starts as one partition. */
  putsPerS: number;
  getsPerS: number;
  /** Billed polls per worker and iteration while waiting for others' objects, per second of sync. */
  pollsPerSyncS: number;
  /** Launch delay per worker (paper: 2.83 s for 100 workers) and fixed part. */
  launchSPerWorker: number;
  launchS: number;
  coldStartS: number;
  warmStartS: number;
  /**
   * A fresh worker's first steps run slower while V8 compiles the hot paths (lambda-worker's
   * handler: about 40 steps): the extra seconds, paid with each cold start.
   */
  workerWarmupS: number;
  /** A worker's CPU to decode its data partition, ns per byte (on top of the download). */
  partitionNsPerByte: number;
  /** Keys one list page returns and one batch delete removes (S3: 1,000). */
  keysPerRequest: number;
  /** The orchestrator's own time per key it reads or deletes after an epoch, ms (client and file-system work). */
  orchestratorMsPerKey: number;
  /** CPU time to encode, decode and average gradients, ns per byte moved, at one vCPU. */
  cpuNsPerSyncByte: number;
  /**
   * What the store can serve in bytes per second for all workers together; unbounded for S3
   * (it scales by partition, bounded by request rates instead), a node's network for Redis.
   */
  serverBytesPerS?: number;
}

export const DEFAULT_NETWORK: StoreNetworkModel = {
  getLatencyMs: 27,
  putLatencyMs: 40,
  latencySigma: 0.62,
  tailProbability: 2e-4,
  tailMeanS: 1.5,
  bandwidthBytesPerS: 75 * MIB,
  burstBucketBytes: 150 * MIB,
  burstBytesPerS: 1200 * MIB,
  requestsInFlight: 16,
  putsPerS: 3500,
  getsPerS: 5500,
  pollsPerSyncS: 5,
  launchSPerWorker: 0.028,
  launchS: 0.2,
  coldStartS: 0.5,
  warmStartS: 0.03,
  // CALIBRATION.md's cold starts are measured to the handler; nothing measured the JIT warm-up or
  // the partition's decoding on Lambda (the simulator has neither).
  workerWarmupS: 0,
  partitionNsPerByte: 0,
  keysPerRequest: 1000,
  orchestratorMsPerKey: 0.02,
  cpuNsPerSyncByte: 1,
};

/**
 * A Redis/Valkey channel in the functions' VPC (ElastiCache): sub-millisecond requests with a thin
 * tail, ~100 K operations per second, waits woken by PUBLISH (no polls), and the node's network
 * (≈5 Gbit/s, ≈600 MB/s) shared by every worker. CALIBRATION.md has no Lambda-side latency
 * distribution for ElastiCache; these are conservative figures for a same-AZ small node.
 */
export const REDIS_NETWORK: Partial<StoreNetworkModel> = {
  getLatencyMs: 0.6,
  putLatencyMs: 0.8,
  latencySigma: 0.35,
  tailProbability: 1e-6,
  tailMeanS: 0.2,
  putsPerS: 100_000,
  getsPerS: 100_000,
  pollsPerSyncS: 0,
  serverBytesPerS: 600e6,
};

/**
 * The local platform's folder store, fitted to what workers report on the project's 2-core
 * machine (`/tmp`, ext4, the orchestrator sharing the cores): a sync of one worker costs about
 * 1.5 ms plus 5 ns per gradient byte (99 parameters: 1.7 ms; 101,770: 5.5 ms; 814,090: 19 ms), two
 * workers' hierarchical sync of 101,770 parameters 12.9 ms. In isolation a put takes 0.23 ms and
 * a get 0.10 ms for 1 KB (1.7 ms and 0.8 ms for 4 MB); the rest is the workers' CPU (encoding,
 * averaging, the event loop). A waiting reader is woken by the file-system watcher, not by billed
 * polls. A worker process starts in 0.35 s on a quiet machine and in about 1.5 s under load
 * (Node, the worker bundle and tfjs, the wasm backend and the data); runs plan with the starts
 * this machine last showed (`backends/local/worker-starts.ts`), and before the first with 0.7 s,
 * the middle of that range on a log scale (the reported interval carries the fixed costs' spread).
 * A worker is kept warm between epochs; a fresh one's first ~40 steps take 4-5 times their steady
 * time (0.18 s extra for a 99-parameter MLP, 0.29 s for a 101,770-parameter one), and it decodes
 * its data partition at about 10 ns a byte (MNIST's 25 MB: 0.26 s). Deciding and launching a
 * warm epoch costs about 20 ms (the planner, the status and events, the invocation); after it,
 * the orchestrator reads each marker and deletes each exchange key in about 0.1 ms (125
 * iterations of one worker: ≈ 20 ms reading, ≈ 40 ms clearing).
 */
export const FOLDER_STORE_NETWORK: Partial<StoreNetworkModel> = {
  getLatencyMs: 0.8,
  putLatencyMs: 1.5,
  latencySigma: 0.5,
  tailProbability: 0,
  tailMeanS: 0,
  bandwidthBytesPerS: 2000 * MIB,
  burstBucketBytes: 0,
  burstBytesPerS: 2000 * MIB,
  putsPerS: 20_000,
  getsPerS: 40_000,
  pollsPerSyncS: 0,
  cpuNsPerSyncByte: 5,
  launchSPerWorker: 0.003,
  launchS: 0.015,
  coldStartS: 0.7,
  warmStartS: 0.005,
  workerWarmupS: 0.2,
  partitionNsPerByte: 10,
  orchestratorMsPerKey: 0.1,
};

export interface ModelFacts {
  paramCount: number;
  optimizer: OptimizerName;
  bytesPerSample: number;
  /** Gradient step per sample at one vCPU of the backend, ms (a profiler's estimate). */
  computeMsPerSample: number;
  /** Fixed cost of a gradient step at one vCPU, whatever its batch, ms (default 0). */
  stepMs?: number;
  /** Optimizer update at one vCPU, ms per million parameters. */
  applyMsPerMillionParams: number;
  /** Samples the orchestrator evaluates after each epoch (the held-out split; default 0). */
  heldOutSamples?: number;
}

export interface Config {
  workers: number;
  memoryMb: number;
  sync: SyncName;
}

export function configKey(c: Config): string {
  return `${c.workers}x${c.memoryMb}:${c.sync}`;
}

export interface IterationParts {
  computeS: number;
  syncS: number;
}

/** Calibration factors (1 = the model as written). */
export interface Calibration {
  compute: number;
  sync: number;
  overhead: number;
  /** Observed billed polls over the model's. */
  polls: number;
  /** Observed epoch cost over the cost model's at the observed duration. */
  cost: number;
  /** Observed start of new workers (cold start, warm-up, data) over the model's. */
  start: number;
}

export const UNCALIBRATED: Calibration = { compute: 1, sync: 1, overhead: 1, polls: 1, cost: 1, start: 1 };

export class AnalyticalModel {
  /**
   * `sharedCores`: the workers are processes on one machine with this many cores (the local
   * platform), so memory buys no CPU and the workers share the cores; unset, each worker has the
   * CPU its memory size buys (Lambda).
   */
  constructor(
    readonly facts: ModelFacts,
    readonly profile: BackendProfile,
    readonly network: StoreNetworkModel,
    readonly sharedCores?: number,
  ) {}

  /** The compute speed of one worker of `config`, relative to one vCPU of the backend. */
  private speed(config: Config, profile: BackendProfile = this.profile): number {
    if (this.sharedCores === undefined) return computeSpeedup(profile, config.memoryMb);
    return Math.min(1, this.sharedCores / config.workers);
  }

  get gradientBytes(): number {
    return 4 * this.facts.paramCount;
  }

  /** Weights and optimizer slots: what a checkpoint and a continuation move. */
  get stateBytes(): number {
    return 4 * this.facts.paramCount * (1 + optimizerSlots(this.facts.optimizer));
  }

  /**
   * A worker's own time in one iteration: the step, or its progress marker's PUT when that is
   * longer — the marker is written while the next iteration runs, one at a time, so an iteration
   * shorter than a PUT waits for it (a lone worker's, which exchanges nothing, on S3: 40 ms).
   */
  computeS(config: Config, perWorkerBatch: number): number {
    const { computeMsPerSample, stepMs, applyMsPerMillionParams, paramCount } = this.facts;
    const ms = (stepMs ?? 0) + perWorkerBatch * computeMsPerSample + (applyMsPerMillionParams * paramCount) / 1e6;
    return Math.max(ms / 1000 / this.speed(config), this.network.putLatencyMs / 1000);
  }

  /** Sync seconds of one iteration; `computeS` (the worker's idle network time) refills the burst bucket. */
  syncS(config: Config, computeS = 0): number {
    const n = config.workers;
    // A lone worker exchanges nothing (sync/index.ts).
    if (n === 1) return 0;
    const net = this.network;
    const g = this.gradientBytes;
    const bucket = Math.min(net.burstBucketBytes, net.bandwidthBytesPerS * computeS);
    const transfer = (bytes: number) => {
      const fast = Math.min(bytes, bucket);
      return fast / net.burstBytesPerS + (bytes - fast) / net.bandwidthBytesPerS;
    };
    // A wave of k parallel requests lasts as long as its slowest: the median of the max of k log-normals.
    const wave = (k: number, medianMs: number) => (medianMs / 1000) * Math.exp(net.latencySigma * normalQuantile(0.5 ** (1 / Math.max(k, 1))));
    const waves = (k: number, medianMs: number) => {
      let total = 0;
      for (let left = k; left > 0; left -= net.requestsInFlight) total += wave(Math.min(left, net.requestsInFlight), medianMs);
      return total;
    };
    // (De)coding and averaging run on the worker's CPU; a fraction of a vCPU slows them.
    const cpuShare = Math.min(1, Math.max(this.speed(config, { ...this.profile, threads: 1, tensorsOn: 'host' }), 0.05));
    const requests = config.sync === 'hierarchical' ? n * n + 2 * n * (n - 1) : 3 * n - 2;
    // Any request in the long tail holds up the barrier.
    const tail = (1 - (1 - net.tailProbability) ** requests) * net.tailMeanS;
    if (config.sync === 'flat') {
      const latency = wave(n - 1, net.putLatencyMs) + waves(n - 1, net.getLatencyMs) + 2 * wave(1, net.putLatencyMs) + wave(n - 1, net.getLatencyMs);
      const bytes = transfer(g) + transfer((n - 1) * g) + (2 * g) / net.bandwidthBytesPerS;
      const cpu = ((n + 2) * g * net.cpuNsPerSyncByte) / 1e9 / cpuShare;
      const floor = n / net.putsPerS + (2 * (n - 1)) / net.getsPerS + this.serverFloorS(n);
      return Math.max(latency + bytes + cpu, floor) + tail;
    }
    // Scatter (writes) overlaps the reduce (reads); then the mean is written and the means read.
    const latency = Math.max(waves(n - 1, net.putLatencyMs), waves(n - 1, net.getLatencyMs)) + wave(n, net.putLatencyMs) + waves(n - 1, net.getLatencyMs);
    const shard = g / n;
    const bytes = transfer((n - 1) * shard) + shard / net.bandwidthBytesPerS + ((n - 1) * shard) / net.bandwidthBytesPerS;
    const cpu = ((3 * g * net.cpuNsPerSyncByte) / 1e9) / cpuShare;
    const floor = (n * n) / net.putsPerS + (2 * n * (n - 1)) / net.getsPerS + this.serverFloorS(n);
    return Math.max(latency + bytes + cpu, floor) + tail;
  }

  /** Time the store's own network needs for one iteration's bytes (0 when it scales out). */
  private serverFloorS(workers: number): number {
    const server = this.network.serverBytesPerS;
    return server ? ((3 * workers - 2) * this.gradientBytes) / server : 0;
  }

  iteration(config: Config, perWorkerBatch: number, calibration: Calibration = UNCALIBRATED): IterationParts {
    const computeS = this.computeS(config, perWorkerBatch);
    return { computeS: computeS * calibration.compute, syncS: this.syncS(config, computeS) * calibration.sync };
  }

  /**
   * Seconds one epoch spends outside its iterations — `steadyS` every epoch pays, `startS` only one
   * that starts new workers — and how many continuations the time limit forces.
   */
  epochOverhead(
    config: Config,
    runS: number,
    options: { switched: boolean; partitionBytes: number; timeLimitS: number; safetyMarginS: number; iterations: number },
    calibration: Calibration = UNCALIBRATED,
  ): { overheadS: number; steadyS: number; startS: number; epochEndS: number; continuations: number; launchS: number } {
    const net = this.network;
    const state = this.stateBytes / net.bandwidthBytesPerS + net.getLatencyMs / 1000;
    const launchS = net.launchS + net.launchSPerWorker * config.workers;
    const usable = Math.max(options.timeLimitS - options.safetyMarginS, 1);
    const continuations = Math.max(0, Math.ceil((runS + state) / usable) - 1);
    const epochEndS = this.epochEndS(config, options.iterations) * calibration.overhead;
    const steadyS =
      (launchS + net.warmStartS + state + this.stateBytes / net.bandwidthBytesPerS + continuations * (2 * state + net.warmStartS)) * calibration.overhead + epochEndS;
    const dataS = options.partitionBytes / net.bandwidthBytesPerS + (options.partitionBytes * net.partitionNsPerByte) / 1e9;
    const startS = options.switched ? (net.coldStartS + net.workerWarmupS + dataS) * calibration.start : 0;
    return { overheadS: steadyS + startS, steadyS, startS, epochEndS, continuations, launchS };
  }

  /**
   * The orchestrator's work after an epoch, in its own process: read every rank's marker of every
   * iteration (the training loss), list and delete the epoch's exchange keys, and evaluate the
   * held-out split (a forward pass: a third of the gradient step's cost per sample).
   */
  epochEndS(config: Config, iterations: number): number {
    const net = this.network;
    const end = epochEndRounds(config.sync, config.workers, iterations, { inFlight: net.requestsInFlight, keysPerRequest: net.keysPerRequest });
    const requestsS = (end.getRounds * net.getLatencyMs + end.putRounds * net.putLatencyMs) / 1000;
    const evaluateS = ((this.facts.heldOutSamples ?? 0) * this.facts.computeMsPerSample) / 3 / 1000;
    return requestsS + (end.keys * net.orchestratorMsPerKey) / 1000 + evaluateS;
  }

  /** Billed polls per iteration, all workers. */
  pollGets(config: Config, syncS: number, calibration: Calibration = UNCALIBRATED): number {
    if (config.workers === 1) return 0;
    return config.workers * this.network.pollsPerSyncS * syncS * calibration.polls;
  }
}
