/**
 * Fault injection on real runs (examples/mnist.ipynb, 2 epochs, 4 workers, batch 128), against a
 * fault-free run with the same seed: workers killed mid-iteration at seeded random points (1,
 * then n/2 of n; local processes and emulated Lambda), S3 503 SlowDown bursts and Lambda
 * throttling, a worker that hangs (abandoned as a straggler), a worker temp folder that
 * cannot be written (a full disk), and a checkpoint corrupted in the store (checksums), with
 * `resume`. Every run must complete — or end with a clear status and then resume — within one
 * point of the fault-free accuracy, redoing at most one epoch. The orchestrator killed mid-epoch
 * and `smlt resume` is test/reliability/orchestrator-kill.test.ts; its row is listed here, not run twice.
 * Prints the table (and writes test-output/faults.md).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AwsSettingsSchema } from '@smlt/shared/backends/aws/config';
import { LambdaPlatform } from '@smlt/shared/backends/aws/lambda-platform';
import { S3Store } from '@smlt/shared/backends/aws/s3-store';
import { captureNotebook } from '@smlt/shared/capture/capture';
import { mulberry32 } from '@smlt/shared/data/order';
import type { RunEvent } from '@smlt/shared/run/events';
import { runKeys } from '@smlt/shared/run/layout';
import { type Captured, type RunResult, resume, train } from '@smlt/shared/run/orchestrator';
import { type LambdaEmulator, startLambdaEmulator } from '../emulators/lambda-emulator.js';
import { type S3Emulator, S3RVER_CREDENTIALS, startS3Emulator } from '../emulators/s3-emulator.js';
import { type LocalRun, localRun } from '../helpers/local-run.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const WORKERS = 4;
const EPOCHS = 2;
/** 8,000 training samples / 128 = 62 iterations an epoch: room to strike mid-epoch, quick enough for CI. */
const BATCH = 128;
const SEED = 20_261_125;

/** The fault points are random, and the same on every run. */
const random = mulberry32(SEED);
const between = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
/** `count` distinct ranks of `WORKERS`, chosen at random. */
function ranks(count: number): number[] {
  const all = Array.from({ length: WORKERS }, (_, r) => r);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count).sort();
}

interface Row {
  scenario: string;
  backend: string;
  faults: string;
  outcome: string;
  accuracy: string;
  epochsRedone: number;
  relaunches: number;
  workLost: string;
}
const rows: Row[] = [];

/** Epochs that had finished and were started again (the epoch in progress at a failure is not "redone"). */
function epochsRedone(events: RunEvent[]): number {
  const finished = new Set<number>();
  const redone = new Set<number>();
  for (const e of events) {
    if (e.type === 'epoch_finished') finished.add(e.epoch);
    if (e.type === 'epoch_started' && finished.has(e.epoch)) redone.add(e.epoch);
  }
  return redone.size;
}

/**
 * A relaunched worker restarts at its first iteration without a marker, so a failure costs at
 * most the iteration that was in progress (plus the restart itself).
 */
function workLost(events: RunEvent[]): string {
  const relaunched = events.filter((e) => e.type === 'worker_relaunched' && e.why === 'failure') as Array<{ epoch: number; fromIteration: number }>;
  if (relaunched.length === 0) return 'none';
  const at = relaunched.map((r) => `e${r.epoch + 1}:i${r.fromIteration}`).join(', ');
  return `≤ ${relaunched.length} worker-iterations (restarts at ${at})`;
}

function count(events: RunEvent[], type: RunEvent['type'], why?: string): number {
  return events.filter((e) => e.type === type && (why === undefined || (e as { why?: string }).why === why)).length;
}

let captured: Captured;
let baseline: number;

before(async () => {
  const full = await captureNotebook(join(root, 'examples/mnist.ipynb'));
  captured = { ...full, spec: { ...full.spec, training: { ...full.spec.training, epochs: EPOCHS, batchSize: BATCH } } };
});

