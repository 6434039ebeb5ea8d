/**
 * The two ports every backend implements. Local (folder + child processes) and AWS (S3 + Lambda)
 * are adapters; `test/contract/` holds the one suite each adapter must pass.
 */
import type { PricedPlatform, RequestCounts } from '../cost/prices.js';

export type { RequestCounts } from '../cost/prices.js';

/** A flat key/value object store with S3 semantics: whole-object put/get, prefix listing. */
export interface ObjectStore {
  /** Human-readable location, e.g. `file:///x/.smlt` or `s3://bucket/prefix`. Never contains secrets. */
  readonly url: string;
  /** Writes the whole object atomically: a concurrent reader sees the old object, the new one, or none. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /** The object's bytes, or `undefined` when there is no such key. */
  get(key: string): Promise<Uint8Array | undefined>;
  has(key: string): Promise<boolean>;
  /** Every key that starts with `prefix`, sorted ascending (byte order, as S3 lists). */
  list(prefix: string): Promise<string[]>;
  /** Deletes the keys; missing keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Optional: resolves when `key` exists (with its bytes). Stores that can wait without polling
   * (e.g. a blocking pop) implement it; otherwise `waitForObject` polls `get`.
   */
  waitFor?(key: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Uint8Array>;
  /** How often `waitForObject` polls this store when it has no `waitFor` (default: a folder's rate). */
  readonly pollMs?: { initial: number; max: number };
  /**
   * Optional: removes what writes cut off by a crash left under `prefix` (the folder store's temp
   * files) and says how many (with `dryRun`, only counts them); stores whose writes leave nothing
   * behind do not implement it.
   */
  removePartialWrites?(prefix: string, options?: { dryRun?: boolean }): Promise<number>;
  /** Counts of requests made through this instance, for cost accounting. */
  readonly requests: RequestCounts;
}

/** How a worker reaches the store: enough for a worker process to open its own client. */
export interface StoreLocation {
  kind: 'folder' | 's3' | 'redis';
  /** folder: absolute path; s3: bucket name; redis: the server's URL without credentials */
  root: string;
  /** s3 and redis: the key prefix */
  prefix?: string;
  region?: string;
  endpoint?: string;
}

/** The Lambda-shaped context a worker gets; the local platform fakes it. */
export interface WorkerContext {
  functionName: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

export interface InvokeOptions {
  /** Function memory size, as on Lambda (CPU share follows it). */
  memoryMb: number;
  signal?: AbortSignal;
  /**
   * A hint: prefer a warm container that last ran an invocation with the same affinity (it has
   * that invocation's data cached). Platforms that cannot choose containers ignore it.
   */
  affinity?: string;
}

export type InvokeOutcome<R> =
  | ({ ok: true; result: R } & InvocationStats)
  | ({
      ok: false;
      /** handler threw; killed for memory; killed for time; process crashed; cancelled */
      reason: 'error' | 'out-of-memory' | 'timeout' | 'crashed' | 'aborted';
      message: string;
      /** The error's `code` when the handler threw an SmltError. */
      code?: string;
    } & InvocationStats);

export interface InvocationStats {
  /** Billed duration (Lambda bills the handler's run time). */
  billedMs: number;
  /** A new container was started for this invocation. */
  coldStart: boolean;
  /** From the call until the handler started. */
  launchMs: number;
  /** Peak resident memory seen, when the platform measures it. */
  peakMemoryMb?: number;
}

/** Where workers run. One invocation = one call of the worker handler with a JSON event. */
export interface Platform {
  readonly name: string;
  /** The prices its invocations are billed at: Lambda's for its architecture, or `local` (free, priced as Lambda x86_64). */
  readonly pricing: PricedPlatform;
  /** Hard per-invocation limit (Lambda: 900 s). */
  readonly timeLimitMs: number;
  /** Memory sizes this platform accepts, inclusive. */
  readonly memoryRangeMb: readonly [number, number];
  /** Runs the handler once with `event`; never throws for a worker failure, returns it. */
  invoke<E, R>(event: E, options: InvokeOptions): Promise<InvokeOutcome<R>>;
  /** Stops every running invocation and releases warm workers. */
  close(): Promise<void>;
}
