/**
 * The adaptive planner, driven through whole jobs in the simulated cloud: it converges on the
 * right configuration, refuses infeasible constraints with the right advice, never lets spend pass
 * the budget, re-plans on batch-size changes, drift and out-of-memory, and is deterministic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '@smlt/shared/data/order';
import { createPlanner, budgetGuard, divisors, iterationsOf } from '@smlt/shared/scheduler/index';
import { observationFromRecord, summarizeWorkers } from '@smlt/shared/run/observations';
import type { PlannerOptions } from '@smlt/shared/scheduler/types';
import { DEFAULT_SIM_PARAMS, plannerOptionsFor, simulateRun, type SimWorkload, WORKLOADS } from '@smlt/shared/sim/index';

const resnet = WORKLOADS['resnet18-native'];
const growing = WORKLOADS['resnet18-growing-batch'];
const bert = WORKLOADS['bert-base-native'];
const mlp = WORKLOADS['mlp-mnist-wasm'];

/** Every fixed configuration of the workload's grid run with the same seed (the hindsight view). */
function fixedRuns(workload: SimWorkload, seed: number) {
  const runs = [];
  for (const workers of workload.grid.workers) {
    for (const memoryMb of [1024, 1769, 2240, 3008, 3136, 3538, 3776, 5307, 7076, 8845, 10_240]) {
      const run = simulateRun({ workload, seed, policy: { kind: 'fixed', workers, memoryMb, sync: 'hierarchical' } });
      if (run.completed) runs.push({ workers, memoryMb, run });
    }
  }
  return runs;
}

describe('planner on simulated workloads', () => {
  it('converges to within 10% of the cheapest fixed configuration when nothing else binds', () => {
    for (const [workload, seed] of [[resnet, 1], [mlp, 2]] as const) {
      const cheapest = Math.min(...fixedRuns(workload, seed).map((f) => f.run.costUsd));
      const run = simulateRun({ workload, seed, policy: { kind: 'planner' } });
      assert.ok(run.completed);
      assert.ok(run.costUsd <= 1.1 * cheapest, `${workload.name}: $${run.costUsd} vs cheapest fixed $${cheapest}`);
      // Its last epochs settle on one configuration.
      const last = run.epochs.slice(-3).map((e) => `${e.workers}x${e.memoryMb}`);
      assert.ok(new Set(last).size <= 2, `${last}`);
    }
  });

  it('meets a deadline at close to the hindsight oracle\'s cost', () => {
    for (const seed of [3, 4]) {
      const fixed = fixedRuns(resnet, seed);
      const deadlineS = 1.6 * Math.min(...fixed.map((f) => f.run.durationS));
      const oracle = Math.min(...fixed.filter((f) => f.run.durationS <= deadlineS).map((f) => f.run.costUsd));
      const run = simulateRun({ workload: resnet, seed, policy: { kind: 'planner' }, deadlineS });
      assert.ok(run.metDeadline, `seed ${seed}: ${run.durationS} s for a ${deadlineS} s deadline`);
      assert.ok(run.costUsd <= 1.15 * oracle, `seed ${seed}: $${run.costUsd} vs oracle $${oracle}`);
    }
  });

  it('scales out as the batch size grows, and says why', () => {
    const run = simulateRun({ workload: growing, seed: 5, policy: { kind: 'planner' }, deadlineS: 15_000, keepExplanations: true });
    assert.ok(run.metDeadline);
    for (const epoch of [4, 8, 12]) assert.ok(run.explanations[epoch].triggers.includes('batch-size-change'), `epoch ${epoch}`);
    assert.match(run.decisions[12].reason, /batch size changes to 1600/);
    assert.ok(run.epochs[15].workers > run.epochs[0].workers, 'more workers for the 8x larger batch');
  });

  it('notices drift (> 20% off a prediction it trusted), re-plans, and still meets the deadline', () => {
    // A drift large enough to move iteration times by well over 20%: the store at half its bandwidth, twice its latency.
    const params = { ...DEFAULT_SIM_PARAMS, driftProbability: 1, driftBandwidthFactor: 0.5, driftLatencyFactor: 2 };
    const fixed = fixedRuns(resnet, 11);
    const deadlineS = 1.8 * Math.min(...fixed.map((f) => f.run.durationS));
    const run = simulateRun({ workload: resnet, seed: 11, params, policy: { kind: 'planner' }, deadlineS, keepExplanations: true });
    const drifted = run.explanations.findIndex((e) => e.triggers.includes('drift'));
    assert.ok(drifted > 0, 'a drift trigger');
    assert.ok(run.explanations[drifted].observations.some((o) => o.stale), 'older observations marked stale');
    assert.ok(run.metDeadline);
  });

  it('sizes up after a worker runs out of memory', () => {
    // BERT's real footprint is 4% above the sizing estimate, so the smallest size fails once.
    const run = simulateRun({ workload: bert, seed: 1, policy: { kind: 'planner' }, keepExplanations: true });
    assert.equal(run.outOfMemoryEpochs, 1);
    const failed = run.epochs.find((e) => e.outOfMemory)!;
    const retried = run.epochs[run.epochs.indexOf(failed) + 1];
    assert.equal(retried.epoch, failed.epoch);
    assert.ok(retried.memoryMb > failed.memoryMb || retried.workers > failed.workers);
    assert.ok(run.explanations[1].triggers.includes('out-of-memory'));
    assert.ok(run.completed);
  });

  it('counts probes and never exceeds the allowance', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const run = simulateRun({ workload: resnet, seed, policy: { kind: 'planner', maxProbes: 1 }, deadlineS: 4000 });
      assert.ok(run.probes <= 1);
      assert.equal(run.probes, run.decisions.filter((d) => d.probe).length);
      assert.equal(simulateRun({ workload: resnet, seed, policy: { kind: 'planner', maxProbes: 0 } }).probes, 0);
    }
  });

  it('with objective time, runs faster within the budget than when minimising cost', () => {
    const cheap = simulateRun({ workload: resnet, seed: 6, policy: { kind: 'planner' } });
    const fast = simulateRun({ workload: resnet, seed: 6, policy: { kind: 'planner' }, objective: 'time', budgetUsd: 2 * cheap.costUsd });
    assert.ok(fast.completed && !fast.overBudget);
    assert.ok(fast.durationS < 0.8 * cheap.durationS, `${fast.durationS} vs ${cheap.durationS}`);
  });
});

