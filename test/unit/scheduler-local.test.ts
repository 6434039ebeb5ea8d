/**
 * Planning local runs, where a tiny model's time is nearly all fixed cost: the workers' warm-up
 * does not calibrate the pace to come, starting workers is told apart from the per-epoch
 * overhead, and memory (which buys no CPU on one machine) is not searched.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRICE_TABLES } from '@smlt/shared/cost/prices';
import { mulberry32 } from '@smlt/shared/data/order';
import { summarizeWorkers } from '@smlt/shared/run/observations';
import { AnalyticalModel, FOLDER_STORE_NETWORK, DEFAULT_NETWORK } from '@smlt/shared/scheduler/analytical';
import { createPlanner } from '@smlt/shared/scheduler/index';
import type { EpochObservation, PlannerOptions } from '@smlt/shared/scheduler/types';
import { BACKEND_PROFILES } from '@smlt/shared/sizing/profiles';

/** The iris example as `smlt train` plans it here: 112 samples, batch 16, 60 epochs, one step ≈ 1.3 ms. */
const IRIS: PlannerOptions = {
  model: { paramCount: 99, bytesPerSample: 20, optimizer: 'adam', computeMsPerSample: 0.01, stepMs: 1.2, applyMsPerMillionParams: 0 },
  workload: { samplesPerEpoch: 112, heldOutSamples: 38, epochs: 60, batchSize: 16 },
  platform: {
    backend: 'wasm-simd',
    network: FOLDER_STORE_NETWORK,
    sharedCores: 2,
    maxWorkers: 16,
    prices: PRICE_TABLES.local,
    timeLimitMs: 900_000,
  },
  constraints: { objective: 'time' },
  random: mulberry32(7),
  now: () => 1_700_000_000_000,
};

/** Epoch 0 of one worker: 7 iterations, a second of start-up, every step slower than steady. */
function firstEpoch(extra: Partial<EpochObservation>): EpochObservation {
  return { epoch: 0, workers: 1, memoryMb: 512, iterations: 7, durationS: 1.0, costUsd: 1e-5, computeMs: 50, syncMs: 30, ...extra };
}

describe('local planning', () => {
  it('does not take a fresh worker\'s warm-up for the pace of the epochs to come', () => {
    const prior = createPlanner(IRIS);
    const total = prior.estimate().remainingS.expected;
    const decision = prior.next();
    assert.ok(decision.action === 'run');
    // By the prior: the first epoch pays the start, the other 59 run on the same warm worker.
    const first = decision.predicted.epochS.expected;
    const warmEpochS = (total - first) / 59;
    assert.ok(first > 3 * warmEpochS, `first epoch ${first.toFixed(3)} s, then ${warmEpochS.toFixed(3)} s each`);

    const rest = (extra: Partial<EpochObservation>) => {
      const planner = createPlanner(IRIS);
      planner.next();
      planner.observe(firstEpoch({ memoryMb: decision.memoryMb, ...extra }));
      return planner.estimate().remainingS.expected;
    };
    // The workers said every step was warm-up: a slow start says the next start is slow, not every epoch.
    const warmOnly = rest({ steadyShare: 0 });
    assert.ok(Math.abs(warmOnly / (59 * warmEpochS) - 1) < 0.25, `${warmOnly.toFixed(2)} s left vs the prior's ${(59 * warmEpochS).toFixed(2)} s`);
    // The same epoch taken at its word (as before the workers told warm-up apart) over-predicts.
    const literal = rest({});
    assert.ok(warmOnly < 0.7 * literal, `warm-up set aside: ${warmOnly.toFixed(2)} s left; taken at its word: ${literal.toFixed(2)} s`);
  });

  it('searches worker counts, not memory, on one machine; an out-of-memory failure moves to the next size', () => {
    const planner = createPlanner(IRIS);
    const sizes = new Set(planner.estimate().plan.map((p) => p.memoryMb));
    assert.equal(sizes.size, 1, `one memory size: ${[...sizes]}`);
    const decision = planner.next();
    assert.ok(decision.action === 'run');
    planner.observe({ epoch: 0, workers: decision.workers, memoryMb: decision.memoryMb, iterations: 0, durationS: 0, costUsd: 0, outOfMemory: true });
    const next = planner.next();
    assert.ok(next.action === 'run' && next.memoryMb > decision.memoryMb, JSON.stringify(next));
  });

  it('prices the orchestrator\'s epoch end: markers read, exchange cleared, held-out split evaluated', () => {
    const facts = { ...IRIS.model, optimizer: 'adam' as const, stepMs: 1.2, applyMsPerMillionParams: 0 };
    const local = new AnalyticalModel({ ...facts, heldOutSamples: 0 }, BACKEND_PROFILES['wasm-simd'], { ...DEFAULT_NETWORK, ...FOLDER_STORE_NETWORK }, 2);
    const config = { workers: 2, memoryMb: 512, sync: 'hierarchical' as const };
    // 125 iterations of 2 workers: 250 markers and 1,000 exchange keys (n² shards and means + markers per iteration).
    const end = local.epochEndS(config, 125);
    assert.ok(end > 0.1 && end < 0.2, `${end} s`);
    assert.ok(local.epochEndS(config, 250) > 1.9 * end, 'grows with the iterations');
    const evaluating = new AnalyticalModel({ ...facts, heldOutSamples: 30_000 }, BACKEND_PROFILES['wasm-simd'], { ...DEFAULT_NETWORK, ...FOLDER_STORE_NETWORK }, 2);
    // A forward pass of 30,000 samples at a third of 0.01 ms each.
    assert.ok(Math.abs(evaluating.epochEndS(config, 125) - end - 0.1) < 1e-9);
  });

  it('reports the share of iterations measured past the warm-up, the least of any rank', () => {
    const events = [
      { rank: 0, computeMs: 100, syncMs: 50, iterationsRun: 60, steadySteps: 10 },
      { rank: 0, computeMs: 20, syncMs: 10, iterationsRun: 40, steadySteps: 40 },
      { rank: 1, computeMs: 80, syncMs: 70, iterationsRun: 100, steadySteps: 80 },
    ];
    assert.deepEqual(summarizeWorkers(events), { computeMs: 100, syncMs: 65, steadyShare: 0.5 });
    // Workers that do not say (older bundles) leave it out: their times count in full.
    assert.deepEqual(summarizeWorkers(events.map(({ steadySteps: _, ...e }) => e)), { computeMs: 100, syncMs: 65 });
  });
});
