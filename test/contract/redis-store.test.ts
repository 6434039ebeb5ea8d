/**
 * Runs the ObjectStore contract against RedisStore on a private redis-server (Debian's package),
 * plus what only the Redis channel does: waiting without polling, chunked large values, keys that
 * expire, and a location that carries no password.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type PrivateRedis, startPrivateRedis } from '@smlt/shared/backends/redis/private-server';
import { RedisStore } from '@smlt/shared/backends/redis/redis-store';
import { openStore } from '@smlt/shared/backends/open-store';
import { waitForObject } from '@smlt/shared/backends/store-utils';
import { objectStoreContract } from './object-store.contract.js';
import { hostMissing } from '../helpers/hosts.js';

const skip = hostMissing('redis-server', 'apt-get install -y redis-server (bash .ci/setup.d/redis.sh)');

let server: PrivateRedis;
let admin: Redis;
before(async () => {
  if (skip) return;
  server = await startPrivateRedis();
  admin = new Redis({ port: server.port, host: '127.0.0.1', password: server.password });
});
after(async () => {
  admin?.disconnect();
  await server?.stop();
});

function withPassword(url: string): string {
  const withAuth = new URL(url);
  withAuth.password = server.password;
  return withAuth.toString();
}

function storeAt(prefix = `contract/${randomUUID()}`, extra: { chunkBytes?: number; ttlS?: number } = {}): RedisStore {
  return new RedisStore({ url: withPassword(server.url), prefix, ...extra });
}

describe('RedisStore', { skip }, () => {
  objectStoreContract('RedisStore (private redis-server)', async () => {
    const store = storeAt();
    return {
      store,
      async dispose() {
        await store.delete(await store.list(''));
        await store.close();
      },
    };
  });

  describe('the Redis channel', () => {
    it('wakes a waiting reader by the write itself, without polling', async () => {
      const store = storeAt();
      try {
        const before = store.requests.get;
        const waiting = waitForObject(store, 'sync/shard', { timeoutMs: 10_000 });
        await new Promise((r) => setTimeout(r, 300));
        await store.put('sync/shard', 'averaged');
        assert.equal(Buffer.from(await waiting).toString(), 'averaged');
        assert.ok(store.requests.get - before <= 2, `${store.requests.get - before} reads: one before the write, one after the wake-up`);
      } finally {
        await store.close();
      }
    });

    it('stores large values in chunks, reads them whole, and deletes every chunk', async () => {
      const store = storeAt(undefined, { chunkBytes: 64 * 1024 });
      try {
        const body = randomBytes(1_000_000);
        await store.put('big/gradient', body);
        const raw = await admin.keys('*big/gradient*');
        assert.equal(raw.length, 1 + Math.ceil(body.length / (64 * 1024)), 'a head and 16 chunks');
        assert.deepEqual(await store.list('big/'), ['big/gradient'], 'chunks are not listed');
        assert.ok(Buffer.from((await store.get('big/gradient'))!).equals(body), 'read back whole');
        await store.delete(['big/gradient']);
        assert.deepEqual(await admin.keys('*big/gradient*'), [], 'no chunk left behind');
      } finally {
        await store.close();
      }
    });

    it('gives every key an expiry, so a crashed run leaves nothing behind for long', async () => {
      const prefix = `ttl/${randomUUID()}`;
      const store = storeAt(prefix, { ttlS: 600 });
      try {
        await store.put('k', 'v');
        const ttlMs = await admin.pttl(`${prefix}/k`);
        assert.ok(ttlMs > 0 && ttlMs <= 600_000, `expires in ${ttlMs} ms`);
        await store.delete(['k']);
      } finally {
        await store.close();
      }
    });

    it('keeps the password out of its url and location; workers get it from the environment', async () => {
      const store = storeAt('located/run');
      try {
        assert.ok(!store.url.includes(server.password) && !JSON.stringify(store.location).includes(server.password), 'no password');
        assert.deepEqual(store.location, { kind: 'redis', root: server.url, prefix: 'located/run' });
        await store.put('k', 'v');
        process.env.SMLT_REDIS_PASSWORD = server.password;
        const worker = openStore(store.location);
        assert.ok(worker instanceof RedisStore, 'openStore gives a RedisStore');
        assert.equal(Buffer.from((await worker.get('k'))!).toString(), 'v');
        await worker.delete(['k']);
        await worker.close();
      } finally {
        delete process.env.SMLT_REDIS_PASSWORD;
        await store.close();
      }
    });
  });
});
