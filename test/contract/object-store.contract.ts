/**
 * The one suite every ObjectStore adapter must pass (folder, S3 through an emulator, ...). It
 * pins the S3 semantics SMLT relies on: atomic whole-object writes, byte-ordered prefix
 * listing, idempotent deletes, portable key rules, request counts, and waiting for a key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ObjectStore, RequestCounts } from '@smlt/shared/backends/ports';
import { waitForObject } from '@smlt/shared/backends/store-utils';
import { isSmltError } from '@smlt/shared/errors';

export type MakeStore = () => Promise<{ store: ObjectStore; dispose(): Promise<void> }>;

/** Keys no adapter may accept: each could escape a folder root or is not portable to S3. */
export const INVALID_KEYS: readonly string[] = [
  '',
  '../escape',
  'a/../../escape',
  'a/..',
  '..',
  './a',
  'a/./b',
  '/etc/passwd',
  'a\\..\\escape',
  'a\0b',
  'a//b',
  'a/',
  'x'.repeat(1025),
  'é'.repeat(513), // 1,026 UTF-8 bytes in 513 characters
  'lone\ud800surrogate',
];

export function objectStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = (run: (store: ObjectStore) => Promise<void>) => async () => {
    const { store, dispose } = await makeStore();
    try {
      await run(store);
    } finally {
      await dispose();
    }
  };

  describe(`ObjectStore contract: ${name}`, () => {
    it('round-trips binary and string bodies, including an empty one', withStore(async (store) => {
      const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put('bodies/binary', binary);
      await store.put('bodies/text', 'héllo ✓ 😀');
      await store.put('bodies/empty', new Uint8Array(0));
      assert.deepEqual(bytes(await store.get('bodies/binary')), bytes(binary));
      assert.equal(Buffer.from(must(await store.get('bodies/text'))).toString('utf8'), 'héllo ✓ 😀');
      assert.equal(must(await store.get('bodies/empty')).byteLength, 0);
    }));

    it('keeps a copy: changing the buffer after put does not change the object', withStore(async (store) => {
      const body = new Uint8Array([1, 2, 3]);
      await store.put('copy', body);
      body[0] = 9;
      assert.deepEqual(bytes(await store.get('copy')), [1, 2, 3]);
    }));

    it('overwrites a key with the new body', withStore(async (store) => {
      await store.put('k', 'first, longer body');
      await store.put('k', 'second');
      assert.equal(Buffer.from(must(await store.get('k'))).toString(), 'second');
    }));

    it('answers a missing key with undefined and has() with false', withStore(async (store) => {
      assert.equal(await store.get('missing/key'), undefined);
      assert.equal(await store.has('missing/key'), false);
      await store.put('present/key', 'x');
      assert.equal(await store.has('present/key'), true);
      // A prefix of an existing key is not itself a key.
      assert.equal(await store.get('present'), undefined);
      assert.equal(await store.has('present'), false);
    }));

    it('lists every key under a prefix, in byte order, with S3 prefix semantics', withStore(async (store) => {
      const keys = ['p/b', 'p/a/2', 'p/a/10', 'p/ab/x', 'p/a-b', 'p/A', 'p/é', 'p/\uff5e', 'p/😀', 'q/other'];
      await Promise.all(keys.map((key) => store.put(key, key)));
      // Byte order: '-' < '/' < 'b'; U+FF5E (EF BD 9E) sorts before 😀 (F0 9F 98 80) though JS's
      // UTF-16 order puts 😀 (D83D ...) first.
      const pKeys = ['p/A', 'p/a-b', 'p/a/10', 'p/a/2', 'p/ab/x', 'p/b', 'p/é', 'p/\uff5e', 'p/😀'];
      assert.deepEqual(await store.list('p/'), pKeys);
      assert.deepEqual(await store.list('p'), pKeys);
      assert.deepEqual(await store.list(''), [...pKeys, 'q/other']);
      assert.deepEqual(await store.list('p/a'), ['p/a-b', 'p/a/10', 'p/a/2', 'p/ab/x'], 'a prefix may end mid-segment');
      assert.deepEqual(await store.list('p/a/'), ['p/a/10', 'p/a/2']);
      assert.deepEqual(await store.list('p/ab/x'), ['p/ab/x'], 'a whole key is a prefix of itself');
      assert.deepEqual(await store.list('nothing/'), []);
      assert.deepEqual(await store.list('p/b/'), [], 'a key is not a folder');
    }));

    it('lists only whole objects while writes are in flight', withStore(async (store) => {
      const keys = Array.from({ length: 40 }, (_, i) => `inflight/k${String(i).padStart(2, '0')}`);
      const body = randomBytes(256 * 1024);
      const writing = Promise.all(keys.map((key) => store.put(key, body)));
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) (await store.list('inflight/')).forEach((key) => seen.add(key));
      await writing;
      for (const key of seen) assert.ok(keys.includes(key), `listed ${key}, which nobody wrote`);
      assert.deepEqual(await store.list('inflight/'), keys);
    }));

    it('deletes idempotently: missing keys are not an error, and keys can be written again', withStore(async (store) => {
      await store.put('d/a/1', '1');
      await store.put('d/a/2', '2');
      await store.put('d/b', 'b');
      await store.delete(['d/a/1', 'd/missing', 'd/a/nope/deeper']);
      assert.deepEqual(await store.list('d/'), ['d/a/2', 'd/b']);
      await store.delete(['d/a/2', 'd/a/2']);
      await store.delete(['d/a/2']);
      await store.delete([]);
      assert.deepEqual(await store.list('d/'), ['d/b']);
      assert.equal(await store.get('d/a/2'), undefined);
      await store.put('d/a/2', 'again');
      assert.deepEqual(await store.list('d/'), ['d/a/2', 'd/b']);
    }));

    it('never returns a torn or vanished object when writers race on one key', withStore(async (store) => {
      const a = Buffer.alloc(1 << 20, 0xaa);
      const b = randomBytes(1 << 20);
      let firstPutDone = false;
      let writing = true;
      const writers = (async () => {
        await store.put('race', a);
        firstPutDone = true;
        for (let round = 0; round < 12; round++) {
          await Promise.all([store.put('race', a), store.put('race', b), store.put('race', a), store.put('race', b)]);
        }
        writing = false;
      })();
      // Readers keep reading while the writers overwrite, so reads overlap writes.
      const reader = async () => {
        let reads = 0;
        while (writing || reads < 5) {
          const seenBefore = firstPutDone;
          const body = await store.get('race');
          reads++;
          if (body === undefined) {
            assert.ok(!seenBefore, 'the key vanished while being overwritten');
            continue;
          }
          assert.ok(Buffer.from(body).equals(a) || Buffer.from(body).equals(b), `torn read (${body.byteLength} bytes)`);
        }
        return reads;
      };
      const [, ...reads] = await Promise.all([writers, reader(), reader(), reader()]);
      assert.ok(reads.every((count) => count >= 5));
      assert.deepEqual(await store.list('race'), ['race']);
    }));

    it('rejects keys that could escape the store or are not portable, naming the key', withStore(async (store) => {
      for (const key of INVALID_KEYS) {
        const named = (err: unknown) => isSmltError(err, 'STORE_KEY_INVALID') && err.message.includes(JSON.stringify(key).slice(0, 40));
        await assert.rejects(store.put(key, 'x'), named, `put ${JSON.stringify(key)}`);
        await assert.rejects(store.get(key), named, `get ${JSON.stringify(key)}`);
        await assert.rejects(store.has(key), named, `has ${JSON.stringify(key)}`);
        await assert.rejects(store.delete(['fine', key]), named, `delete ${JSON.stringify(key)}`);
      }
      for (const prefix of ['../', '/abs', 'a\\b', 'a/../', 'a//', '..']) {
        await assert.rejects(store.list(prefix), (err) => isSmltError(err, 'STORE_KEY_INVALID'), `list ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual(await store.list(''), [], 'nothing was written by the rejected calls');
    }));

    it('accepts unusual but safe keys', withStore(async (store) => {
      const keys = ['a..b/c', '..x/y', 'x/.hidden', 'with space/é ✓', 'x'.repeat(200) + '/' + 'y'.repeat(200)];
      for (const key of keys) await store.put(key, key);
      for (const key of keys) assert.equal(Buffer.from(must(await store.get(key))).toString(), key);
    }));

    it('counts its requests', withStore(async (store) => {
      const before: RequestCounts = { ...store.requests };
      await store.put('count/a', 'a');
      await store.get('count/a');
      await store.get('count/missing');
      await store.has('count/a');
      await store.list('count/');
      await store.delete(['count/a']);
      assert.deepEqual(
        {
          put: store.requests.put - before.put,
          get: store.requests.get - before.get,
          list: store.requests.list - before.list,
          delete: store.requests.delete - before.delete,
        },
        // has() is a HEAD request, which S3 bills as a GET.
        { put: 1, get: 3, list: 1, delete: 1 },
      );
    }));

    it('waitForObject resolves when the key appears later', withStore(async (store) => {
      setTimeout(() => void store.put('later/key', 'arrived'), 40);
      const body = await waitForObject(store, 'later/key', { timeoutMs: 5_000 });
      assert.equal(Buffer.from(body).toString(), 'arrived');
      await store.put('later/now', 'already');
      assert.equal(Buffer.from(await waitForObject(store, 'later/now', { timeoutMs: 5_000 })).toString(), 'already');
    }));

    it('waitForObject times out with SYNC_TIMEOUT naming the key', withStore(async (store) => {
      const started = performance.now();
      await assert.rejects(
        waitForObject(store, 'never/key', { timeoutMs: 60, pollMs: { initial: 5, max: 10 } }),
        (err) => isSmltError(err, 'SYNC_TIMEOUT') && err.message.includes('never/key'),
      );
      const elapsedMs = performance.now() - started;
      assert.ok(elapsedMs >= 55 && elapsedMs < 2_000, `timed out after ${elapsedMs} ms`);
    }));

    it('waitForObject rejects promptly with an abort error when its signal aborts', withStore(async (store) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      const started = performance.now();
      await assert.rejects(waitForObject(store, 'never/key', { timeoutMs: 10_000, signal: controller.signal }), { name: 'AbortError' });
      assert.ok(performance.now() - started < 1_000, 'rejected long after the abort');
      await assert.rejects(waitForObject(store, 'never/key', { timeoutMs: 10_000, signal: AbortSignal.abort() }), { name: 'AbortError' });
    }));
  });
}

function must(body: Uint8Array | undefined): Uint8Array {
  assert.ok(body !== undefined, 'expected an object');
  return body;
}

function bytes(body: Uint8Array | undefined): number[] {
  return [...must(body)];
}
