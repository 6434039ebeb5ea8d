/**
 * What every ObjectStore adapter and caller shares: the rules for a valid key, and waiting for an
 * object another worker writes. The adapters import it; it imports none of them (opening a store
 * from a location is `open-store.ts`, above the adapters).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { SmltError } from '../errors.js';
import type { ObjectStore } from './ports.js';

/** S3's limit on a key's UTF-8 length; every adapter enforces it so keys are portable. */
const MAX_KEY_BYTES = 1024;

/**
 * Throws STORE_KEY_INVALID unless `key` is a `/`-separated relative path that every adapter can
 * hold: non-empty, at most 1024 UTF-8 bytes, no leading `/`, no empty, `.` or `..` segment, no
 * backslash, no NUL. These rules are what keep a key from escaping a folder store's root.
 */
export function assertValidKey(key: string): void {
  const problem =
    key === '' ? 'it is empty' : key.endsWith('/') ? 'it ends with / (an empty last segment)' : prefixProblem(key);
  if (problem) throw invalidKey('key', key, problem);
}

/**
 * Throws STORE_KEY_INVALID unless `prefix` is '' or the start of a valid key. Its last segment
 * may be partial (`runs/a` matches `runs/ab/x`, as S3 lists) or empty (`runs/`).
 */
export function assertValidPrefix(prefix: string): void {
  const problem = prefixProblem(prefix);
  if (problem) throw invalidKey('prefix', prefix, problem);
}

// With the `u` flag a surrogate pair is one code point, so only unpaired halves match.
const LONE_SURROGATE = /\p{Cs}/u;

function prefixProblem(text: string): string | undefined {
  if (Buffer.byteLength(text) > MAX_KEY_BYTES) {
    return `it is ${Buffer.byteLength(text)} bytes long, over the ${MAX_KEY_BYTES}-byte limit`;
  }
  if (LONE_SURROGATE.test(text)) return 'it is not well-formed Unicode (a lone surrogate)';
  if (text.includes('\0')) return 'it contains a NUL character';
  if (text.includes('\\')) return 'it contains a backslash (separate segments with /)';
  if (text.startsWith('/')) return 'it starts with / (keys are relative paths)';
  // Every segment before the last is complete; the last may be partial, so only it may be empty.
  const complete = text.split('/').slice(0, -1);
  if (complete.includes('')) return 'it has an empty segment (//)';
  if (complete.includes('.') || complete.includes('..')) return 'it has a "." or ".." segment';
  const last = text.slice(text.lastIndexOf('/') + 1);
  if (last === '.' || last === '..') return 'it has a "." or ".." segment';
  return undefined;
}

function invalidKey(what: 'key' | 'prefix', text: string, problem: string): SmltError {
  const shown = text.length > 120 ? `${JSON.stringify(text.slice(0, 120))}…` : JSON.stringify(text);
  return new SmltError('STORE_KEY_INVALID', `Invalid object ${what} ${shown}: ${problem}.`);
}

/** Poll delays for stores without `waitFor`: start short so a fast writer is seen at once, back off to bound request count. */
export interface PollMs {
  initial: number;
  max: number;
}

/** A folder store answers a GET in well under a millisecond, so polling it often is cheap. */
export const FOLDER_POLL_MS: PollMs = { initial: 1, max: 20 };

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Used only when the store has no `waitFor`; default the store's own `pollMs`, else `FOLDER_POLL_MS`. */
  pollMs?: PollMs;
}

/**
 * The object's bytes as soon as `key` exists. Uses the store's own `waitFor` when it has one,
 * else polls `get` with exponential backoff. Rejects with SYNC_TIMEOUT naming the key after
 * `timeoutMs`, or with the signal's reason (an `AbortError` by default) when `signal` aborts.
 */
export async function waitForObject(store: ObjectStore, key: string, options: WaitOptions): Promise<Uint8Array> {
  const { timeoutMs, signal } = options;
  signal?.throwIfAborted();
  if (store.waitFor) return store.waitFor(key, { timeoutMs, signal });
  const { initial, max } = options.pollMs ?? store.pollMs ?? FOLDER_POLL_MS;
  const deadline = performance.now() + timeoutMs;
  let pauseMs = initial;
  for (;;) {
    const body = await store.get(key);
    if (body) return body;
    const leftMs = deadline - performance.now();
    if (leftMs <= 0) {
      throw new SmltError(
        'SYNC_TIMEOUT',
        `Waited ${timeoutMs} ms for ${key} in ${store.url} and it never appeared: the worker that writes it failed or is straggling.`,
      );
    }
    await sleep(Math.min(pauseMs, leftMs), signal);
    pauseMs = Math.min(pauseMs * 2, max);
  }
}

async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    // timers/promises wraps the reason in its own AbortError; callers get the reason itself, as from fetch.
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}
