/**
 * Hierarchical vs flat aggregation on the folder store: n workers, each a worker thread with its
 * own store client (threads, not one event loop, so aggregators really average in parallel),
 * exchange a 1 M-parameter (4 MB) gradient for several iterations.
 *
 *   node --import tsx test/bench/sync.ts [--workers 2,4,8,16,32] [--iterations 5] [--parameters 1000000]
 *                                        [--network folder|lambda-s3] [--store folder|s3]
 *
 * `--store s3` runs every configuration twice in one process: through the folder store, then
 * through the real S3 client (S3Store) against the S3 emulator (s3rver on loopback), so the two
 * tables can be compared side by side. `--store redis` runs it three times: folder, S3 emulator,
 * and RedisStore on a private redis-server (waits woken by PUBLISH, no polling).
 *
 * Per configuration it prints the median time per sync (first worker starting to last worker
 * done), the bytes the busiest worker moved over the model size, and store requests per
 * iteration over all workers, polls included (the S3 bill and the per-prefix load).
 * Run it on a machine with at least as many cores as workers to see the protocol rather than
 * the CPU: with fewer cores the threads take turns and every strategy is CPU-bound.
 *
 * `--network lambda-s3` emulates what the folder store cannot show: each worker's requests pay
 * S3's median latency and its bytes share one Lambda-sized link (CALIBRATION.md), so waiting
 * is sleeping, not CPU, and the strategies differ by the bytes and round trips on their
 * critical path. It is a model, not a measurement of S3.
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import { openStore } from '@smlt/shared/backends/open-store';
import type { ObjectStore, StoreLocation } from '@smlt/shared/backends/ports';
import { mulberry32 } from '@smlt/shared/data/order';
import { syncStrategy } from '@smlt/shared/sync/index';
import type { SyncName } from '@smlt/shared/sync/strategy';

export interface BenchSyncOptions {
  workerCounts?: readonly number[];
  strategies?: readonly SyncName[];
  /** Gradient length in float32 values. */
  parameters?: number;
  /** Timed iterations per configuration; the median is reported. */
  iterations?: number;
  /** Untimed iterations first (creates folders, warms the JIT). */
  warmupIterations?: number;
  /** Where the folder store lives; default a fresh temp folder, removed afterwards. */
  dir?: string;
  network?: NetworkName;
  /** A store to sync through instead of the folder store (S3 emulator, Redis); each configuration gets its own prefix. */
  target?: StoreLocation;
}

export type NetworkName = 'folder' | 'lambda-s3';

/**
 * Lambda to S3, from CALIBRATION.md: median small-object latency 27 ms GET / 40 ms PUT, and
 * ≈75 MiB/s sustained per function. Latency overlaps across parallel requests; bytes do not.
 */
const LAMBDA_S3 = { getLatencyMs: 27, putLatencyMs: 40, bytesPerMs: (75 * 1024 * 1024) / 1000 };

/** A worker's store client behind its own emulated network link. */
class EmulatedLinkStore implements ObjectStore {
  private linkFreeAtMs = 0;
  constructor(private readonly inner: ObjectStore) {}

  get url(): string {
    return this.inner.url;
  }
  get requests(): ObjectStore['requests'] {
    return this.inner.requests;
  }
  async put(key: string, body: Uint8Array | string): Promise<void> {
    // The object becomes visible when its last byte has crossed the link.
    await this.transfer(Buffer.byteLength(body), LAMBDA_S3.putLatencyMs);
    await this.inner.put(key, body);
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    const body = await this.inner.get(key);
    await this.transfer(body?.byteLength ?? 0, LAMBDA_S3.getLatencyMs);
    return body;
  }
  async has(key: string): Promise<boolean> {
    await this.transfer(0, LAMBDA_S3.getLatencyMs);
    return this.inner.has(key);
  }
  async list(prefix: string): Promise<string[]> {
    await this.transfer(0, LAMBDA_S3.getLatencyMs);
    return this.inner.list(prefix);
  }
  async delete(keys: readonly string[]): Promise<void> {
    await this.transfer(0, LAMBDA_S3.putLatencyMs);
    await this.inner.delete(keys);
  }

