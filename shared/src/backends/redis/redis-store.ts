/**
 * The ObjectStore on Redis or Valkey (a private `redis-server`, any Redis URL, or ElastiCache):
 * an in-memory channel for gradient exchange, where S3 costs a request per object and tens of
 * milliseconds per round trip. Through `ioredis`.
 *
 * - Atomic whole-object writes: one SET per object, in a MULTI with a PUBLISH, so a reader that
 *   waits (`waitFor`) is woken by the write itself instead of polling; the notification arrives
 *   only after the value is readable.
 * - Large values are chunked (Redis refuses values over 512 MB and a single huge value blocks the
 *   server while it moves): chunks first, then the head that names them, so a reader never sees
 *   a partial object.
 * - Every key expires (`ttlS`, default one day) so a crashed run leaves nothing behind for long;
 *   the orchestrator deletes each epoch's exchange keys as soon as the epoch ends.
 * - The password never appears in `url` or `location` (those travel in worker events and run
 *   records): it comes from `SMLT_REDIS_PASSWORD` or the URL given to this process.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { SmltError, errorMessage } from '../../errors.js';
import type { ObjectStore, RequestCounts, StoreLocation } from '../ports.js';
import { assertValidKey, assertValidPrefix } from '../store-utils.js';

/** Values larger than this are stored in chunks of this size. */
export const REDIS_CHUNK_BYTES = 8 * 1024 * 1024;
/** A run's keys outlive any sensible epoch, not a forgotten run. */
const DEFAULT_TTL_S = 24 * 60 * 60;
/** First byte of every stored value: the bytes follow, or a JSON list of chunks does. */
const INLINE = 0;
const CHUNKED = 1;
/** Internal keys (chunks) contain this; valid object keys cannot (no NUL in keys). */
const INTERNAL = '\u0000';
/** Keys SCAN asks for per call. */
const SCAN_COUNT = 1000;
/** How long a command waits for a connection (Redis restarting) before it fails. */
const RECONNECT_WAIT_MS = 20_000;