describe('deadlines and budgets', () => {
  const options = (constraints: PlannerOptions['constraints']): PlannerOptions => ({
    ...plannerOptionsFor({ workload: resnet, seed: 1, policy: { kind: 'planner' } }),
    constraints,
  });

  it('predicts time and cost with an interval before launch', () => {
    const estimate = createPlanner(options({ objective: 'cost' })).estimate();
    assert.ok(estimate.feasible);
    for (const i of [estimate.timeS, estimate.costUsd]) assert.ok(i.low < i.expected && i.expected < i.high);
    assert.equal(estimate.plan[0].fromEpoch, 0);
    assert.equal(estimate.plan.at(-1)!.toEpoch, resnet.epochs - 1);
  });

  it('refuses a deadline no configuration can meet, and names the earliest one possible', () => {
    const estimate = createPlanner(options({ objective: 'cost', deadlineS: 300 })).estimate();
    assert.equal(estimate.feasible, false);
    assert.equal(estimate.binding, 'deadline');
    const earliest = estimate.advice!.earliestDeadlineS!;
    assert.ok(earliest > 300);
    assert.match(estimate.advice!.message, /no configuration meets/i);
    // The advice is right: that deadline (with a hair of room) is feasible, a bit less is not.
    assert.ok(createPlanner(options({ objective: 'cost', deadlineS: earliest * 1.03 })).estimate().feasible);
    assert.equal(createPlanner(options({ objective: 'cost', deadlineS: earliest * 0.9 })).estimate().feasible, false);
  });

  it('says what budget a deadline needs, and what deadline a budget allows', () => {
    const free = createPlanner(options({ objective: 'cost', deadlineS: 2600 })).estimate();
    assert.ok(free.feasible);
    const tooLittle = free.costUsd.expected * 0.5;
    const refused = createPlanner(options({ objective: 'cost', deadlineS: 2600, budgetUsd: tooLittle })).estimate();
    assert.equal(refused.feasible, false);
    const { budgetNeededUsd, earliestDeadlineS } = refused.advice!;
    assert.ok(budgetNeededUsd! > tooLittle);
    assert.match(refused.advice!.message, /needs a budget of \$/);
    assert.ok(createPlanner(options({ objective: 'cost', deadlineS: 2600, budgetUsd: budgetNeededUsd! * 1.03 })).estimate().feasible);
    if (earliestDeadlineS !== undefined) {
      assert.ok(earliestDeadlineS > 2600);
      assert.ok(createPlanner(options({ objective: 'cost', deadlineS: earliestDeadlineS * 1.05, budgetUsd: tooLittle })).estimate().feasible);
    }
  });

  it('never lets spend pass the budget: the guard stops the run in time', () => {
    let stops = 0;
    for (const workload of [resnet, bert, growing]) {
      for (let seed = 1; seed <= 6; seed++) {
        const cost = simulateRun({ workload, seed, policy: { kind: 'planner' } }).costUsd;
        for (const share of [0.25, 0.6, 0.95]) {
          const run = simulateRun({ workload, seed, policy: { kind: 'planner' }, budgetUsd: share * cost });
          assert.ok(!run.overBudget, `${workload.name} seed ${seed}: $${run.costUsd} over $${share * cost}`);
          if (run.stoppedByGuard) {
            stops++;
            assert.match(run.decisions.at(-1)!.reason, /^Stopping before the budget is exceeded/);
          }
        }
      }
    }
    assert.ok(stops >= 20, `${stops} guard stops`);
  });

  it('has a standalone guard for callers with their own estimate', () => {
    assert.equal(budgetGuard({ spentUsd: 8, budgetUsd: 10, nextCostUsd: 1.5 }).proceed, true);
    const stop = budgetGuard({ spentUsd: 8, budgetUsd: 10, nextCostUsd: { expected: 1.5, low: 1.2, high: 2.1 } });
    assert.equal(stop.proceed, false);
    assert.ok(stop.headroomUsd < 0);
    assert.match(stop.reason, /Stop before the budget is exceeded/);
  });
});

