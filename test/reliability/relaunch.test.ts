/**
 * Invocations that end before their share of the epoch is done, on real local workers: a worker
 * killed mid-iteration is relaunched on the iteration it had not finished, and workers that reach
 * the platform's time limit checkpoint and continue; either way the epoch's weights are the same,
 * bit for bit, as an uninterrupted run's (examples/mnist.ipynb, 1 epoch, 4 workers, same seed).
 * A lone worker exchanges nothing, so it has no averages to replay: killed, it starts the epoch
 * again (or from the state it saved at a time limit), with the same weights as a lone worker's
 * uninterrupted epoch.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureNotebook } from '@smlt/shared/capture/capture';
import type { Captured } from '@smlt/shared/run/orchestrator';
import { initBackend } from '@smlt/shared/tf/backend';
import type { LocalPlatformOptions } from '@smlt/shared/backends/local/local-platform';
import type { RunResult } from '@smlt/shared/run/orchestrator';
import { type LocalRun, localRun, withEpochs } from '../helpers/local-run.js';
import { maxDifference, weightsAfter } from '../helpers/weights.js';
import { stateIteration } from '@smlt/shared/run/layout';

const notebook = fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url));

/** `body` on a fresh local run, disposed after. */
async function withRun<T>(platformOptions: LocalPlatformOptions, body: (run: LocalRun) => Promise<T>): Promise<T> {
  const run = await localRun(platformOptions);
  try {
    return await body(run);
  } finally {
    await run.dispose();
  }
}

/** The weights after the one epoch of a run that must have succeeded. */
async function epochWeights(run: LocalRun, captured: Captured, result: RunResult): Promise<Float32Array[]> {
  assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
  return weightsAfter(run.store, captured, result.runId, 1);
}

describe('relaunched workers', () => {
  let oneEpoch: Captured;
  /** The uninterrupted epoch's weights on 4 workers. */
  let reference: Float32Array[];
  let small: Captured;
  /** The uninterrupted epoch's weights of `small` on one worker. */
  let alone: Float32Array[];

  before(async () => {
    await initBackend();
    oneEpoch = withEpochs(await captureNotebook(notebook), 1);
    reference = await withRun({}, async (run) => epochWeights(run, oneEpoch, await run.train(oneEpoch, { workers: 4 })));
    // A lone worker's epoch at batch 8: 1,000 iterations, seconds long: room to strike mid-epoch.
    small = { ...oneEpoch, spec: { ...oneEpoch.spec, training: { ...oneEpoch.spec.training, batchSize: 8 } } };
    alone = await withRun({}, async (run) => epochWeights(run, small, await run.train(small, { workers: 1 })));
  });

  it('starts a killed lone worker again from the epoch\'s start (no averages to replay), with the same result', async () => {
    await withRun({}, async (run) => {
      let killed = 0;
      const result = await run.train(small, {
        workers: 1,
        onEvent: (e) => {
          run.events.push(e);
          if (e.type === 'progress' && e.iteration > 5 && killed === 0) killed = run.platform.killRunning(() => true);
        },
      });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.equal(killed, 1);
      const relaunched = run.events.find((e) => e.type === 'worker_relaunched' && e.why === 'failure');
      assert.ok(relaunched?.type === 'worker_relaunched' && relaunched.fromIteration === 0, JSON.stringify(relaunched));
      assert.equal(maxDifference(await epochWeights(run, small, result), alone), 0, 'the same weights, bit for bit');
    });
  });

  it('starts a killed lone worker again from the state it saved last (every tenth of its time limit), with the same result', async () => {
    // A 5 s limit: the lone worker saves its state every 0.5 s and continues only after 4.5 s;
    // it is killed as soon as a saved state is in the store.
    await withRun({ timeLimitMs: 5000 }, async (run) => {
      let killed = 0;
      let savedAt: number | undefined;
      const killOnceSaved = async () => {
        const saved = (await run.store.list('runs/')).map(stateIteration).filter((i) => !Number.isNaN(i));
        if (saved.length === 0 || killed > 0) return;
        savedAt = Math.max(...saved);
        killed = run.platform.killRunning(() => true);
      };
      const result = await run.train(small, {
        workers: 1,
        onEvent: (e) => {
          run.events.push(e);
          if (e.type === 'progress' && killed === 0) void killOnceSaved();
        },
      });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.equal(killed, 1, 'killed once a state was saved');
      assert.ok(!run.events.some((e) => e.type === 'worker_relaunched' && e.why === 'time-limit' && run.events.indexOf(e) < run.events.findIndex((f) => f.type === 'worker_failed')), 'no time-limit continuation before the kill');
      const relaunched = run.events.find((e) => e.type === 'worker_relaunched' && e.why === 'failure');
      assert.ok(relaunched?.type === 'worker_relaunched' && relaunched.fromIteration > 0 && relaunched.fromIteration >= savedAt!, `${JSON.stringify(relaunched)}, saved at ${savedAt}`);
      assert.equal(maxDifference(await epochWeights(run, small, result), alone), 0, 'the same weights, bit for bit');
    });
  });

  it('continues a lone worker at the time limit from the state it saved, with the same result', async () => {
    await withRun({ timeLimitMs: 3000 }, async (run) => {
      const result = await run.train(small, { workers: 1, safetyMarginMs: 2200 });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const continued = run.events.filter((e) => e.type === 'worker_relaunched' && e.why === 'time-limit');
      assert.ok(continued.length >= 1 && continued.every((e) => e.type === 'worker_relaunched' && e.fromIteration > 0), JSON.stringify(continued));
      assert.equal(maxDifference(await epochWeights(run, small, result), alone), 0, 'the same weights, bit for bit');
    });
  });

  it('relaunches a killed worker on the iteration it had not finished, with the same result', async () => {
    await withRun({}, async (run) => {
      let killed = 0;
      const result = await run.train(oneEpoch, {
        workers: 4,
        onEvent: (e) => {
          run.events.push(e);
          if (e.type === 'progress' && e.iteration > 5 && killed === 0) {
            killed = run.platform.killRunning((ev) => (ev as { rank?: number }).rank === 2);
          }
        },
      });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.equal(killed, 1);
      const failed = run.events.find((e) => e.type === 'worker_failed');
      const relaunched = run.events.find((e) => e.type === 'worker_relaunched' && e.why === 'failure');
      assert.ok(failed && relaunched && relaunched.type === 'worker_relaunched', 'a worker_failed and a worker_relaunched (failure) event');
      assert.ok(relaunched.fromIteration > 0, 'continues where it stopped, not from the start');
      assert.equal(maxDifference(await epochWeights(run, oneEpoch, result), reference), 0, 'the same weights, bit for bit');
    });
  });

  it('continues workers that reach the time limit, with the same result', async () => {
    await withRun({ timeLimitMs: 3000 }, async (run) => {
      const result = await run.train(oneEpoch, { workers: 4, safetyMarginMs: 2200 });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const continued = run.events.filter((e) => e.type === 'worker_relaunched' && e.why === 'time-limit');
      assert.ok(continued.length >= 4, `${continued.length} continues`);
      const finished = run.events.filter((e) => e.type === 'worker_finished');
      const rewarmed = finished.filter((e) => e.type === 'worker_finished' && e.warmCache).length;
      assert.ok(rewarmed >= continued.length, `continued invocations reuse their container's cache (${rewarmed} warm)`);
      assert.equal(maxDifference(await epochWeights(run, oneEpoch, result), reference), 0, 'the same weights, bit for bit');
    });
  });
});
