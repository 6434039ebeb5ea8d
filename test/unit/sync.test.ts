/**
 * Both aggregation strategies, with n workers running concurrently in this process over one
 * folder store (each worker with its own store client, as separate processes would have).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import { mulberry32 } from '@smlt/shared/data/order';
import { isSmltError } from '@smlt/shared/errors';
import { shardBounds } from '@smlt/shared/sync/hierarchical';
import { syncStrategy } from '@smlt/shared/sync/index';
import { meanKey, partKey } from '@smlt/shared/sync/keys';
import type { SyncContext, SyncName, SyncStats } from '@smlt/shared/sync/strategy';

const STRATEGIES: readonly SyncName[] = ['hierarchical', 'flat'];
const PREFIX = 'runs/r1/sync/e0003';

let root: string;
let runs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'smlt-sync-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh store folder per scenario, so scenarios never see each other's keys. */
function freshFolder(): string {
  return join(root, `run${runs++}`);
}

function gradients(workers: number, length: number, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  return Array.from({ length: workers }, () => Float32Array.from({ length }, () => random() * 2 - 1));
}

function directMean(parts: readonly Float32Array[]): Float64Array {
  const mean = new Float64Array(parts[0].length);
  for (const part of parts) part.forEach((value, i) => (mean[i] += value / parts.length));
  return mean;
}

interface WorkerRun {
  rank: number;
  gradient: Float32Array;
  delayMs?: number;
  skipExisting?: boolean;
}

function context(folder: string, workers: number, rank: number, extra: Partial<SyncContext> = {}): SyncContext {
  return { store: new FolderStore(folder), prefix: PREFIX, workers, rank, timeoutMs: 5_000, ...extra };
}

/** Runs the given workers concurrently; each gets its own store client. */
async function allReduce(
  name: SyncName,
  folder: string,
  workers: number,
  runsOf: readonly WorkerRun[],
  iteration = 0,
  timeoutMs = 5_000,
): Promise<{ average: Float32Array; stats: SyncStats }[]> {
  const strategy = syncStrategy(name);
  return Promise.all(
    runsOf.map(async ({ rank, gradient, delayMs, skipExisting }) => {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return strategy.allReduce(context(folder, workers, rank, { timeoutMs, skipExisting }), iteration, gradient);
    }),
  );
}

const everyone = (grads: readonly Float32Array[]): WorkerRun[] => grads.map((gradient, rank) => ({ rank, gradient }));

function assertSameBits(results: readonly { average: Float32Array }[], expected: Float32Array): void {
  for (const [rank, { average }] of results.entries()) {
    assert.deepEqual(Buffer.from(average.buffer, average.byteOffset, average.byteLength), Buffer.from(expected.buffer), `rank ${rank}`);
  }
}

