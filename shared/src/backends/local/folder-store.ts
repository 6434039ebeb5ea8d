/**
 * The local object store: one file per key under a root folder. It gives the S3 semantics the
 * rest of SMLT relies on: whole-object atomic writes (temp file + rename in the same folder, so
 * a reader sees the old bytes or the new, never a mix), byte-ordered prefix listing, idempotent
 * deletes. Keys map to paths one to one, so a run's folder can be read by a person.
 *
 * Not S3: a key cannot also be the folder of other keys (`a` and `a/b` cannot both exist), and
 * a key segment must fit a file name (255 bytes). SMLT's own key layout never needs either.
 */
import { randomBytes } from 'node:crypto';
import { type Dirent, type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, readdir, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import pLimit from 'p-limit';
import { SmltError, errorMessage } from '../../errors.js';
import type { ObjectStore, RequestCounts } from '../ports.js';
import { assertValidKey, assertValidPrefix } from '../store-utils.js';

/** Temp files end with this; keys may not, so listing can skip temp files without ambiguity. */
const TEMP_SUFFIX = '.smlt-tmp';
/** Most file systems' NAME_MAX. Temp names do not include the key's segment, so it may use all of it. */
const MAX_SEGMENT_BYTES = 255;
/** S3 lists and deletes at most 1,000 keys per request; count requests as S3 would bill them. */
const KEYS_PER_REQUEST = 1000;
/** Enough parallel unlinks to hide file-system latency without exhausting file handles. */
const DELETE_CONCURRENCY = 32;
/** Reads while watching, in case the watcher missed an event. */
const SAFETY_POLL_MS = 200;
/** Reads when the folder cannot be watched at all. */
const FALLBACK_POLL_MS = 5;
/** A put retries when a concurrent delete removes its just-created (empty) folder. */
const PUT_ATTEMPTS = 5;

export class FolderStore implements ObjectStore {
  readonly url: string;
  readonly requests: RequestCounts = { put: 0, get: 0, list: 0, delete: 0 };
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir);
    this.url = `file://${this.root}`;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const file = this.pathOf(key);
    this.requests.put++;
    const temp = `${dirname(file)}${sep}.${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`;
    try {
      // Try the write first: the folder usually exists, and creating it costs two more system calls.
      for (let attempt = 1; ; attempt++) {
        try {
          await writeFile(temp, body, { flag: 'wx' });
          break;
        } catch (err) {
          // ENOENT: the folder is missing, or a concurrent delete just removed it (empty).
          if (code(err) !== 'ENOENT' || attempt === PUT_ATTEMPTS) throw err;
          await mkdir(dirname(file), { recursive: true });
        }
      }
      // Once the temp file exists its folder is not empty, so no delete can remove it before the rename.
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw this.storeError(`write ${key}`, err);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const file = this.pathOf(key);
    this.requests.get++;
    try {
      return await readFile(file);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw this.storeError(`read ${key}`, err);
    }
  }

  /** Counted as a GET: S3 bills its HEAD request at the GET price. */
  async has(key: string): Promise<boolean> {
    const file = this.pathOf(key);
    this.requests.get++;
    try {
      return (await stat(file)).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw this.storeError(`check ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const folderKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    const keys: string[] = [];
    try {
      await this.collect(join(this.root, ...folderKey.split('/')), folderKey, namePrefix, keys);
    } catch (err) {
      throw this.storeError(`list ${prefix}`, err);
    }
    this.requests.list += Math.max(1, Math.ceil(keys.length / KEYS_PER_REQUEST));
    return sortByBytes(keys);
  }

  async delete(keys: readonly string[]): Promise<void> {
    // Validate all first, so a bad key in the batch deletes nothing.
    const files = keys.map((key) => this.pathOf(key));
    this.requests.delete += Math.ceil(keys.length / KEYS_PER_REQUEST);
    const limit = pLimit(DELETE_CONCURRENCY);
    await limit.map(files, async (file, i) => {
      try {
        await unlink(file);
      } catch (err) {
        if (!isMissing(err)) throw this.storeError(`delete ${keys[i]}`, err);
      }
    });
    await this.removeEmptyFolders(files);
  }

  /** Removes the temp files of writes a crash cut off under `prefix` (a folder: it ends with `/`). */
  async removePartialWrites(prefix: string, options: { dryRun?: boolean } = {}): Promise<number> {
    assertValidPrefix(prefix);
    const folder = join(this.root, ...prefix.split('/').filter((s) => s !== ''));
    let entries: string[];
    try {
      entries = (await readdir(folder, { recursive: true })).map(String);
    } catch (err) {
      if (isMissing(err)) return 0;
      throw this.storeError(`list ${prefix}`, err);
    }
    const temps = entries.filter((entry) => entry.endsWith(TEMP_SUFFIX)).map((entry) => join(folder, entry));
    if (options.dryRun) return temps.length;
    await Promise.all(temps.map((file) => unlink(file).catch(() => undefined)));
    await this.removeEmptyFolders(temps);
    return temps.length;
  }

  /**
   * Removes folders the delete left empty, a level at a time from the deepest, so a parent is
   * tried only after all its emptied children are gone; stops at (and keeps) the root.
   */
  private async removeEmptyFolders(files: readonly string[]): Promise<void> {
    const byDepth = new Map<number, Set<string>>();
    const add = (folder: string) => {
      if (!folder.startsWith(this.root + sep)) return;
      const depth = folder.split(sep).length;
      byDepth.set(depth, (byDepth.get(depth) ?? new Set()).add(folder));
    };
    files.forEach((file) => add(dirname(file)));
    for (let depth = Math.max(0, ...byDepth.keys()); depth > 0; depth--) {
      for (const folder of byDepth.get(depth) ?? []) {
        // Fails when not empty (or already gone): then its parent is not emptied by us.
        if (await rmdir(folder).then(() => true, () => false)) add(dirname(folder));
      }
    }
  }

  private async collect(folder: string, folderKey: string, namePrefix: string, keys: string[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      // Missing, or a file where the prefix expects a folder (a concurrent delete may remove folders too).
      if (isMissing(err)) return;
      throw err;
    }
    for (const entry of entries) {
      if (!entry.name.startsWith(namePrefix)) continue;
      if (entry.isDirectory()) {
        await this.collect(join(folder, entry.name), `${folderKey}${entry.name}/`, '', keys);
      } else if (entry.isFile() && !entry.name.endsWith(TEMP_SUFFIX)) {
        keys.push(`${folderKey}${entry.name}`);
      }
    }
  }

  /**
   * Resolves as soon as `key` is written, without polling: the key's folder is watched
   * (inotify on Linux) and each change that names the key triggers a read. A slow safety poll
   * covers events a watcher can miss (its folder removed and re-created, or an unsupported file
   * system). Workers wait for each other's gradients through this, so wake-up latency is sync time.
   */
  async waitFor(key: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<Uint8Array> {
    const { timeoutMs, signal } = options;
    signal?.throwIfAborted();
    const early = await this.get(key);
    if (early) return early;
    const file = this.pathOf(key);
    const folder = dirname(file);
    const name = basename(file);
    await mkdir(folder, { recursive: true });
    return new Promise<Uint8Array>((resolvePromise, rejectPromise) => {
      let settled = false;
      let reading = false;
      let readAgain = false;
      const finish = (err: unknown, body?: Uint8Array) => {
        if (settled) return;
        settled = true;
        watcher?.close();
        clearTimeout(timer);
        clearInterval(safetyPoll);
        signal?.removeEventListener('abort', onAbort);
        if (body) resolvePromise(body);
        else rejectPromise(err);
      };
      const check = async () => {
        if (reading) {
          readAgain = true;
          return;
        }
        reading = true;
        try {
          do {
            readAgain = false;
            const body = await this.get(key);
            if (body) return finish(undefined, body);
          } while (readAgain && !settled);
        } catch (err) {
          finish(err);
        } finally {
          reading = false;
        }
      };
      const onAbort = () => finish(signal?.reason);
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(folder, { persistent: false }, (_event, changed) => {
          if (changed === null || changed === name) void check();
        });
        watcher.on('error', () => undefined); // the safety poll carries on
      } catch {
        watcher = undefined; // no watcher on this file system: the safety poll is the wait
      }
      const safetyPoll = setInterval(() => void check(), watcher ? SAFETY_POLL_MS : FALLBACK_POLL_MS);
      const timer = setTimeout(
        () =>
          finish(
            new SmltError(
              'SYNC_TIMEOUT',
              `Waited ${timeoutMs} ms for ${key} in ${this.url} and it never appeared: the worker that writes it failed or is straggling.`,
            ),
          ),
        timeoutMs,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      void check(); // it may have been written between the first read and the watch
    });
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    const segments = key.split('/');
    for (const segment of segments) {
      if (segment.endsWith(TEMP_SUFFIX)) {
        throw new SmltError('STORE_KEY_INVALID', `Invalid object key ${JSON.stringify(key)}: a segment ending in ${TEMP_SUFFIX} is reserved for the folder store's temp files.`);
      }
      if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
        throw new SmltError('STORE_KEY_INVALID', `Invalid object key ${JSON.stringify(key)}: the folder store holds segments of at most ${MAX_SEGMENT_BYTES} bytes (a file name).`);
      }
    }
    const file = join(this.root, ...segments);
    // assertValidKey already rules out escapes; this guards the guard.
    if (!file.startsWith(this.root + sep)) {
      throw new SmltError('STORE_KEY_INVALID', `Invalid object key ${JSON.stringify(key)}: it resolves outside ${this.url}.`);
    }
    return file;
  }

  private storeError(action: string, err: unknown): SmltError {
    const hint =
      code(err) === 'ENOTDIR' || code(err) === 'EISDIR' || code(err) === 'EEXIST'
        ? ' A folder store cannot hold both a key and keys under it (`a` and `a/b`).'
        : '';
    return new SmltError('STORE_ERROR', `Could not ${action} in ${this.url}: ${errorMessage(err)}.${hint}`, { cause: err });
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** ENOTDIR: a path through a file (`a/b` when `a` is a file); EISDIR: reading a folder as a key. */
function isMissing(err: unknown): boolean {
  const c = code(err);
  return c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR';
}

/** S3 lists in UTF-8 byte order; JS string order differs for characters above U+FFFF. */
function sortByBytes(keys: string[]): string[] {
  return keys
    .map((key) => ({ key, bytes: Buffer.from(key) }))
    .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    .map(({ key }) => key);
}
