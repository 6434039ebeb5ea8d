/**
 * A run that did not train says so: a NaN loss, or a run that ends (held-out loss, else training
 * loss) no lower than the untrained model's first-iteration loss, becomes a warning (result,
 * report, panel), while a run that learns, or one too short to judge, gets none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { panelStateFromEvents, renderPanel } from '@smlt/shared/panel/index';
import type { RunEvent, RunEventBody } from '@smlt/shared/run/events';
import { trainingWarnings } from '@smlt/shared/run/training-health';

const epoch = (n: number, loss: number, firstLoss: number | undefined, iterations = 125, valLoss?: number) => ({
  epoch: n,
  loss,
  iterations,
  ...(firstLoss === undefined ? {} : { firstLoss }),
  ...(valLoss === undefined ? {} : { valLoss }),
});

describe('training warnings', () => {
  it('says nothing for a run that learns, or with too few iterations to judge', () => {
    assert.deepEqual(trainingWarnings([epoch(0, 0.7, 2.28, 125, 0.38), epoch(1, 0.35, 0.4, 125, 0.3)]), []);
    // A regression whose first epoch overshoots (mean above the first iteration) but ends low:
    // the Keras corpus' mse notebook, 2.86 → 2.94 in epoch 1, 0.05 held-out at the end.
    assert.deepEqual(trainingWarnings([epoch(0, 2.94, 2.86, 125, 1.2), epoch(4, 0.06, 0.07, 125, 0.048)]), []);
    // Without a held-out loss, the last epoch's training mean is the end.
    assert.deepEqual(trainingWarnings([epoch(0, 0.7, 2.28)]), []);
    assert.deepEqual(trainingWarnings([epoch(0, 2.3, 2.28, 2)]), []);
    assert.deepEqual(trainingWarnings([epoch(0, 2.3, undefined)]), []);
  });

  it('warns when the run ends no lower than it started, naming both losses and what to check', () => {
    const [warning, ...more] = trainingWarnings([epoch(0, 14.44, 2.2846, 125, 14.47), epoch(1, 14.5, 14.4, 125, 14.47)]);
    assert.equal(more.length, 0);
    assert.match(warning!, /The loss did not go down: 2\.285 at the first iteration, 14\.47 on the held-out split after epoch 2\./);
    assert.match(warning!, /learning rate/);
    // Stuck from the start (a saturating initializer), no held-out split.
    assert.match(trainingWarnings([epoch(0, 16.1, 16.1)])[0]!, /16\.1 in training after epoch 1/);
  });

  it('warns about a loss that became NaN or infinite, in the epoch it did', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const [warning] = trainingWarnings([epoch(0, 0.9, 2.3), epoch(1, bad, 0.8)]);
      assert.match(warning!, new RegExp(`training loss was ${String(bad)} in epoch 2: the weights diverged`));
    }
  });

  it('is shown in the panel of a finished run', () => {
    const message = 'The loss did not go down: 2.285 at the first iteration, 14.47 on the held-out split after epoch 1. The model is not learning.';
    const bodies: RunEventBody[] = [
      { type: 'run_started', name: 'mnist', paramCount: 101770, trainSamples: 8000, holdoutSamples: 2000, epochs: 1, platform: 'local', store: 'file:///tmp/.smlt' },
      { type: 'run_finished', status: 'succeeded', durationS: 5, costUsd: 0.001, metrics: { loss: 14.44, firstLoss: 2.2845 }, warnings: [message] },
    ];
    const events = bodies.map((body, i) => ({ v: 1, seq: i + 1, time: new Date(Date.UTC(2026, 11, 7, 1, 0, i)).toISOString(), runId: 'r1', ...body }) as RunEvent);
    const html = renderPanel(panelStateFromEvents(events), { width: 720 });
    assert.match(html, /class="smlt-alert smlt-alert-warning" role="alert"/);
    assert.ok(html.includes('Training did not go well'));
    assert.ok(html.includes('The model is not learning.'));
  });
});