  private async transfer(bytes: number, latencyMs: number): Promise<void> {
    const nowMs = performance.now();
    const startMs = Math.max(nowMs + latencyMs, this.linkFreeAtMs);
    this.linkFreeAtMs = startMs + bytes / LAMBDA_S3.bytesPerMs;
    await new Promise((resolve) => setTimeout(resolve, this.linkFreeAtMs - nowMs));
  }
}

export interface BenchSyncRow {
  strategy: SyncName;
  workers: number;
  medianSyncMs: number;
  /** Bytes written + read by the busiest worker in one sync, over the gradient's bytes. */
  busiestMovedPerModel: number;
  /** PUT + GET (+ HEAD, + polls) over all workers, per sync. */
  requestsPerSync: number;
}

interface WorkerInput {
  benchSyncWorker: true;
  root: string;
  strategy: SyncName;
  workers: number;
  rank: number;
  parameters: number;
  iterations: number;
  network: NetworkName;
  target?: StoreLocation;
  /** Int32 [arrived, generation] shared by every thread of one configuration. */
  barrier: SharedArrayBuffer;
}

interface WorkerOutput {
  /** Absolute times (ms since the epoch, sub-ms precision) so threads can be compared. */
  startsMs: number[];
  endsMs: number[];
  movedBytes: number;
  requests: number;
  /** Of the last average: every worker and both strategies must agree. */
  checksum: number;
}

const PREFIX = 'runs/bench/sync/e0000';

/**
 * Node 20 worker threads do not inherit tsx's loader hooks from `--import tsx`, so each thread
 * starts from a two-line module that registers tsx and then loads this file.
 */
const THREAD_ENTRY = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(import.meta.url)});`,
  )}`,
);