after(() => {
  const header = '| scenario | backend | faults injected | outcome | held-out accuracy | epochs redone | relaunches | work lost |';
  const lines = [
    header,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.backend} | ${r.faults} | ${r.outcome} | ${r.accuracy} | ${r.epochsRedone} | ${r.relaunches} | ${r.workLost} |`),
    '| orchestrator killed mid-epoch, `smlt resume` | local | SIGKILL of the CLI in epoch 2 | succeeded after resume (test/reliability/orchestrator-kill.test.ts) | ≥ 0.90 | 0 (the epoch in progress) | — | the epoch in progress |',
  ];
  const faulty = rows.filter((r) => r.faults !== 'none');
  const completed = faulty.filter((r) => r.outcome.includes('succeeded')).length;
  const resumed = faulty.filter((r) => r.outcome.includes('after resume')).length;
  const table = `${lines.join('\n')}\n\n${faulty.length} runs with faults here: ${completed} completed (${resumed} of them after a clear failure and resume).\n`;
  console.log(`\nFault injection (seed ${SEED}, ${WORKERS} workers, ${EPOCHS} epochs, batch ${BATCH}):\n${table}`);
  mkdirSync(join(root, 'test-output'), { recursive: true });
  writeFileSync(join(root, 'test-output/faults.md'), table);
});

function accuracyOf(result: RunResult): number {
  const accuracy = result.metrics?.valAccuracy;
  assert.ok(accuracy !== undefined, `the run reports a held-out accuracy: ${JSON.stringify(result)}`);
  return accuracy;
}

function record(scenario: string, backend: string, faults: string, outcome: string, result: RunResult, events: RunEvent[]): number {
  const accuracy = accuracyOf(result);
  rows.push({
    scenario,
    backend,
    faults,
    outcome,
    accuracy: `${accuracy.toFixed(4)} (${accuracy >= baseline ? '+' : ''}${((accuracy - baseline) * 100).toFixed(2)} pt)`,
    epochsRedone: epochsRedone(events),
    relaunches: count(events, 'worker_relaunched', 'failure'),
    workLost: workLost(events),
  });
  assert.ok(Math.abs(accuracy - baseline) <= 0.01, `accuracy ${accuracy} within 1 point of the fault-free ${baseline}`);
  assert.ok(epochsRedone(events) <= 1, `${epochsRedone(events)} epochs redone`);
  return accuracy;
}

describe('faults on the local backend', () => {
  let run: LocalRun;
  after(async () => run?.dispose());

  it('a fault-free run sets the accuracy to match', async () => {
    run = await localRun();
    const result = await run.train(captured, { workers: WORKERS });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    baseline = accuracyOf(result);
    rows.push({ scenario: 'fault-free', backend: 'local', faults: 'none', outcome: 'succeeded', accuracy: baseline.toFixed(4), epochsRedone: 0, relaunches: 0, workLost: 'none' });
    await run.dispose();
  });

  it('completes when 1, then n/2, of n workers are killed mid-iteration at random points', async () => {
    run = await localRun();
    const plan = [
      { epoch: 0, iteration: between(5, 50), victims: ranks(1) },
      { epoch: 1, iteration: between(5, 50), victims: ranks(WORKERS / 2) },
    ];
    let killed = 0;
    const pending = [...plan];
    const result = await run.train(captured, {
      workers: WORKERS,
      onEvent: (e) => {
        run.events.push(e);
        const next = pending[0];
        if (next && e.type === 'progress' && e.epoch === next.epoch && e.iteration >= next.iteration) {
          pending.shift();
          killed += run.platform.killRunning((ev) => {
            const w = ev as { epoch: number; rank: number };
            return w.epoch === next.epoch && next.victims.includes(w.rank);
          });
        }
      },
    });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(killed, 1 + WORKERS / 2, `${killed} workers killed`);
    assert.ok(count(run.events, 'worker_failed') >= killed, 'each kill is a worker_failed event');
    const faults = plan.map((p) => `SIGKILL rank ${p.victims.join('+')} at epoch ${p.epoch + 1} iteration ≥ ${p.iteration}`).join('; ');
    record(`kill 1, then ${WORKERS / 2}, of ${WORKERS} workers`, 'local', faults, 'succeeded', result, run.events);
    await run.dispose();
  });

  it('abandons and relaunches a hung worker (a straggler) one sync timeout after the others start waiting for it', async () => {
    // 6 s to wait for a shard; a time limit far beyond the test, as Lambda's 15 minutes would be:
    // only the straggler rule can end the hung invocation in time (the waiters have 3 retries).
    run = await localRun({ timeLimitMs: 600_000 });
    const victim = ranks(1)[0]!;
    const at = between(5, 40);
    let frozen = 0;
    const result = await run.train(captured, {
      workers: WORKERS,
      syncTimeoutMs: 6_000,
      onEvent: (e) => {
        run.events.push(e);
        if (!frozen && e.type === 'progress' && e.epoch === 0 && e.iteration >= at) {
          frozen = run.platform.killRunning((ev) => (ev as { epoch: number; rank: number }).epoch === 0 && (ev as { rank: number }).rank === victim, 'SIGSTOP');
        }
      },
    });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(frozen, 1, 'one worker was frozen');
    const failed = run.events.filter((e) => e.type === 'worker_failed') as Array<{ rank: number; reason: string; message: string }>;
    const abandoned = failed.filter((f) => f.reason === 'straggler');
    assert.ok(abandoned.some((f) => f.rank === victim), `the hung worker was abandoned as a straggler: ${JSON.stringify(failed)}`);
    assert.match(abandoned.find((f) => f.rank === victim)!.message, /made no progress past iteration \d+ .* abandoned as a straggler/);
    record('hung worker (straggler)', 'local', `SIGSTOP rank ${victim} at epoch 1 iteration ≥ ${at}; 6 s sync timeout, 600 s time limit`, 'succeeded', result, run.events);
    await run.dispose();
  });

  it('completes when the workers\' temp folder cannot be written (a full disk), without the disk cache', async () => {
    run = await localRun();
    // Each container's cache folder is a file: every write there fails (ENOTDIR), as on a full /tmp.
    for (let id = 1; id <= 64; id++) {
      const dir = join(run.root, 'containers', `container-${id}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'smlt-cache'), 'not a folder');
    }
    const result = await run.train(captured, { workers: WORKERS });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(count(run.events, 'worker_failed'), 0, 'no worker failed for want of a disk cache');
    record('worker temp folder unwritable', 'local', 'smlt-cache is a file in every container (writes fail with ENOTDIR)', 'succeeded', result, run.events);
    await run.dispose();
  });

  it('detects a corrupted checkpoint by its checksum, stops clearly, and resumes from the last intact one', async () => {
    run = await localRun();
    let corrupted = '';
    const first = await run.train(captured, {
      workers: WORKERS,
      maxRetries: 1,
      onEvent: (e) => {
        run.events.push(e);
        // Epoch 2 is about to read the checkpoint epoch 1 wrote: flip one byte of it.
        if (e.type === 'plan' && e.epoch === 1 && !corrupted) {
          const file = join(run.root, '.smlt', runKeys(e.runId).checkpoint(1));
          const bytes = readFileSync(file);
          bytes[bytes.length - 100] ^= 0xff;
          writeFileSync(file, bytes);
          corrupted = runKeys(e.runId).checkpoint(1);
        }
      },
    });
    assert.ok(corrupted, 'the checkpoint was corrupted');
    assert.equal(first.status, 'failed', 'the run stops instead of training on corrupt weights');
    assert.match(first.error?.message ?? '', /SHA-256 checksum/, `the error says why: ${first.error?.message}`);
    assert.ok(first.error?.message.includes(corrupted), `and names the object: ${first.error?.message}`);
    const retried = run.events.filter((e) => e.type === 'worker_relaunched' && e.why === 'failure').length;
    assert.ok(retried >= 1, 'the corrupt read was retried before giving up');

    const resumed = await resume(first.runId, {
      platform: run.platform,
      store: run.store,
      force: true,
      syncTimeoutMs: 30_000,
      onEvent: (e) => run.events.push(e),
    });
    assert.equal(resumed.status, 'succeeded', JSON.stringify(resumed.error));
    const restart = run.events.find((e) => e.type === 'run_started' && e.resumedFromEpoch !== undefined) as { resumedFromEpoch: number };
    assert.equal(restart.resumedFromEpoch, 0, 'the resume starts from the last intact checkpoint (before epoch 1)');
    record('checkpoint corrupted in the store', 'local', `one byte of ${corrupted.split('/').slice(-2).join('/')} flipped before epoch 2 read it`,
      `failed (${first.error?.code}: checksum mismatch, key named), then succeeded after resume`, resumed, run.events);
    await run.dispose();
  });
});

