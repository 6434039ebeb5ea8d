/** The Redis channel in the cost model, the analytical model, and the planner's choice of channel. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { channelCostUsd, syncBytesPerIteration } from '@smlt/shared/cost/epoch-cost';
import { REDIS_CHANNEL_PRICES } from '@smlt/shared/cost/prices';
import { AnalyticalModel, DEFAULT_NETWORK, REDIS_NETWORK } from '@smlt/shared/scheduler/analytical';
import { chooseChannel } from '@smlt/shared/scheduler/channel-choice';
import { BACKEND_PROFILES } from '@smlt/shared/sizing/profiles';
import { plannerOptionsFor } from '@smlt/shared/sim/run';
import { WORKLOADS } from '@smlt/shared/sim/workloads';

describe('the Redis channel', () => {
  it('is priced per GB moved and per hour held, as ElastiCache Serverless (Valkey)', () => {
    // 1 GB = 976,563 ECPUs at $0.0023 per million; 100 MB minimum at $0.084 per GB-hour.
    assert.ok(Math.abs(channelCostUsd(1e9, 0, REDIS_CHANNEL_PRICES) - 0.002246) < 1e-5, 'per GB');
    assert.ok(Math.abs(channelCostUsd(0, 3600, REDIS_CHANNEL_PRICES) - 0.0084) < 1e-9, 'per hour');
    assert.equal(syncBytesPerIteration(100, 4), (3 * 100 - 2) * 4);
  });

  it('makes small-model sync latency-cheap, but a single node caps large models', () => {
    const facts = (paramCount: number) => ({ paramCount, optimizer: 'adam' as const, bytesPerSample: 3136, computeMsPerSample: 0.1, applyMsPerMillionParams: 6 });
    const config = { workers: 32, memoryMb: 1769, sync: 'hierarchical' as const };
    const small = (network: object) => new AnalyticalModel(facts(100_000), BACKEND_PROFILES['wasm-simd'], { ...DEFAULT_NETWORK, ...network }).syncS(config);
    assert.ok(small(REDIS_NETWORK) < small({}) / 10, `a 100 K-parameter model syncs ${small({}).toFixed(3)} s on S3, ${small(REDIS_NETWORK).toFixed(4)} s on Redis`);
    const large = (network: object) => new AnalyticalModel(facts(11_700_000), BACKEND_PROFILES.native, { ...DEFAULT_NETWORK, ...network }).syncS({ ...config, workers: 100 });
    assert.ok(large(REDIS_NETWORK) > large({}), `ResNet-18 at 100 workers: ${large({}).toFixed(1)} s on S3, ${large(REDIS_NETWORK).toFixed(1)} s through one 600 MB/s node`);
  });

  it('is chosen by the planner with the workers and memory, with the reason', () => {
    const choose = (name: string) =>
      chooseChannel(plannerOptionsFor({ workload: WORKLOADS[name]!, seed: 1, policy: { kind: 'planner', syncStrategies: ['hierarchical', 'flat'] }, objective: 'time' }));
    const mlp = choose('mlp-mnist-wasm');
    assert.equal(mlp.channel, 'redis', mlp.reason);
    assert.ok(mlp.estimates.redis!.timeS.expected < mlp.estimates.store!.timeS.expected, 'Redis is predicted faster for the MLP');
    assert.match(mlp.reason, /Redis \(\d+ × \d+ MB\).*faster than the store/);
    const resnet = choose('resnet18-native');
    assert.equal(resnet.channel, 'store', resnet.reason);
  });
});

describe('the channel in an adaptive run', () => {
  it('is chosen before the first epoch, and the first plan says which and why', async () => {
    const { captureNotebook } = await import('@smlt/shared/capture/capture');
    const { adaptivePlanEpoch } = await import('@smlt/shared/run/adaptive-plan');
    const captured = await captureNotebook(new URL('../../examples/mnist.ipynb', import.meta.url).pathname);
    const input = {
      spec: captured.spec,
      trainSamples: 8000,
      platform: { name: 'local', pricing: 'local' as const, timeLimitMs: 900_000, memoryRangeMb: [512, 10_240] as const },
      constraints: { objective: 'time' as const },
      computeMsPerSample: 0.2,
    };
    const chosen = adaptivePlanEpoch({ ...input, channels: ['store', 'redis'] });
    assert.ok(['store', 'redis'].includes(chosen.channel.name));
    const first = chosen.planEpoch(0, []);
    assert.match(first.reason, /^Gradients go through (Redis|the store) \(/, first.reason);
    assert.doesNotMatch(chosen.planEpoch(1, []).reason, /Gradients go through/, 'only the first plan repeats the choice');
    const fixed = adaptivePlanEpoch({ ...input, channels: ['redis'] });
    assert.deepEqual(fixed.channel, { name: 'redis' }, 'a channel the user fixed is planned for, not chosen');
  });
});
