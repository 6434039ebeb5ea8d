/**
 * The orchestrator, the worker handler and the local platform together: real worker processes
 * training a real model through the folder store.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureNotebook } from '@smlt/shared/capture/capture';
import type { Captured } from '@smlt/shared/run/orchestrator';
import { resume } from '@smlt/shared/run/orchestrator';
import { readStatus } from '@smlt/shared/run/run-state';
import { initBackend } from '@smlt/shared/tf/backend';
import { type LocalRun, localRun, withEpochs } from '../helpers/local-run.js';
import { maxDifference, weightsAfter } from '../helpers/weights.js';

const notebook = fileURLToPath(new URL('../../examples/mnist.ipynb', import.meta.url));

describe('training on local workers', () => {
  let captured: Captured;
  let oneEpoch: Captured;
  let reference: { run: LocalRun; runId: string; weights: Float32Array[] };

  before(async () => {
    await initBackend();
    captured = await captureNotebook(notebook);
    oneEpoch = withEpochs(captured, 1);
    const run = await localRun();
    const result = await run.train(oneEpoch, { workers: 4 });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    reference = { run, runId: result.runId, weights: await weightsAfter(run.store, oneEpoch, result.runId, 1) };
  });
  after(() => reference?.run.dispose());

  it('gives the same weights after an epoch on 1 worker as on 4 (same seed, same global batch)', async () => {
    const run = await localRun();
    try {
      const result = await run.train(oneEpoch, { workers: 1 });
      assert.equal(result.status, 'succeeded');
      const single = await weightsAfter(run.store, oneEpoch, result.runId, 1);
      assert.ok(maxDifference(single, reference.weights) < 1e-4, `max difference ${maxDifference(single, reference.weights)}`);
    } finally {
      await run.dispose();
    }
  });

  it('writes the model, the report and every event, and reuses warm workers', async () => {
    const { run, runId } = reference;
    const events = run.events.filter((e) => e.runId === runId);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    const finished = events.at(-1);
    assert.ok(finished?.type === 'run_finished' && finished.status === 'succeeded');
    assert.equal(finished.warnings, undefined, 'a run that learns has no training warning');
    assert.ok(finished.modelPath && existsSync(finished.modelPath));
    const report = JSON.parse(readFileSync(finished.reportPath!, 'utf8'));
    assert.equal(report.epochs.length, 1);
    assert.ok(report.costUsd > 0);
    assert.equal(report.epochs[0].workers, 4);
    assert.ok(events.some((e) => e.type === 'epoch_finished' && e.valAccuracy !== undefined && e.valAccuracy > 0.8));
    const started = events.filter((e) => e.type === 'worker_finished');
    assert.equal(started.length, 4);
    assert.ok(started.every((e) => e.type === 'worker_finished' && !e.warmCache && e.coldStart));

    // A second run of the same spec on the same platform: every invocation lands in a warm
    // container that already holds the built model and its data partition.
    const again = await run.train(oneEpoch, { workers: 4 });
    const warm = run.events.filter((e) => e.runId === again.runId && e.type === 'worker_finished');
    assert.equal(warm.length, 4);
    assert.ok(
      warm.every((e) => e.type === 'worker_finished' && !e.coldStart && e.warmCache),
      'warm re-invocations download and build nothing',
    );
  });

  it('says so, in the result, the final event and the report, when the model did not learn', async () => {
    // Adam at learning rate 10 throws an MLP's softmax into saturation in a few steps.
    const wild = { ...oneEpoch, spec: { ...oneEpoch.spec, training: { ...oneEpoch.spec.training, learningRate: 10 } } };
    const run = await localRun();
    try {
      const result = await run.train(wild, { workers: 1 });
      assert.equal(result.status, 'succeeded');
      assert.equal(result.warnings?.length, 1);
      assert.match(result.warnings![0]!, /The loss did not go down: [\d.]+ at the first iteration, [\d.]+ on the held-out split after epoch 1\. The model is not learning/);
      const finished = run.events.filter((e) => e.runId === result.runId).at(-1);
      assert.ok(finished?.type === 'run_finished');
      assert.deepEqual(finished.warnings, result.warnings);
      assert.deepEqual(JSON.parse(readFileSync(finished.reportPath!, 'utf8')).warnings, result.warnings);
    } finally {
      await run.dispose();
    }
  });

  it('cancels cleanly, keeping the checkpoint and report, and resumes to the end', async () => {
    const run = await localRun();
    try {
      const abort = new AbortController();
      const twoEpochs = withEpochs(captured, 2);
      const cancelled = await run.train(twoEpochs, {
        workers: 2,
        signal: abort.signal,
        onEvent: (e) => {
          run.events.push(e);
          if (e.type === 'epoch_started' && e.epoch === 1) setTimeout(() => abort.abort(), 300);
        },
      });
      assert.equal(cancelled.status, 'cancelled');
      assert.ok(cancelled.reportPath && existsSync(cancelled.reportPath));
      assert.ok(cancelled.modelPath && existsSync(cancelled.modelPath), 'the model of the finished epoch is kept');
      assert.equal((await readStatus(run.store, cancelled.runId))?.epochsDone, 1);

      const resumed = await resume(cancelled.runId, run.options());
      assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed.error));
      const report = JSON.parse(readFileSync(resumed.reportPath!, 'utf8'));
      assert.deepEqual(report.epochs.map((e: { epoch: number }) => e.epoch), [0, 1]);
      assert.ok(resumed.metrics?.valAccuracy !== undefined && resumed.metrics.valAccuracy > 0.85);
    } finally {
      await run.dispose();
    }
  });

  it('changes the worker count and memory between epochs when the plan says so', async () => {
    const run = await localRun();
    try {
      const configs = [
        { workers: 2, memoryMb: 1024, reason: 'probe a small configuration' },
        { workers: 4, memoryMb: 1769, reason: 'scale out' },
        { workers: 1, memoryMb: 512, reason: 'scale in' },
      ];
      const result = await run.train(withEpochs(captured, 3), { planEpoch: (epoch) => configs[epoch] });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const plans = run.events.filter((e) => e.type === 'plan');
      assert.deepEqual(
        plans.map((e) => e.type === 'plan' && [e.workers, e.memoryMb, e.reason]),
        configs.map((c) => [c.workers, c.memoryMb, c.reason]),
      );
      for (const [epoch, config] of configs.entries()) {
        const ranks = new Set(run.events.filter((e) => e.type === 'worker_finished' && e.epoch === epoch).map((e) => (e.type === 'worker_finished' ? e.rank : -1)));
        assert.equal(ranks.size, config.workers, `epoch ${epoch} ran on ${config.workers} workers`);
      }
      const report = JSON.parse(readFileSync(result.reportPath!, 'utf8'));
      assert.deepEqual(report.epochs.map((e: { workers: number; memoryMb: number }) => [e.workers, e.memoryMb]), configs.map((c) => [c.workers, c.memoryMb]));
      assert.ok((result.metrics?.valAccuracy ?? 0) > 0.88, `accuracy ${result.metrics?.valAccuracy}`);
    } finally {
      await run.dispose();
    }
  });

  it('plans an epoch again, larger, when its workers run out of memory', async () => {
    const run = await localRun();
    try {
      const failures: unknown[] = [];
      const result = await run.train(oneEpoch, {
        workers: 2,
        planEpoch: (_epoch, _previous, failure) => {
          if (failure) failures.push(failure);
          // 160 MB is below what a wasm worker with this model needs (≈200 MB measured).
          return failure ? { workers: 2, memoryMb: 1769, reason: 'sized up after out of memory' } : { workers: 2, memoryMb: 160, reason: 'too small' };
        },
      });
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      assert.deepEqual(failures, [{ outOfMemory: { workers: 2, memoryMb: 160 } }]);
      assert.ok(run.events.some((e) => e.type === 'worker_failed' && e.reason === 'out-of-memory'), 'the out-of-memory kill is reported');
      const report = JSON.parse(readFileSync(result.reportPath!, 'utf8'));
      assert.equal(report.epochs[0].memoryMb, 1769);
    } finally {
      await run.dispose();
    }
  });

  it('refuses a worker count that does not split the batch, before launching anything', async () => {
    const run = await localRun();
    try {
      await assert.rejects(run.train(oneEpoch, { workers: 3 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'OPTION_INVALID');
        assert.match(err.message, /does not split evenly over 3 workers/);
        return true;
      });
      assert.equal(run.platform.containers, 0);
      assert.deepEqual(await run.store.list('runs/'), []);
    } finally {
      await run.dispose();
    }
  });
});