export interface RedisStoreOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…` for TLS (ElastiCache in transit encryption). */
  url: string;
  /** Namespace inside the database, e.g. `smlt/<run>`; keys are `<prefix>/<key>`. */
  prefix?: string;
  ttlS?: number;
  chunkBytes?: number;
}

interface ChunkHead {
  nonce: string;
  chunks: number;
  bytes: number;
}

export class RedisStore implements ObjectStore {
  readonly url: string;
  readonly location: StoreLocation;
  readonly requests: RequestCounts = { put: 0, get: 0, list: 0, delete: 0 };
  private readonly client: Redis;
  private subscriber?: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly namespace: string;
  private readonly ttlMs: number;
  private readonly chunkBytes: number;

  constructor(options: RedisStoreOptions) {
    const parsed = new URL(options.url);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new SmltError('OPTION_INVALID', `The channel ${redactedUrl(parsed)} is not a redis:// or rediss:// URL.`);
    }
    const prefix = (options.prefix ?? 'smlt').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertValidKey(prefix);
    this.namespace = prefix === '' ? '' : `${prefix}/`;
    this.ttlMs = (options.ttlS ?? DEFAULT_TTL_S) * 1000;
    this.chunkBytes = options.chunkBytes ?? REDIS_CHUNK_BYTES;
    const base = redactedUrl(parsed);
    this.url = `${base}#${prefix}`;
    this.location = { kind: 'redis', root: base, prefix };
    this.client = connect(options.url);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const name = this.keyOf(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    this.requests.put++;
    await this.call('put', key, async () => {
      const write = this.client.multi();
      if (bytes.byteLength <= this.chunkBytes) {
        write.set(name, Buffer.concat([Buffer.of(INLINE), bytes]), 'PX', this.ttlMs);
      } else {
        const head: ChunkHead = { nonce: randomBytes(6).toString('hex'), chunks: Math.ceil(bytes.byteLength / this.chunkBytes), bytes: bytes.byteLength };
        // Chunks go first, in their own round trips; the head (and the wake-up) only once all are in.
        for (let i = 0; i < head.chunks; i++) {
          await this.client.set(chunkKey(name, head.nonce, i), bytes.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes), 'PX', this.ttlMs);
        }
        write.set(name, Buffer.concat([Buffer.of(CHUNKED), Buffer.from(JSON.stringify(head))]), 'PX', this.ttlMs);
      }
      write.publish(this.channelOf(name), '1');
      await write.exec();
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const name = this.keyOf(key);
    this.requests.get++;
    return this.call('get', key, () => this.read(name));
  }

  async has(key: string): Promise<boolean> {
    const name = this.keyOf(key);
    this.requests.get++;
    return this.call('has', key, async () => (await this.client.exists(name)) === 1);
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    const pattern = `${escapeGlob(this.namespace + prefix)}*`;
    const keys: string[] = [];
    await this.call('list', prefix, async () => {
      let cursor = '0';
      do {
        this.requests.list++;
        const [next, batch] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        for (const name of batch) if (!name.includes(INTERNAL)) keys.push(name.slice(this.namespace.length));
        cursor = next;
      } while (cursor !== '0');
    });
    // SCAN may return a key twice and in any order; S3 semantics are unique keys in byte order.
    return [...new Set(keys)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const names = keys.map((key) => this.keyOf(key));
    this.requests.delete++;
    await this.call('delete', keys[0]!, async () => {
      // Chunked values have chunks to remove too: read each head's first bytes to find them.
      const heads = await this.client.pipeline(names.map((name) => ['getrangeBuffer', name, '0', '255'] as [string, ...string[]])).exec();
      const doomed = [...names];
      heads?.forEach(([, value], i) => {
        const head = chunkHeadOf(value as Buffer | null);
        if (head) for (let c = 0; c < head.chunks; c++) doomed.push(chunkKey(names[i]!, head.nonce, c));
      });
      await this.client.unlink(...doomed);
    });
  }

  /** Resolves with the object as soon as it is written, woken by the writer's PUBLISH. */
  async waitFor(key: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Uint8Array> {
    const name = this.keyOf(key);
    options.signal?.throwIfAborted();
    const channel = this.channelOf(name);
    let wake!: () => void;
    let woken = new Promise<void>((resolve) => (wake = resolve));
    const listener = () => wake();
    await this.subscribe(channel, listener);
    const deadline = performance.now() + options.timeoutMs;
    try {
      for (;;) {
        // Subscribed first, then read: a write between the two cannot be missed.
        this.requests.get++;
        const body = await this.call('get', key, () => this.read(name));
        if (body) return body;
        const leftMs = deadline - performance.now();
        if (leftMs <= 0) {
          throw new SmltError(
            'SYNC_TIMEOUT',
            `Waited ${options.timeoutMs} ms for ${key} in ${this.url} and it never appeared: the worker that writes it failed or is straggling.`,
          );
        }
        await raceWake(woken, leftMs, options.signal);
        woken = new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      this.unsubscribe(channel, listener);
    }
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    await Promise.all([this.client.quit().catch(() => undefined), this.subscriber?.quit().catch(() => undefined)]);
  }

  private async read(name: string): Promise<Uint8Array | undefined> {
    const value = await this.client.getBuffer(name);
    if (value === null) return undefined;
    if (value[0] === INLINE) return new Uint8Array(value.buffer, value.byteOffset + 1, value.byteLength - 1);
    const head = chunkHeadOf(value);
    if (!head) throw new Error(`the value of ${name} has an unknown format`);
    const chunks = await this.client.mgetBuffer(...Array.from({ length: head.chunks }, (_, i) => chunkKey(name, head.nonce, i)));
    if (chunks.some((chunk) => chunk === null)) {
      // Overwritten and its old chunks already deleted between the two reads: read the new one.
      return this.read(name);
    }
    return new Uint8Array(Buffer.concat(chunks as Buffer[]));
  }

  private async subscribe(channel: string, listener: () => void): Promise<void> {
    if (!this.subscriber) {
      this.subscriber = this.client.duplicate();
      this.subscriber.on('messageBuffer', (channelBuffer: Buffer) => {
        for (const wake of this.waiters.get(channelBuffer.toString('utf8')) ?? []) wake();
      });
    }
    let listeners = this.waiters.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.waiters.set(channel, listeners);
      listeners.add(listener);
      await this.subscriber.subscribe(channel);
    } else {
      listeners.add(listener);
    }
  }

  private unsubscribe(channel: string, listener: () => void): void {
    const listeners = this.waiters.get(channel);
    listeners?.delete(listener);
    if (listeners?.size === 0) {
      this.waiters.delete(channel);
      void this.subscriber?.unsubscribe(channel).catch(() => undefined);
    }
  }

  private keyOf(key: string): string {
    assertValidKey(key);
    return this.namespace + key;
  }

  private channelOf(name: string): string {
    return `${name}${INTERNAL}put`;
  }

  private async call<T>(operation: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof SmltError) throw err;
      throw new SmltError('STORE_ERROR', `Redis ${operation} of ${key} in ${this.url} failed: ${errorMessage(err)}.`, { cause: err });
    }
  }
}

/** Opens the store a worker is sent (`StoreLocation` kind `redis`); the password comes from the environment. */
export function redisStoreAt(location: StoreLocation): RedisStore {
  const url = new URL(location.root);
  const password = process.env.SMLT_REDIS_PASSWORD;
  if (password) url.password = encodeURIComponent(password);
  return new RedisStore({ url: url.toString(), prefix: location.prefix });
}

function connect(url: string): Redis {
  return new Redis(url, {
    lazyConnect: false,
    // Keep commands queued while Redis restarts, and fail them clearly if it does not come back.
    maxRetriesPerRequest: null,
    commandTimeout: RECONNECT_WAIT_MS,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    enableAutoPipelining: true,
  });
}

/** The URL without its password (and username), for messages and run records. */
export function redactedUrl(url: URL): string {
  const copy = new URL(url.toString());
  copy.username = '';
  copy.password = '';
  return copy.toString().replace(/\/$/, '');
}

function chunkKey(name: string, nonce: string, index: number): string {
  return `${name}${INTERNAL}${nonce}:${index}`;
}

function chunkHeadOf(value: Buffer | null): ChunkHead | undefined {
  if (!value || value[0] !== CHUNKED) return undefined;
  return JSON.parse(value.subarray(1).toString('utf8')) as ChunkHead;
}

/** Escapes Redis glob characters so a prefix matches literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

async function raceWake(woken: Promise<void>, ms: number, signal: AbortSignal | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      woken,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      new Promise<void>((_, reject) => {
        if (!signal) return;
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