describe('shardBounds', () => {
  it('cuts a gradient into n contiguous shards whose sizes differ by at most one', () => {
    for (const [length, workers] of [[10, 3], [3, 7], [0, 4], [1_000_000, 32], [1003, 7]]) {
      let next = 0;
      const sizes: number[] = [];
      for (let j = 0; j < workers; j++) {
        const [start, end] = shardBounds(length, workers, j);
        assert.equal(start, next);
        sizes.push(end - start);
        next = end;
      }
      assert.equal(next, length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${length}/${workers}: ${sizes}`);
    }
  });
});

for (const name of STRATEGIES) {
  describe(`${name} sync`, () => {
    for (const workers of [1, 2, 3, 4, 7]) {
      it(`gives all ${workers} workers the same mean, for gradients shorter than n and not divisible by n`, async () => {
        for (const length of [1, 5, 1003]) {
          const grads = gradients(workers, length, workers * 100 + length);
          const results = await allReduce(name, freshFolder(), workers, everyone(grads));
          const expected = results[0].average;
          assertSameBits(results, expected);
          const mean = directMean(grads);
          assert.equal(expected.length, length);
          expected.forEach((value, i) => assert.ok(Math.abs(value - mean[i]) <= 1e-6, `value ${i}: ${value} vs ${mean[i]}`));
        }
      });
    }

    it('waits for a worker that starts late', async () => {
      const grads = gradients(4, 257, 7);
      const runsOf = everyone(grads);
      runsOf[2].delayMs = 150;
      const results = await allReduce(name, freshFolder(), 4, runsOf);
      assertSameBits(results, results[0].average);
      results[0].average.forEach((value, i) => assert.ok(Math.abs(value - directMean(grads)[i]) <= 1e-6));
    });

    it('fails with SYNC_TIMEOUT naming the key of a worker that never comes', async () => {
      const folder = freshFolder();
      const grads = gradients(3, 30, 8);
      const results = await Promise.allSettled(
        [0, 1].map((rank) => syncStrategy(name).allReduce(context(folder, 3, rank, { timeoutMs: 150 }), 5, grads[rank])),
      );
      const expectedKeys =
        name === 'hierarchical'
          ? [partKey(PREFIX, name, 5, 0, 2), partKey(PREFIX, name, 5, 1, 2)]
          : [partKey(PREFIX, name, 5, 0, 2), meanKey(PREFIX, name, 5, 0)];
      results.forEach((result, rank) => {
        assert.equal(result.status, 'rejected');
        const err: unknown = result.status === 'rejected' ? result.reason : undefined;
        assert.ok(isSmltError(err, 'SYNC_TIMEOUT'), `rank ${rank}: ${String(err)}`);
        assert.ok(err.message.includes(expectedKeys[rank]), `rank ${rank}: ${err.message}`);
      });
    });

    it('stops polling once it gives up: no wait outlives the failed sync', async () => {
      // Rank 0 of 4, alone, waits for three absent workers; once it times out nothing may keep polling.
      const ctx = context(freshFolder(), 4, 0, { timeoutMs: 100 });
      await assert.rejects(syncStrategy(name).allReduce(ctx, 0, new Float32Array(40)), (err) => isSmltError(err, 'SYNC_TIMEOUT'));
      const getsAtFailure = ctx.store.requests.get;
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(ctx.store.requests.get, getsAtFailure);
    });

    it('fails with SHAPE_MISMATCH on an object of the wrong size, and then stops polling', async () => {
      const folder = freshFolder();
      // The first key rank 0 of 3 awaits holds 7 values where 10 (hierarchical: shard 0 of 30)
      // or 30 (flat) belong; the other sender never comes.
      const bad = partKey(PREFIX, name, 0, 0, name === 'hierarchical' ? 2 : 1);
      await new FolderStore(folder).put(bad, new Uint8Array(7 * 4));
      const ctx = context(folder, 3, 0, { timeoutMs: 5_000 });
      await assert.rejects(
        syncStrategy(name).allReduce(ctx, 0, new Float32Array(30)),
        (err) => isSmltError(err, 'SHAPE_MISMATCH') && err.message.includes(bad),
      );
      // Waiting for the absent sender would poll for 5 s more if the failure did not end the sync.
      const getsAtFailure = ctx.store.requests.get;
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(ctx.store.requests.get, getsAtFailure);
    });

    it('rejects promptly when the signal aborts', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      const started = performance.now();
      await assert.rejects(
        syncStrategy(name).allReduce(context(freshFolder(), 3, 0, { signal: controller.signal }), 0, new Float32Array(9)),
        { name: 'AbortError' },
      );
      assert.ok(performance.now() - started < 1_000);
    });

    it('keeps results identical when every worker retries the iteration with skipExisting', async () => {
      const folder = freshFolder();
      const grads = gradients(4, 101, 9);
      const first = await allReduce(name, folder, 4, everyone(grads), 2);
      // Recomputed gradients differ (dropout); the published objects must win.
      const retried = await allReduce(name, folder, 4, gradients(4, 101, 10).map((gradient, rank) => ({ rank, gradient, skipExisting: true })), 2);
      assertSameBits(retried, first[0].average);
      for (const { stats } of retried) assert.equal(stats.puts, 0, 'a retry rewrote an existing object');
    });

    it('agrees on one mean when a crashed worker retries with a different gradient', async () => {
      const folder = freshFolder();
      const workers = 4;
      const crashed = 2;
      const before = gradients(workers, 64, 11);
      const retryGradient = gradients(1, 64, 12)[0];
      // The first attempt of rank 2 wrote its first object, then crashed.
      const store = new FolderStore(folder);
      const firstKey = name === 'hierarchical' ? partKey(PREFIX, name, 0, 3, crashed) : partKey(PREFIX, name, 0, 0, crashed);
      const [start, end] = name === 'hierarchical' ? shardBounds(64, workers, 3) : [0, 64];
      const written = before[crashed].slice(start, end);
      await store.put(firstKey, new Uint8Array(written.buffer));

      const runsOf = everyone(before);
      runsOf[crashed] = { rank: crashed, gradient: retryGradient, skipExisting: true };
      const results = await allReduce(name, folder, workers, runsOf);
      assertSameBits(results, results[0].average);
      // What others consumed from rank 2's first attempt is what counts; the rest is the retry's.
      const used = before.map((g) => g.slice());
      used[crashed] = retryGradient.slice();
      used[crashed].set(written, start);
      const mean = directMean(used);
      results[0].average.forEach((value, i) => assert.ok(Math.abs(value - mean[i]) <= 1e-6, `value ${i}`));
      assert.deepEqual(new Uint8Array((await store.get(firstKey))!), new Uint8Array(written.buffer));
    });

    it('lets a restarted worker read a published mean back', async () => {
      const folder = freshFolder();
      const grads = gradients(3, 50, 13);
      const [{ average }] = await allReduce(name, folder, 3, everyone(grads), 4);
      const replayed = await syncStrategy(name).readAverage(context(folder, 3, 1), 4);
      assertSameBits([{ average: replayed }], average);
    });

    it('writes deterministic keys under `prefix/<2 hex>/` that a listing of the prefix deletes', async () => {
      const folder = freshFolder();
      await allReduce(name, folder, 3, everyone(gradients(3, 30, 14)), 1);
      const store = new FolderStore(folder);
      const keys = await store.list(`${PREFIX}/`);
      assert.ok(keys.length > 0);
      for (const key of keys) assert.match(key, new RegExp(`^${PREFIX}/[0-9a-f]{2}/${name}-i0000001-s\\d{4}-(w\\d{4}|mean)$`));
      await store.delete(keys);
      assert.deepEqual(await store.list(''), []);
    });
  });
}

describe('traffic per worker', () => {
  it('hierarchical: the busiest worker moves at most 3x the gradient; flat: rank 0 moves n x', async () => {
    const length = 1003;
    const gradientBytes = length * 4;
    for (const workers of [2, 4, 7]) {
      const grads = gradients(workers, length, 15);
      const moved = (stats: SyncStats) => stats.bytesWritten + stats.bytesRead;
      const hierarchical = await allReduce('hierarchical', freshFolder(), workers, everyone(grads));
      const busiest = Math.max(...hierarchical.map(({ stats }) => moved(stats)));
      assert.ok(busiest <= 3 * gradientBytes, `n=${workers}: ${busiest / gradientBytes}x`);
      const flat = await allReduce('flat', freshFolder(), workers, everyone(grads));
      // n-1 gradients in, one mean out; rank 0's own gradient never leaves memory.
      assert.equal(moved(flat[0].stats), workers * gradientBytes, `n=${workers}`);
      for (const { stats } of flat.slice(1)) assert.equal(moved(stats), 2 * gradientBytes);
      // Same summation order, so both strategies give the same bits.
      assertSameBits(flat, hierarchical[0].average);
    }
  });
});

describe('syncStrategy', () => {
  it('rejects an unknown name and an invalid context', async () => {
    assert.throws(() => syncStrategy('ring' as SyncName), (err) => isSmltError(err, 'OPTION_INVALID'));
    const ctx = context(freshFolder(), 2, 0);
    for (const bad of [{ rank: 2 }, { workers: 0 }, { prefix: 'p/' }, { timeoutMs: 0 }]) {
      await assert.rejects(syncStrategy('hierarchical').allReduce({ ...ctx, ...bad }, 0, new Float32Array(4)), (err) => isSmltError(err, 'OPTION_INVALID'));
    }
    await assert.rejects(syncStrategy('flat').allReduce(ctx, -1, new Float32Array(4)), (err) => isSmltError(err, 'OPTION_INVALID'));
  });
});

describe('a lone worker', () => {
  for (const name of STRATEGIES) {
    it(`${name}: takes its own gradient as the mean and writes nothing; there is no average to replay`, async () => {
      const folder = freshFolder();
      const [gradient] = gradients(1, 37, 11);
      const [{ average, stats }] = await allReduce(name, folder, 1, everyone([gradient!]));
      assert.equal(average, gradient);
      assert.deepEqual(stats, { bytesWritten: 0, bytesRead: 0, puts: 0, gets: 0, waitMs: 0 });
      assert.deepEqual(await new FolderStore(folder).list(`${PREFIX}/`), []);
      await assert.rejects(syncStrategy(name).readAverage(context(folder, 1, 0), 0), (err) => isSmltError(err, 'RUN_FAILED') && /restart it from a saved state/.test(String(err)));
    });
  }
});