describe('explanations and purity', () => {
  it('explains each decision: observations, predictions with intervals for chosen and runner-up, binding constraint, one-sentence reason', () => {
    const run = simulateRun({ workload: resnet, seed: 2, policy: { kind: 'planner' }, deadlineS: 3500, keepExplanations: true });
    for (const [epoch, e] of run.explanations.entries()) {
      assert.equal(e.observations.length, epoch);
      for (const p of [e.chosen, e.runnerUp!]) {
        for (const i of [p.iterationS, p.epochS, p.epochCostUsd, p.remainingS, p.remainingCostUsd]) assert.ok(i.low <= i.expected && i.expected <= i.high);
      }
      assert.notEqual(`${e.chosen.workers}x${e.chosen.memoryMb}`, `${e.runnerUp!.workers}x${e.runnerUp!.memoryMb}`);
      assert.ok(['deadline', 'budget', 'none'].includes(e.binding));
      assert.match(e.reason, /^[A-Z][^\n]*\.$/);
      assert.equal(e.gp[0].points, e.observations.length);
    }
    assert.deepEqual(run.explanations[0].triggers, ['initial']);
    // After a few epochs the chosen configuration's prediction is tight.
    const late = run.explanations.at(-1)!.chosen.iterationS;
    assert.ok(late.high / late.low < 1.5);
  });

  it('gives the same decisions for the same seed, and never reads the real clock or Math.random', () => {
    const realRandom = Math.random;
    const realNow = Date.now;
    Math.random = () => {
      throw new Error('Math.random called');
    };
    Date.now = () => {
      throw new Error('Date.now called');
    };
    try {
      const a = simulateRun({ workload: growing, seed: 9, policy: { kind: 'planner' }, deadlineS: 14_000, keepExplanations: true });
      const b = simulateRun({ workload: growing, seed: 9, policy: { kind: 'planner' }, deadlineS: 14_000, keepExplanations: true });
      assert.deepEqual(a.decisions, b.decisions);
      assert.deepEqual(a.explanations, b.explanations);
    } finally {
      Math.random = realRandom;
      Date.now = realNow;
    }
  });

  it('uses the injected clock for explanations', () => {
    let now = 1_700_000_000_000;
    const planner = createPlanner({ ...plannerOptionsFor({ workload: mlp, seed: 1, policy: { kind: 'planner' } }), now: () => now, random: mulberry32(1) });
    planner.next();
    assert.equal(planner.explain()!.decidedAtMs, 1_700_000_000_000);
    now += 5;
    planner.next();
    assert.equal(planner.explain()!.decidedAtMs, 1_700_000_000_005);
  });

  it('turns orchestrator records and worker events into observations', () => {
    const events = [
      { rank: 0, computeMs: 100, syncMs: 50, iterationsRun: 6 },
      { rank: 0, computeMs: 20, syncMs: 10, iterationsRun: 4 },
      { rank: 1, computeMs: 80, syncMs: 70, iterationsRun: 10 },
    ];
    assert.deepEqual(summarizeWorkers(events), { computeMs: 100, syncMs: 65 });
    const observation = observationFromRecord(
      { epoch: 2, workers: 2, memoryMb: 1769, sync: 'hierarchical', iterations: 10, durationS: 12, costUsd: 0.01 },
      64,
      events,
    );
    assert.deepEqual(observation, { epoch: 2, workers: 2, memoryMb: 1769, sync: 'hierarchical', batchSize: 64, iterations: 10, durationS: 12, costUsd: 0.01, computeMs: 100, syncMs: 65 });
    assert.deepEqual(divisors(12), [1, 2, 3, 4, 6, 12]);
    assert.equal(iterationsOf(50_000, 8, 800), 62);
  });

  it('stops when every epoch is done', () => {
    const run = simulateRun({ workload: mlp, seed: 1, policy: { kind: 'planner' } });
    assert.ok(run.completed);
    const planner = createPlanner(plannerOptionsFor({ workload: mlp, seed: 1, policy: { kind: 'planner' } }));
    for (const e of run.epochs) planner.observe({ ...e });
    const last = planner.next();
    assert.equal(last.action, 'stop');
    assert.match(last.reason, /All epochs are done/);
  });
});