describe('faults on emulated AWS (Lambda + S3 emulators)', () => {
  let s3: S3Emulator;
  let lambda: LambdaEmulator;
  const envBefore = { ...process.env };

  before(async () => {
    s3 = await startS3Emulator();
    lambda = await startLambdaEmulator({ functionCredentials: S3RVER_CREDENTIALS });
    Object.assign(process.env, s3.env);
  });
  after(async () => {
    await lambda?.stop();
    await s3?.stop();
    for (const key of Object.keys(process.env)) if (!(key in envBefore)) delete process.env[key];
    Object.assign(process.env, envBefore);
  });

  it('completes when 1, then n/2, of n Lambda workers are killed mid-iteration, under S3 SlowDown bursts and Lambda throttling', async () => {
    const settings = AwsSettingsSchema.parse({
      region: s3.region,
      bucket: s3.bucket,
      prefix: 'smlt-faults',
      role: 'arn:aws:iam::123456789012:role/smlt-worker',
      endpoints: { s3: s3.endpoint, lambda: lambda.endpoint },
    });
    const store = new S3Store({ bucket: s3.bucket, prefix: 'smlt-faults', region: s3.region, endpoint: s3.endpoint });
    const platform = new LambdaPlatform({ settings });
    const events: RunEvent[] = [];
    const injected: Promise<void>[] = [];
    const killAfterMs = [between(1_500, 5_000), between(1_500, 5_000)];
    const faults = [
      `epoch 1: kill 1 invocation ${killAfterMs[0]} ms into its run, S3 SlowDown ×8`,
      `epoch 2: Lambda throttling ×3, kill ${WORKERS / 2} invocations ${killAfterMs[1]} ms in, S3 SlowDown ×8`,
    ];
    try {
      const result = await train(captured, {
        platform,
        store,
        storeLocation: store.location,
        outRoot: join(root, 'test-output', 'faults-aws'),
        workers: WORKERS,
        memoryMb: 1769,
        syncTimeoutMs: 60_000,
        onEvent: (e) => {
          events.push(e);
          if (e.type === 'epoch_started' && e.epoch === 0) {
            lambda.faults.killNext(1, { afterMs: killAfterMs[0] });
            injected.push(s3.inject({ kind: 'slow-down', count: 8 }));
          }
          if (e.type === 'epoch_started' && e.epoch === 1) {
            lambda.faults.throttleNext(3);
            lambda.faults.killNext(WORKERS / 2, { afterMs: killAfterMs[1] });
            injected.push(s3.inject({ kind: 'slow-down', count: 8 }));
          }
        },
      });
      await Promise.all(injected);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const outcomes = lambda.invocations().map((i) => i.outcome);
      assert.ok(outcomes.filter((o) => o === 'killed').length >= 1 + WORKERS / 2, `killed invocations: ${outcomes.join(',')}`);
      assert.ok(outcomes.filter((o) => o === 'throttled').length >= 3, 'three invocations were throttled, then retried');
      assert.ok((await s3.counts()).injected['slow-down'] >= 16, 'the SlowDown answers were sent');
      record(`kill 1, then ${WORKERS / 2}, of ${WORKERS}; 503s; throttling`, 'emulated AWS', faults.join('; '), 'succeeded', result, events);
    } finally {
      await platform.close();
      store.close();
    }
  });
});
