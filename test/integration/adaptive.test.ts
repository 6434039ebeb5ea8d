/**
 * The adaptive scheduler wired into real runs: LocalRunService with a deadline (or a budget)
 * probes the gradient step, and the planner chooses every epoch's configuration with a reason.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunEvent, RunEventOf } from '@smlt/shared/run/events';
import { LocalRunService } from '@smlt/shared/service/local-run-service';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

describe('adaptive runs on local workers', () => {
  let work: string;
  let service: LocalRunService;
  const previousHome = process.env.SMLT_HOME;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'smlt-adaptive-'));
    cpSync(examples, join(work, 'examples'), { recursive: true, filter: (src) => !src.includes('.smlt') });
    process.env.SMLT_HOME = join(work, 'home');
    service = new LocalRunService();
  });
  after(async () => {
    await service.close();
    rmSync(work, { recursive: true, force: true });
    if (previousHome === undefined) delete process.env.SMLT_HOME;
    else process.env.SMLT_HOME = previousHome;
  });

  async function eventsOf(runId: string): Promise<RunEvent[]> {
    const events: RunEvent[] = [];
    for await (const event of service.events(runId)) events.push(event);
    return events;
  }

  it('trains 3 epochs of examples/mnist.ipynb under a deadline, each epoch planned with the planner\'s reason', async () => {
    const started = Date.now();
    const { runId } = await service.start({
      source: { path: join(work, 'examples', 'mnist.ipynb') },
      overrides: { epochs: 3 },
      deadlineS: 600,
    });
    const events = await eventsOf(runId);
    const finished = events.find((e): e is RunEventOf<'run_finished'> => e.type === 'run_finished');
    assert.equal(finished?.status, 'succeeded', JSON.stringify(finished?.error));
    const plans = events.filter((e): e is RunEventOf<'plan'> => e.type === 'plan');
    assert.deepEqual(plans.map((p) => p.epoch), [0, 1, 2]);
    for (const plan of plans) {
      assert.doesNotMatch(plan.reason, /fixed configuration/);
      assert.match(plan.reason, /^Running \d+ workers? × \d+ MB/, plan.reason);
      assert.ok(plan.workers >= 1 && plan.workers <= 16 && 64 % plan.workers === 0, `${plan.workers} workers`);
      assert.ok(plan.memoryMb >= 512 && plan.memoryMb <= 10_240, `${plan.memoryMb} MB`);
    }
    assert.ok((Date.now() - started) / 1000 < 600, 'within the deadline');
  });

  it('estimates with the planner when a constraint is given, with advice when infeasible', async () => {
    const source = { path: join(work, 'examples', 'mnist.ipynb') };
    const feasible = await service.estimate({ source, overrides: { epochs: 3 }, deadlineS: 3600 });
    assert.equal(feasible.feasible, true);
    assert.equal(feasible.advice, undefined);
    assert.ok(feasible.timeS.low <= feasible.timeS.expected && feasible.timeS.expected <= feasible.timeS.high);
    assert.ok(feasible.computeMsPerSample >= 0 && feasible.probe.steps > 0, 'the probe measured the step (its slope may be 0 when noise hides it)');
    const tooSoon = await service.estimate({ source, overrides: { epochs: 3 }, deadlineS: 0.5 });
    assert.equal(tooSoon.feasible, false);
    assert.match(tooSoon.advice ?? '', /deadline/);
  });

  it('stops with BUDGET_EXHAUSTED before the spend passes a budget that cannot cover the job', async () => {
    const source = { path: join(work, 'examples', 'mnist.ipynb') };
    // 60 % of what the cheapest plan is expected to cost.
    const { costUsd } = await service.estimate({ source, overrides: { epochs: 3 }, budgetUsd: 1, objective: 'cost' });
    const budgetUsd = costUsd.expected * 0.6;
    const { runId } = await service.start({ source, overrides: { epochs: 3 }, budgetUsd, objective: 'cost' });
    const events = await eventsOf(runId);
    const finished = events.find((e): e is RunEventOf<'run_finished'> => e.type === 'run_finished');
    assert.equal(finished?.status, 'stopped-budget');
    assert.equal(finished?.error?.code, 'BUDGET_EXHAUSTED', JSON.stringify(finished?.error));
    assert.match(finished?.error?.message ?? '', /spent/);
    assert.ok(finished!.costUsd <= budgetUsd, `spent $${finished!.costUsd} of $${budgetUsd}`);
    assert.ok(finished?.reportPath, 'the report is kept');

    // Resumed, the run is planned again under the same budget: it may not spend past it either.
    const { fromSeq } = await service.resume(runId);
    const resumed: RunEvent[] = [];
    for await (const event of service.events(runId, { fromSeq })) resumed.push(event);
    const again = resumed.find((e): e is RunEventOf<'run_finished'> => e.type === 'run_finished');
    assert.equal(again?.status, 'stopped-budget', JSON.stringify(again?.error));
    assert.ok(again!.costUsd <= budgetUsd, `after resume: spent $${again!.costUsd} of $${budgetUsd}`);
  });

  it('plans a run without options with the scheduler, and keeps what the user fixed', async () => {
    const notebook = { path: join(work, 'examples', 'mnist.ipynb') };
    const chosen = await eventsOf((await service.start({ source: notebook, overrides: { epochs: 1 } })).runId);
    const plan = chosen.find((e): e is RunEventOf<'plan'> => e.type === 'plan');
    assert.match(plan?.reason ?? '', /^Running \d+ workers? × \d+ MB/, 'the planner chose the first epoch');
    assert.equal(chosen.find((e) => e.type === 'run_finished' && e.status === 'succeeded')?.type, 'run_finished');

    const fixed = await eventsOf((await service.start({ source: notebook, overrides: { epochs: 2 }, workers: 2, memoryMb: 1024 })).runId);
    const plans = fixed.filter((e): e is RunEventOf<'plan'> => e.type === 'plan');
    assert.deepEqual(plans.map((p) => [p.workers, p.memoryMb]), [[2, 1024], [2, 1024]], 'the fixed workers and memory stay fixed');
  });
});