export async function benchSync(options: BenchSyncOptions = {}): Promise<BenchSyncRow[]> {
  const {
    workerCounts = [2, 4, 8, 16, 32],
    strategies = ['hierarchical', 'flat'],
    parameters = 1_000_000,
    iterations = 5,
    warmupIterations = 1,
    network = 'folder',
    target,
  } = options;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'smlt-bench-sync-')));
  const rows: BenchSyncRow[] = [];
  try {
    for (const workers of workerCounts) {
      const checksums = new Set<number>();
      for (const strategy of strategies) {
        const root = join(dir, `${strategy}-n${workers}`);
        const outputs = await runThreads({ root, strategy, workers, parameters, network, ...(target ? { target } : {}), iterations: warmupIterations + iterations });
        outputs.forEach((output) => checksums.add(output.checksum));
        const syncMs = Array.from({ length: iterations }, (_, i) => {
          const at = warmupIterations + i;
          return Math.max(...outputs.map((o) => o.endsMs[at])) - Math.min(...outputs.map((o) => o.startsMs[at]));
        });
        rows.push({
          strategy,
          workers,
          medianSyncMs: median(syncMs),
          busiestMovedPerModel: Math.max(...outputs.map((o) => o.movedBytes)) / (parameters * 4),
          requestsPerSync: outputs.reduce((total, o) => total + o.requests, 0) / (warmupIterations + iterations),
        });
        await rm(root, { recursive: true, force: true });
      }
      if (checksums.size !== 1) throw new Error(`n=${workers}: workers or strategies disagree on the mean (${[...checksums]})`);
    }
  } finally {
    if (!options.dir) await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

function runThreads(config: Omit<WorkerInput, 'benchSyncWorker' | 'rank' | 'barrier'>): Promise<WorkerOutput[]> {
  const barrier = new SharedArrayBuffer(8);
  const threads = Array.from({ length: config.workers }, (_, rank) => {
    const input: WorkerInput = { benchSyncWorker: true, ...config, rank, barrier };
    return new Worker(THREAD_ENTRY, { workerData: input });
  });
  return Promise.all(
    threads.map(
      (thread) =>
        new Promise<WorkerOutput>((resolve, reject) => {
          thread.once('message', resolve);
          thread.once('error', (err) => {
            // One failed worker would leave the others waiting at the barrier forever.
            threads.forEach((other) => void other.terminate());
            reject(err);
          });
          thread.once('exit', (code) => code !== 0 && reject(new Error(`a bench worker exited with code ${code}`)));
        }),
    ),
  );
}

async function workerMain(input: WorkerInput): Promise<WorkerOutput> {
  const { root, strategy, workers, rank, parameters, iterations } = input;
  const barrier = new Int32Array(input.barrier);
  // Each configuration gets its own prefix, as each folder configuration its own folder.
  const base: ObjectStore = input.target
    ? openStore({ ...input.target, prefix: `bench/${root.split('/').slice(-2).join('-')}` })
    : new FolderStore(root);
  const store = input.network === 'lambda-s3' ? new EmulatedLinkStore(base) : base;
  const sync = syncStrategy(strategy);
  const random = mulberry32(rank + 1);
  const gradient = Float32Array.from({ length: parameters }, () => random() * 2 - 1);
  const ctx = { store, prefix: PREFIX, workers, rank, timeoutMs: 120_000 };
  const output: WorkerOutput = { startsMs: [], endsMs: [], movedBytes: 0, requests: 0, checksum: 0 };
  for (let iteration = 0; iteration < iterations; iteration++) {
    waitAtBarrier(barrier, workers);
    const requestsBefore = store.requests.put + store.requests.get;
    output.startsMs.push(performance.timeOrigin + performance.now());
    const { average, stats } = await sync.allReduce(ctx, iteration, gradient);
    output.endsMs.push(performance.timeOrigin + performance.now());
    output.requests += store.requests.put + store.requests.get - requestsBefore;
    output.movedBytes = stats.bytesWritten + stats.bytesRead;
    output.checksum = average.reduce((sum, value, i) => sum + value * ((i % 7) + 1), 0);
    // Keep the folder small between iterations, outside the timed part, as the orchestrator
    // deletes an epoch's sync data after it.
    waitAtBarrier(barrier, workers);
    if (rank === 0) await base.delete(await base.list(`${PREFIX}/`));
  }
  await (base as { close?: () => unknown }).close?.();
  return output;
}

/** A reusable barrier over [arrived, generation]; blocking is fine, the thread has nothing else to do. */
function waitAtBarrier(state: Int32Array, parties: number): void {
  const generation = Atomics.load(state, 1);
  if (Atomics.add(state, 0, 1) === parties - 1) {
    Atomics.store(state, 0, 0);
    Atomics.add(state, 1, 1);
    Atomics.notify(state, 1);
  } else {
    while (Atomics.load(state, 1) === generation) Atomics.wait(state, 1, generation);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function formatTable(rows: readonly BenchSyncRow[]): string {
  const header = ['n', 'hier ms', 'flat ms', 'hier/flat', 'hier busiest/model', 'flat busiest/model', 'hier req/sync', 'flat req/sync'];
  const lines = [...new Set(rows.map((row) => row.workers))].map((workers) => {
    const h = rows.find((row) => row.workers === workers && row.strategy === 'hierarchical');
    const f = rows.find((row) => row.workers === workers && row.strategy === 'flat');
    return [
      String(workers),
      h ? h.medianSyncMs.toFixed(1) : '-',
      f ? f.medianSyncMs.toFixed(1) : '-',
      h && f ? (h.medianSyncMs / f.medianSyncMs).toFixed(2) : '-',
      h ? h.busiestMovedPerModel.toFixed(2) : '-',
      f ? f.busiestMovedPerModel.toFixed(2) : '-',
      h ? h.requestsPerSync.toFixed(0) : '-',
      f ? f.requestsPerSync.toFixed(0) : '-',
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
  const format = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i])).join(' | ')} |`;
  return [format(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(format)].join('\n');
}

function isBenchWorker(data: unknown): data is WorkerInput {
  return typeof data === 'object' && data !== null && (data as Partial<WorkerInput>).benchSyncWorker === true;
}

if (!isMainThread && isBenchWorker(workerData)) {
  parentPort?.postMessage(await workerMain(workerData));
} else if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}

/** `npm run bench -- sync [--workers 2,4,8] [--iterations N] [--parameters P] [--network folder|lambda-s3] [--store folder|s3|redis]` */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      workers: { type: 'string', default: '2,4,8,16,32' },
      iterations: { type: 'string', default: '5' },
      parameters: { type: 'string', default: '1000000' },
      network: { type: 'string', default: 'folder' },
      store: { type: 'string', default: 'folder' },
    },
  });
  if (!['folder', 's3', 'redis'].includes(values.store)) throw new Error('--store must be folder, s3 or redis');
  if (values.network !== 'folder' && values.network !== 'lambda-s3') throw new Error('--network must be folder or lambda-s3');
  const options: BenchSyncOptions = {
    workerCounts: values.workers.split(',').map(Number),
    iterations: Number(values.iterations),
    parameters: Number(values.parameters),
    network: values.network,
  };
  console.log(
    `sync benchmark: ${options.parameters} float32 parameters (${((options.parameters ?? 0) * 4) / 1e6} MB), ` +
      `${options.iterations} timed iterations, folder store in ${tmpdir()}, ` +
      (options.network === 'lambda-s3' ? 'emulated Lambda-to-S3 links (27/40 ms, 75 MiB/s per worker), ' : '') +
      `${availableParallelism()} cores, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, ` +
      // Other processes competing for the cores skew every number; say so in the output.
      `load average before ${loadavg()[0].toFixed(2)}`,
  );
  const rows = await benchSync(options);
  console.log(formatTable(rows));
  const compared: { name: string; rows: BenchSyncRow[] }[] = [];
  if (values.store === 's3' || values.store === 'redis') {
    const { startS3Emulator } = await import('../emulators/s3-emulator.js');
    const emulator = await startS3Emulator({ bucket: 'smlt-bench' });
    // Worker threads copy this environment: their S3 clients find the emulator's credentials in it.
    Object.assign(process.env, emulator.env);
    try {
      const target: StoreLocation = { kind: 's3', root: emulator.bucket, endpoint: emulator.endpoint, region: emulator.region };
      compared.push({ name: 'S3Store (@aws-sdk/client-s3) and the S3 emulator (s3rver on loopback, one process)', rows: await benchSync({ ...options, target }) });
    } finally {
      await emulator.stop();
    }
  }
  if (values.store === 'redis') {
    const { startPrivateRedis } = await import('@smlt/shared/backends/redis/private-server');
    const redis = await startPrivateRedis();
    process.env.SMLT_REDIS_PASSWORD = redis.password;
    try {
      compared.push({ name: 'RedisStore (ioredis) and a private redis-server on loopback', rows: await benchSync({ ...options, target: { kind: 'redis', root: redis.url } }) });
    } finally {
      await redis.stop();
    }
  }
  for (const { name, rows: other } of compared) {
    console.log(`\nthe same through ${name}:`);
    console.log(formatTable(other));
    console.log(`time / folder store time: ${other.map((r) => {
      const folder = rows.find((f) => f.workers === r.workers && f.strategy === r.strategy)!;
      return `${r.strategy} n=${r.workers} ${(r.medianSyncMs / folder.medianSyncMs).toFixed(2)}x`;
    }).join(', ')}`);
  }
  console.log(`load average after ${loadavg()[0].toFixed(2)} (1 min)`);
}
