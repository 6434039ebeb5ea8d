/** The simulated Lambda + S3 cloud: seeded, and showing the effects the planner must live with. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_PARAMS, noiseUniform, poissonQuantile, SimulatedCloud, simulateRun, WORKLOADS } from '@smlt/shared/sim/index';

const resnet = WORKLOADS['resnet18-native'];
const calm = { ...DEFAULT_SIM_PARAMS, weatherSigma: 0, driftProbability: 0, failuresPerWorkerHour: 0, computeWeatherSigma: 0 };

describe('simulated cloud', () => {
  it('is deterministic per seed, and the seed matters', () => {
    const run = (seed: number) => simulateRun({ workload: resnet, seed, policy: { kind: 'fixed', workers: 8, memoryMb: 5307, sync: 'hierarchical' } });
    assert.deepEqual(run(7), run(7));
    assert.notEqual(run(7).durationS, run(8).durationS);
    // Common random numbers: the noise of (seed, epoch) is a hash, the same for every configuration.
    assert.equal(noiseUniform(7, 3, 'weather'), noiseUniform(7, 3, 'weather'));
    assert.notEqual(noiseUniform(7, 3, 'weather'), noiseUniform(7, 4, 'weather'));
    assert.equal(poissonQuantile(0, 0.9), 0);
    assert.equal(poissonQuantile(2, 0.5), 2);
  });

  it('puts ResNet-18 iterations at 150-200 workers in the paper\'s range (18.9-19.4 s on SMLT) and makes them sync-bound', () => {
    for (const workers of [160, 200]) {
      const e = new SimulatedCloud(resnet, 1, calm).runEpoch(0, { workers, memoryMb: 3008, sync: 'hierarchical' });
      const iterationS = (e.computeMs + e.syncMs) / 1000 / e.iterations;
      assert.ok(iterationS > 10 && iterationS < 40, `${workers} workers: ${iterationS} s per iteration`);
      assert.ok(e.syncMs > 20 * e.computeMs, 'sync-bound');
    }
  });

  it('makes more workers slower past the store\'s request limits (n² requests per iteration)', () => {
    const iteration = (workers: number) => {
      const e = new SimulatedCloud(resnet, 1, calm).runEpoch(0, { workers, memoryMb: 3008, sync: 'hierarchical' });
      return e.durationS / e.iterations;
    };
    assert.ok(iteration(200) > 2 * iteration(100));
    assert.ok(iteration(100) > iteration(25));
  });

  it('cold-starts new containers when the configuration changes, and reuses warm ones', () => {
    const cloud = new SimulatedCloud(resnet, 1, calm);
    assert.equal(cloud.runEpoch(0, { workers: 8, memoryMb: 5307, sync: 'hierarchical' }).coldStarts, 8);
    assert.equal(cloud.runEpoch(1, { workers: 8, memoryMb: 5307, sync: 'hierarchical' }).coldStarts, 0);
    assert.equal(cloud.runEpoch(2, { workers: 10, memoryMb: 5307, sync: 'hierarchical' }).coldStarts, 2);
    assert.equal(cloud.runEpoch(3, { workers: 10, memoryMb: 7076, sync: 'hierarchical' }).coldStarts, 10);
  });

  it('re-invokes workers whose epoch outlasts the 900 s limit', () => {
    const bert = WORKLOADS['bert-base-native'];
    const e = new SimulatedCloud(bert, 1, calm).runEpoch(0, { workers: 10, memoryMb: 10_240, sync: 'hierarchical' });
    assert.ok(e.durationS > 900);
    assert.equal(e.continuations, Math.ceil(e.durationS / 870) - 1);
  });

  it('fails an epoch for memory below what the worker really needs', () => {
    const cloud = new SimulatedCloud(resnet, 1, calm);
    const need = cloud.realMinimumMemoryMb({ workers: 4, memoryMb: 0, sync: 'hierarchical' }, 800);
    assert.ok(need > 2000 && need < 4000, `ResNet-18, 200 samples per worker: ${need} MB`);
    const e = cloud.runEpoch(0, { workers: 4, memoryMb: Math.floor(need) - 64, sync: 'hierarchical' });
    assert.equal(e.outOfMemory, true);
    assert.equal(e.iterations, 0);
    assert.ok(e.costUsd > 0);
  });

  it('makes a flat all-reduce much slower than the hierarchical one for a large model', () => {
    const cloud = new SimulatedCloud(resnet, 1, calm);
    const hierarchical = cloud.runEpoch(0, { workers: 20, memoryMb: 5307, sync: 'hierarchical' });
    const flat = new SimulatedCloud(resnet, 1, calm).runEpoch(0, { workers: 20, memoryMb: 5307, sync: 'flat' });
    assert.ok(flat.syncMs > 3 * hierarchical.syncMs);
    // …with far fewer requests.
    assert.ok(flat.requests.put < hierarchical.requests.put / 5);
  });
});
