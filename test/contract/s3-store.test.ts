/**
 * Runs the ObjectStore contract against S3Store through the real @aws-sdk/client-s3 and the S3
 * emulator, plus what only S3 shows: pagination past 1,000 keys, multipart uploads, retries of
 * 503 SlowDown and dropped connections, prefix isolation, and errors that say what to do.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pLimit from 'p-limit';
import { S3Store } from '@smlt/shared/backends/aws/s3-store';
import { openStore } from '@smlt/shared/backends/open-store';
import { isSmltError } from '@smlt/shared/errors';
import { type S3Emulator, startS3Emulator } from '../emulators/s3-emulator.js';
import { objectStoreContract } from './object-store.contract.js';

let emulator: S3Emulator;
before(async () => {
  emulator = await startS3Emulator();
  // The store takes credentials only from the SDK's default chain, as it would on AWS.
  Object.assign(process.env, emulator.env);
});
after(() => emulator.stop());

function storeAt(prefix = `contract/${randomUUID()}`, extra: { multipartThreshold?: number } = {}): S3Store {
  return new S3Store({ bucket: emulator.bucket, prefix, region: emulator.region, endpoint: emulator.endpoint, ...extra });
}

objectStoreContract('S3Store (S3 emulator)', async () => {
  const store = storeAt();
  return {
    store,
    async dispose() {
      await store.delete(await store.list(''));
      store.close();
    },
  };
});

describe('S3Store on the S3 API', () => {
  it('pages through listings longer than one ListObjectsV2 page (1,000 keys)', async () => {
    const store = storeAt();
    try {
      const keys = Array.from({ length: 1_056 }, (_, i) => `sync/${String(i).padStart(4, '0')}`);
      const limit = pLimit(16);
      await Promise.all(keys.map((key) => limit(() => store.put(key, key))));
      const listed = await store.list('sync/');
      assert.equal(listed.length, keys.length, 'every key is listed');
      assert.deepEqual(listed, keys, 'in byte order');
      assert.equal(store.requests.list, 2, 'two pages');
      await store.delete(listed);
      assert.deepEqual(await store.list(''), [], 'deleted in two DeleteObjects batches');
      assert.equal(store.requests.delete, 2);
    } finally {
      store.close();
    }
  });

  it('uploads large objects in parts and reads back the same bytes', async () => {
    const store = storeAt(undefined, { multipartThreshold: 6 * 1024 * 1024 });
    try {
      const body = randomBytes(20 * 1024 * 1024);
      await store.put('big/gradient', body);
      // 8 MiB parts: create + 3 parts + complete.
      assert.equal(store.requests.put, 5, 'a multipart upload of three parts');
      const back = await store.get('big/gradient');
      assert.ok(back && Buffer.from(back).equals(body), 'the object round-trips byte for byte');
      await store.delete(['big/gradient']);
    } finally {
      store.close();
    }
  });

  it('retries 503 SlowDown answers and dropped connections, then succeeds', async () => {
    const store = storeAt();
    try {
      const before = (await emulator.counts()).injected;
      await emulator.inject({ kind: 'slow-down', count: 3 });
      await store.put('retry/a', 'after a burst of SlowDown');
      await emulator.inject({ kind: 'reset', count: 2 });
      assert.equal(Buffer.from((await store.get('retry/a'))!).toString(), 'after a burst of SlowDown');
      const after = (await emulator.counts()).injected;
      assert.equal(after['slow-down'] - before['slow-down'], 3, 'three SlowDown answers were sent');
      assert.equal(after.reset - before.reset, 2, 'two connections were dropped');
      await store.delete(['retry/a']);
    } finally {
      store.close();
    }
  });

  it('keeps each store inside its prefix: keys cannot reach a neighbour', async () => {
    const mine = storeAt('tenant/a');
    const neighbour = storeAt('tenant/ab');
    try {
      await neighbour.put('secret', 'theirs');
      await mine.put('x', 'mine');
      assert.deepEqual(await mine.list(''), ['x'], 'a prefix listing does not see tenant/ab');
      await assert.rejects(mine.get('../ab/secret'), (err) => isSmltError(err, 'STORE_KEY_INVALID'), 'no .. segments');
      await mine.delete(['x']);
      await neighbour.delete(['secret']);
    } finally {
      mine.close();
      neighbour.close();
    }
  });

  it('is what a worker opens from an s3 StoreLocation', async () => {
    const writer = storeAt('located/run');
    try {
      const reader = openStore(writer.location);
      assert.ok(reader instanceof S3Store, 'openStore gives an S3Store');
      await writer.put('k', 'v');
      assert.equal(Buffer.from((await reader.get('k'))!).toString(), 'v');
      assert.equal(reader.url, `s3://${emulator.bucket}/located/run`);
      await writer.delete(['k']);
      reader.close();
    } finally {
      writer.close();
    }
  });

  it('names the bucket and the fix when the bucket does not exist', async () => {
    const store = new S3Store({ bucket: 'no-such-bucket', prefix: 'p', region: emulator.region, endpoint: emulator.endpoint });
    try {
      await assert.rejects(
        store.put('k', 'v'),
        (err) => isSmltError(err, 'STORE_ERROR') && err.message.includes('s3://no-such-bucket/p/k') && err.message.includes('smlt deploy'),
        'STORE_ERROR naming the object and smlt deploy',
      );
    } finally {
      store.close();
    }
  });
});
