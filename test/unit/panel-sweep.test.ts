/** The sweep's panel from its events: trials, best, spend and time against the constraints, escaped user text. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSweepReportPage, sweepPanelHtml, sweepStateFromEvents } from '@smlt/shared/sweep/sweep-panel';
import type { SweepEvent } from '@smlt/shared/sweep/sweep-events';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const forecast = { concurrency: 1, trialEpochs: 5, timeS: { expected: 20, high: 30 }, costUsd: { expected: 0.01, high: 0.015 }, feasible: true };

function events(): SweepEvent[] {
  const list: Array<SweepEvent extends infer E ? (E extends SweepEvent ? Omit<E, "seq"> : never) : never> = [
    { type: 'sweep_started', at: at(0), sweepId: 'sweep-1', name: '<script>alert(1)</script>', trials: [0, 1, 2].map((trial) => ({ trial, values: { learningRate: 0.001 * (trial + 1), units: 64 } })), rungs: [1, 3], eta: 3, objective: { metric: 'accuracy', direction: 'maximize' }, constraints: { budgetUsd: 0.02 }, forecast },
    { type: 'trial_started', at: at(1), trial: 0, runId: 'r0', fromEpochs: 0, toEpochs: 1, kind: 'start', reason: 'trial 1 starts' },
    { type: 'trial_finished', at: at(3), trial: 0, runId: 'r0', rung: 0, epochs: 1, metric: 0.8, costUsd: 0.002, durationS: 2, outcome: 'rung' },
    { type: 'trial_finished', at: at(5), trial: 1, runId: 'r1', rung: 0, epochs: 1, metric: 0.9, costUsd: 0.002, durationS: 2, outcome: 'rung' },
    { type: 'trial_finished', at: at(6), trial: 2, rung: 0, epochs: 0, costUsd: 0, durationS: 1, outcome: 'failed', error: 'out of <memory>' },
    { type: 'trial_finished', at: at(9), trial: 1, runId: 'r1', rung: 1, epochs: 3, metric: 0.95, costUsd: 0.004, durationS: 3, outcome: 'rung' },
    { type: 'sweep_finished', at: at(10), status: 'succeeded', reason: 'done', costUsd: 0.008, durationS: 10, best: { trial: 1, runId: 'r1', values: { learningRate: 0.002, units: 64 }, metric: 0.95, epochs: 3 } },
  ];
  return list.map((e, i) => ({ ...e, seq: i + 1 }) as SweepEvent);
}

describe('the sweep panel', () => {
  it('replays the trials, their rungs, the best and the spend', () => {
    const state = sweepStateFromEvents(events());
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(state.trials.map((t) => t.status), ['stopped', 'best', 'failed']);
    assert.deepEqual(state.trials[1]!.points, [{ epochs: 1, metric: 0.9 }, { epochs: 3, metric: 0.95 }]);
    assert.equal(state.spentUsd, 0.008);
    assert.equal(state.trials[1]!.costUsd, 0.006);
    const html = sweepPanelHtml(state).value;
    assert.match(html, /Best: trial 2 \(<bdi>learningRate=0.002, units=64<\/bdi>\), val_accuracy 95\.00%/);
    assert.match(html, /aria-label="Spend: \$0\.008 of \$0\.02"/);
    assert.match(html, /val_accuracy by trial/);
  });

  it('escapes what users wrote (the notebook name, error messages)', () => {
    const page = renderSweepReportPage(sweepStateFromEvents(events()));
    assert.doesNotMatch(page, /<script>alert/);
    assert.match(page, /&lt;script&gt;/);
    assert.match(page, /out of &lt;memory&gt;/);
    assert.match(page, /Content-Security-Policy/);
  });
});
