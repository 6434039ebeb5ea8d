/**
 * Training with gradients through a Redis channel (real worker processes, a real redis-server):
 * the same weights as through the store, and a Redis restarted mid-epoch costs at most that epoch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PrivateRedis, startPrivateRedis } from '@smlt/shared/backends/redis/private-server';
import { RedisStore } from '@smlt/shared/backends/redis/redis-store';
import { captureNotebook } from '@smlt/shared/capture/capture';
import { channelCostUsd, syncBytesPerIteration } from '@smlt/shared/cost/epoch-cost';
import { REDIS_CHANNEL_PRICES } from '@smlt/shared/cost/prices';
import type { Captured } from '@smlt/shared/run/orchestrator';
import { readStatus } from '@smlt/shared/run/run-state';
import { hostMissing } from '../helpers/hosts.js';
import { localRun, withEpochs } from '../helpers/local-run.js';
import { maxDifference, weightsAfter } from '../helpers/weights.js';

const skip = hostMissing('redis-server', 'apt-get install -y redis-server (bash .ci/setup.d/redis.sh)');
const notebook = fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url));

describe('training through a Redis channel', { skip }, () => {
  let redis: PrivateRedis;
  let captured: Captured;
  const channel = () => {
    const url = new URL(redis.url);
    url.password = redis.password;
    const store = new RedisStore({ url: url.toString(), prefix: 'smlt' });
    return { store, location: store.location };
  };

  before(async () => {
    redis = await startPrivateRedis();
    // Worker processes reach the channel with the password from their environment, never from events.
    process.env.SMLT_REDIS_PASSWORD = redis.password;
    captured = await captureNotebook(notebook);
  });
  after(async () => {
    delete process.env.SMLT_REDIS_PASSWORD;
    await redis?.stop();
  });

  it('ends an epoch with the same weights as through the store, and leaves no exchange keys behind', async () => {
    const oneEpoch = withEpochs(captured, 1);
    const viaStore = await localRun();
    const viaRedis = await localRun();
    const { store: redisStore, location } = channel();
    try {
      const a = await viaStore.train(oneEpoch);
      const b = await viaRedis.train(oneEpoch, { channel: { store: redisStore, location } });
      assert.equal(b.status, 'succeeded', JSON.stringify(b.error));
      const difference = maxDifference(await weightsAfter(viaRedis.store, oneEpoch, b.runId, 1), await weightsAfter(viaStore.store, oneEpoch, a.runId, 1));
      assert.equal(difference, 0, 'the same weights, bit for bit');
      assert.deepEqual(await viaRedis.store.list(`runs/${b.runId}/sync/`), [], 'no exchange keys in the store');
      assert.deepEqual(await redisStore.list(''), [], 'and none left in Redis');
      assert.ok(redisStore.requests.put === 0, 'the orchestrator itself writes nothing to the channel');
      const { cost, epochs } = (await readStatus(viaRedis.store, b.runId))!;
      // Priced from the bytes the workers counted, which agree with the cost model's (3n-2)·g per iteration.
      const [epoch] = epochs;
      const modelledBytes = syncBytesPerIteration(epoch!.workers, 4 * oneEpoch.spec.model.paramCount) * epoch!.iterations;
      const modelled = channelCostUsd(modelledBytes, epoch!.durationS, REDIS_CHANNEL_PRICES);
      assert.ok(Math.abs((cost.channelUsd ?? 0) - modelled) < 0.02 * modelled, `channel priced at $${cost.channelUsd}, the model says $${modelled}`);
      const storeCost = (await readStatus(viaStore.store, a.runId))!.cost;
      assert.ok(cost.requests.put < storeCost.requests.put / 2, `far fewer S3-priced PUTs: ${cost.requests.put} vs ${storeCost.requests.put}`);
    } finally {
      await redisStore.close();
      await viaStore.dispose();
      await viaRedis.dispose();
    }
  });

  it('restarts only the epoch in progress when Redis restarts and loses its data', async () => {
    // Batch 32 (250 iterations an epoch): an idle machine once finished epoch 2 before the
    // restart landed in it, with batch 64.
    const threeEpochs = withEpochs(captured, 3);
    threeEpochs.spec = { ...threeEpochs.spec, training: { ...threeEpochs.spec.training, batchSize: 32 } };
    const run = await localRun();
    const { store: redisStore, location } = channel();
    let restarted: Promise<void> | undefined;
    try {
      const result = await run.train(threeEpochs, {
        channel: { store: redisStore, location },
        syncTimeoutMs: 4_000,
        maxRetries: 1,
        onEvent: (e) => {
          run.events.push(e);
          // Early in epoch 2, Redis goes down and comes back empty on the same port.
          if (!restarted && e.type === 'progress' && e.epoch === 1) {
            restarted = (async () => {
              const { port, password } = redis;
              await redis.stop();
              redis = await startPrivateRedis({ port, password });
            })();
          }
        },
      });
      await restarted;
      assert.ok(restarted, 'Redis was restarted mid-epoch');
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const starts = run.events.filter((e) => e.type === 'epoch_started').map((e) => (e as { epoch: number }).epoch);
      assert.deepEqual(starts, [0, 1, 1, 2], 'epoch 2 ran twice, no other epoch was redone');
      const plans = run.events.filter((e) => e.type === 'plan' && e.epoch === 1).map((e) => (e as { reason: string }).reason);
      assert.match(plans[1] ?? '', /Restarting epoch 2 from its checkpoint/, 'the restart says why');
      assert.ok((result.metrics?.valAccuracy ?? 0) >= 0.85, `accuracy ${result.metrics?.valAccuracy}`);
    } finally {
      await redisStore.close();
      await run.dispose();
    }
  });
});
