/**
 * One worker's traffic in one sync: writes and waits for float32 objects through the store,
 * counts bytes and objects for `SyncStats`, and applies `skipExisting` on a retry.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { waitForObject } from '../backends/store-utils.js';
import { SmltError } from '../errors.js';
import { decodeFloat32, encodeFloat32 } from './float32-codec.js';
import type { SyncContext, SyncStats } from './strategy.js';

/**
 * Requests in flight per direction. On S3 a small request takes ~27 ms (GET) to ~40 ms (PUT)
 * whatever its size (CALIBRATION.md), so n shards must overlap or latency, not bandwidth, sets
 * the sync time; 16 stays well inside the AWS SDK's default pool of 50 sockets.
 */
const REQUESTS_IN_FLIGHT = 16;

export class Exchange {
  readonly stats: SyncStats = { bytesWritten: 0, bytesRead: 0, puts: 0, gets: 0, waitMs: 0 };
  // Separate pools, so this worker's writes, which everyone else is waiting on, never queue
  // behind its own reads.
  private readonly writes: LimitFunction = pLimit(REQUESTS_IN_FLIGHT);
  private readonly reads: LimitFunction = pLimit(REQUESTS_IN_FLIGHT);

  constructor(private readonly ctx: SyncContext) {}

  /** Writes every entry; on a retry (`skipExisting`) keeps objects that already exist. */
  async putAll(entries: readonly (readonly [key: string, values: Float32Array])[]): Promise<void> {
    await this.writes.map(entries, async ([key, values]) => {
      if (this.ctx.skipExisting && (await this.ctx.store.has(key))) return;
      await this.write(key, values);
    });
  }

  /**
   * The object a previous attempt published under `key` (looked up only on a retry), else
   * `compute()`'s result, written under `key`. Others may already have read the published one,
   * so a retry must keep it rather than publish a different mean.
   */
  async reuseOrPublish(key: string, length: number, compute: () => Promise<Float32Array>): Promise<Float32Array> {
    if (this.ctx.skipExisting) {
      const bytes = await this.ctx.store.get(key);
      if (bytes) return this.received(key, bytes, length);
    }
    const values = await compute();
    await this.write(key, values);
    return values;
  }

  /**
   * The values of every key, in the order given; `lengthOf(i)` is the length key i must hold,
   * when known. Polls only for the first key still missing (keys come in expected arrival
   * order), and once it lands fetches all the others in parallel, since most have landed too;
   * repeats for what is still missing. One poller per worker rather than one per key keeps
   * polls (each a billed GET on S3) from growing with n. Times out when the awaited key makes
   * no appearance for `timeoutMs`.
   */
  async gather(keys: readonly string[], lengthOf: (index: number) => number | undefined): Promise<Float32Array[]> {
    const started = performance.now();
    const { store, timeoutMs, pollMs, signal } = this.ctx;
    const values = new Array<Float32Array>(keys.length);
    let missing = keys.map((_, i) => i);
    try {
      while (missing.length > 0) {
        const [next, ...rest] = missing;
        values[next] = this.received(keys[next], await waitForObject(store, keys[next], { timeoutMs, signal, pollMs }), lengthOf(next));
        const bodies = await this.reads.map(rest, (i) => store.get(keys[i]));
        missing = rest.filter((i, j) => {
          const body = bodies[j];
          if (body) values[i] = this.received(keys[i], body, lengthOf(i));
          return !body;
        });
      }
      return values;
    } finally {
      this.stats.waitMs += performance.now() - started;
    }
  }

  private async write(key: string, values: Float32Array): Promise<void> {
    const bytes = encodeFloat32(values);
    await this.ctx.store.put(key, bytes);
    this.stats.puts++;
    this.stats.bytesWritten += bytes.byteLength;
  }

  private received(key: string, bytes: Uint8Array, length: number | undefined): Float32Array {
    this.stats.gets++;
    this.stats.bytesRead += bytes.byteLength;
    const values = decodeFloat32(bytes, key);
    if (length !== undefined && values.length !== length) {
      throw new SmltError(
        'SHAPE_MISMATCH',
        `${key} holds ${values.length} values where ${length} were expected: the workers disagree on the gradient size (different models or a stale object).`,
      );
    }
    return values;
  }
}
