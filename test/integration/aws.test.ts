/**
 * The AWS backend end to end, offline: `smlt deploy` and `smlt train --backend aws` with the real
 * SDK clients pointed at the Lambda emulator (the real bundled worker in child processes with
 * the function's memory and timeout) and the S3 emulator. Also: a 3-second function timeout
 * forcing checkpoint-and-relaunch, and workers killed mid-iteration while S3 answers SlowDown.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AwsSettingsSchema, type AwsSettingsInput } from '@smlt/shared/backends/aws/config';
import { LambdaPlatform } from '@smlt/shared/backends/aws/lambda-platform';
import { S3Store } from '@smlt/shared/backends/aws/s3-store';
import { captureNotebook } from '@smlt/shared/capture/capture';
import type { RunEvent } from '@smlt/shared/run/events';
import { type Captured, type RunOptions, train } from '@smlt/shared/run/orchestrator';
import { runKeys } from '@smlt/shared/run/layout';
import { type LambdaEmulator, startLambdaEmulator } from '../emulators/lambda-emulator.js';
import { type S3Emulator, S3RVER_CREDENTIALS, startS3Emulator } from '../emulators/s3-emulator.js';
import { Redis } from 'ioredis';
import { startPrivateRedis } from '@smlt/shared/backends/redis/private-server';
import { hostMissing } from '../helpers/hosts.js';
import { withEpochs } from '../helpers/local-run.js';
import { maxDifference, weightsAfter } from '../helpers/weights.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const smltBin = join(root, 'shared/bin/smlt.js');
const ROLE = 'arn:aws:iam::123456789012:role/smlt-worker';
const PREFIX = 'smlt-e2e';

let s3: S3Emulator;
let lambda: LambdaEmulator;
let project: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  s3 = await startS3Emulator();
  // Lambda gives each function its role's credentials; here, the ones the S3 emulator accepts.
  lambda = await startLambdaEmulator({ functionCredentials: S3RVER_CREDENTIALS });
  project = await mkdtemp(join(tmpdir(), 'smlt-aws-'));
  await copyFile(join(root, 'examples/mnist.ipynb'), join(project, 'mnist.ipynb'));
  // The orchestrator's clients, like the workers', use the SDK's default credential chain.
  Object.assign(process.env, s3.env);
  env = { ...process.env, ...s3.env, SMLT_HOME: join(project, 'home') };
});

after(async () => {
  await lambda?.stop();
  await s3?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

function settings(extra: Partial<AwsSettingsInput> = {}) {
  return AwsSettingsSchema.parse({
    region: s3.region,
    bucket: s3.bucket,
    prefix: PREFIX,
    role: ROLE,
    endpoints: { s3: s3.endpoint, lambda: lambda.endpoint },
    ...extra,
  });
}

/** Runs the CLI; resolves with its exit code and output. */
function smlt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [smltBin, ...args], { cwd: project, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The S3 store the runs of these tests use, as the CLI's runs do. */
function runStore(): S3Store {
  return new S3Store({ bucket: s3.bucket, prefix: PREFIX, region: s3.region, endpoint: s3.endpoint });
}

/** The orchestrator in this process on Lambda workers, outputs next to the notebook. */
function trainOnLambda(captured: Captured, store: S3Store, platform: LambdaPlatform, extra: Partial<RunOptions>) {
  return train(captured, {
    platform,
    store,
    storeLocation: store.location,
    outRoot: join(project, '.smlt'),
    workers: 4,
    memoryMb: 1769,
    syncTimeoutMs: 60_000,
    ...extra,
  });
}

/** The last line of `--json` output. */
function lastJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

describe('the AWS backend against the Lambda and S3 emulators', () => {
  let captured: Captured;

  before(async () => {
    captured = await captureNotebook(join(project, 'mnist.ipynb'));
  });

  it('smlt deploy creates the worker function, checks it with dry runs, and saves settings without secrets', async () => {
    const deployArgs = ['deploy', '--region', s3.region, '--bucket', s3.bucket, '--prefix', PREFIX, '--role', ROLE,
      '--s3-endpoint', s3.endpoint, '--lambda-endpoint', lambda.endpoint, '--json'];
    const first = await smlt(deployArgs);
    assert.equal(first.code, 0, `deploy exit code (stderr: ${first.stderr})`);
    const report = lastJson(first.stdout);
    assert.deepEqual(report.functions.map((f: any) => [f.name, f.action]), [['smlt-worker-1769', 'created']]);
    for (const check of report.checks) assert.ok(check.ok, `check ${check.name}: ${check.detail}`);
    assert.ok(report.checks.some((c: any) => c.name.startsWith('probe') && /wasm/.test(c.detail)), 'the probe found the wasm backend');
    assert.ok(report.bundle.zipBytes < 5e6, `bundle ${report.bundle.zipBytes} bytes is under 5 MB`);

    const fn = lambda.functions().find((f) => f.name === 'smlt-worker-1769');
    assert.equal(fn?.memoryMb, 1769, 'one function per memory size, with that memory');
    const config = await readFile(join(project, 'smlt.config.json'), 'utf8');
    assert.equal(JSON.parse(config).aws.bucket, s3.bucket);
    assert.ok(!config.includes(S3RVER_CREDENTIALS.secretAccessKey) && !/secret|AKIA/i.test(config), 'no credentials in the config file');

    const second = await smlt(deployArgs);
    assert.equal(second.code, 0, `second deploy (stderr: ${second.stderr})`);
    assert.deepEqual(lastJson(second.stdout).functions.map((f: any) => f.action), ['unchanged'], 'a second deploy changes nothing');

    const policy = await smlt(['deploy', '--print-policy']);
    assert.equal(policy.code, 0, policy.stderr);
    assert.ok(policy.stdout.includes(`arn:aws:s3:::${s3.bucket}/${PREFIX}/*`), 'the policy is scoped to the bucket prefix');
    assert.ok(policy.stdout.includes('function:smlt-worker-*'), 'and to the worker functions');
  });

  it('smlt train --backend aws trains examples/mnist.ipynb to the same accuracy as the local backend', async () => {
    const onAws = await smlt(['train', 'mnist.ipynb', '--backend', 'aws', '--workers', '4', '--epochs', '1', '--json']);
    assert.equal(onAws.code, 0, `aws run (stderr: ${onAws.stderr.slice(-2000)})`);
    const awsResult = lastJson(onAws.stdout);
    assert.equal(awsResult.status, 'succeeded');
    assert.ok(existsSync(awsResult.modelPath), 'the model came back next to the notebook');
    assert.ok(awsResult.modelPath.startsWith(join(project, '.smlt')), awsResult.modelPath);

    const local = await smlt(['train', 'mnist.ipynb', '--workers', '4', '--epochs', '1', '--json']);
    assert.equal(local.code, 0, `local run (stderr: ${local.stderr.slice(-2000)})`);
    const localResult = lastJson(local.stdout);
    assert.ok(awsResult.metrics.accuracy >= 0.85, `accuracy ${awsResult.metrics.accuracy}`);
    assert.ok(Math.abs(awsResult.metrics.accuracy - localResult.metrics.accuracy) < 1e-9,
      `same accuracy: aws ${awsResult.metrics.accuracy}, local ${localResult.metrics.accuracy}`);

    // The run's state is in S3 under the prefix; its per-iteration sync keys were cleaned up.
    const store = runStore();
    try {
      const keys = await store.list(`runs/${awsResult.runId}/`);
      assert.ok(keys.includes(runKeys(awsResult.runId).checkpoint(1)), 'the checkpoint is in S3');
      assert.deepEqual(await store.list(runKeys(awsResult.runId).syncRoot), [], 'no sync keys left behind');
    } finally {
      store.close();
    }
    const runs = await smlt(['runs', '--json']);
    assert.ok(runs.stdout.includes(awsResult.runId), 'smlt runs lists the AWS run');
  });

  it('a 3-second function timeout forces checkpoint and relaunch several times and ends with the same weights', async () => {
    const oneEpoch = withEpochs(captured, 1);
    const store = runStore();
    const run = async (platform: LambdaPlatform, events: RunEvent[]) => {
      try {
        const result = await trainOnLambda(oneEpoch, store, platform, { workers: 2, memoryMb: 1024, onEvent: (e) => events.push(e) });
        assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
        return weightsAfter(store, oneEpoch, result.runId, 1);
      } finally {
        await platform.close();
      }
    };
    try {
      // Functions are created on demand for a memory size deploy did not create.
      const uninterrupted = await run(new LambdaPlatform({ settings: settings() }), []);
      const events: RunEvent[] = [];
      const short = await run(new LambdaPlatform({ settings: settings({ functionPrefix: 'smlt-short', timeoutS: 3 }) }), events);
      const relaunches = events.filter((e) => e.type === 'worker_relaunched' && e.why === 'time-limit');
      assert.ok(relaunches.length >= 2, `${relaunches.length} relaunches at the time limit`);
      assert.ok(lambda.functions().some((f) => f.name === 'smlt-short-1024' && f.timeoutS === 3), 'created with a 3 s timeout');
      assert.equal(maxDifference(short, uninterrupted), 0, 'the same weights, bit for bit');
    } finally {
      store.close();
    }
  });

  it('completes when workers are killed mid-iteration and S3 answers bursts of 503 SlowDown', async () => {
    const twoEpochs = withEpochs(captured, 2);
    const store = runStore();
    const platform = new LambdaPlatform({ settings: settings() });
    const events: RunEvent[] = [];
    const injected: Promise<void>[] = [];
    try {
      const result = await trainOnLambda(twoEpochs, store, platform, {
        onEvent: (e) => {
          events.push(e);
          // Once epoch 0 is done, the next invocations run on warm containers: kill two of them a
          // moment into their iterations, and throw SlowDown at everyone's requests.
          if (e.type === 'epoch_finished' && e.epoch === 0) {
            lambda.faults.killNext(2, { afterMs: 700 });
            injected.push(s3.inject({ kind: 'slow-down', count: 6 }));
          }
        },
      });
      await Promise.all(injected);
      assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
      const failures = events.filter((e) => e.type === 'worker_failed' && e.epoch === 1);
      assert.ok(failures.length >= 2, `${failures.length} workers failed in epoch 1`);
      assert.ok(events.some((e) => e.type === 'worker_relaunched' && e.why === 'failure'), 'failed workers were relaunched');
      assert.ok((result.metrics?.valAccuracy ?? 0) >= 0.85, `accuracy ${result.metrics?.valAccuracy}`);
      assert.equal((await s3.counts()).injected['slow-down'] >= 6, true, 'the SlowDown answers were sent');
    } finally {
      await platform.close();
      store.close();
    }
  });

  it('sends gradients through a Redis channel the functions reach from their VPC, checked by deploy', async (t) => {
    const skip = hostMissing('redis-server', 'apt-get install -y redis-server (bash .ci/setup.d/redis.sh)');
    if (skip) return t.skip(skip);
    // An ElastiCache stand-in: no AUTH (a VPC security group guards the real one).
    const redis = await startPrivateRedis({ password: '' });
    try {
      const deployed = await smlt(['deploy', '--channel-url', redis.url, '--subnets', 'subnet-0123456789abcdef0',
        '--security-groups', 'sg-0123456789abcdef0', '--json']);
      assert.equal(deployed.code, 0, `deploy (stderr: ${deployed.stderr})`);
      const report = lastJson(deployed.stdout);
      assert.ok(report.functions.every((f: any) => f.action === 'config-updated'), 'the functions joined the VPC');
      assert.deepEqual(lambda.functions().find((f) => f.name === 'smlt-worker-1769') && true, true);
      const reached = report.checks.filter((c: any) => / reaches /.test(c.name));
      assert.deepEqual(reached.map((c: any) => [c.name.replace(/.* reaches /, ''), c.ok]), [[`s3://${s3.bucket}/${PREFIX}`, true], [`${redis.url}#${PREFIX}`, true]],
        'the probe reached S3 and Redis from inside the function');

      const admin = new Redis(redis.port, '127.0.0.1');
      try {
        const before = Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
        const run = await smlt(['train', 'mnist.ipynb', '--backend', 'aws', '--channel', 'redis', '--workers', '2', '--epochs', '1', '--json']);
        assert.equal(run.code, 0, `train (stderr: ${run.stderr.slice(-2000)})`);
        const result = lastJson(run.stdout);
        assert.equal(result.status, 'succeeded');
        assert.ok(result.metrics.accuracy >= 0.85, `accuracy ${result.metrics.accuracy}`);
        const after = Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
        assert.ok(after - before > 1000, `${after - before} Redis commands: the exchange went through the channel`);
        assert.equal(await admin.dbsize(), 0, 'no keys left in the channel');
      } finally {
        admin.disconnect();
      }
    } finally {
      await redis.stop();
    }
  });

  it('smlt sweep --backend aws trains its trials on the functions, within one budget, and brings the best model back', async () => {
    await copyFile(join(root, 'examples/mnist-sweep.ipynb'), join(project, 'mnist-sweep.ipynb'));
    const swept = await smlt(['sweep', 'mnist-sweep.ipynb', '--backend', 'aws', '--trials', '3', '--epochs', '3', '--budget', '1', '--json']);
    assert.equal(swept.code, 0, swept.stderr);
    const result = lastJson(swept.stdout) as { status: string; costUsd: number; best: { runId: string; metric: number }; outDir: string };
    assert.equal(result.status, 'succeeded');
    assert.ok(result.costUsd > 0 && result.costUsd <= 1, `spent ${result.costUsd}`);
    assert.ok(result.best.metric >= 0.85, `best held-out accuracy ${result.best.metric}`);
    assert.ok(existsSync(join(result.outDir, 'best-model', 'model.json')));
    // Its trials ran on the worker functions, their state in S3.
    const rungs = swept.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; outcome?: string; runId?: string }).filter((e) => e.type === 'trial_finished' && e.outcome === 'rung');
    assert.equal(rungs.length, 3 + 1, 'three first rungs and one promotion to 3 epochs');
    assert.ok(await runStore().has(runKeys(result.best.runId).manifest), 'the best trial is a run in S3');
  });

  it('smlt destroy deletes the worker functions, and with --data the run data', async () => {
    const before = lambda.functions().filter((f) => f.name.startsWith('smlt-worker-'));
    assert.ok(before.length >= 1, 'there are functions to delete');
    const kept = await smlt(['destroy', '--json']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.deepEqual(lastJson(kept.stdout).functions.sort(), before.map((f) => f.name).sort());
    assert.deepEqual(lambda.functions().filter((f) => f.name.startsWith('smlt-worker-')), [], 'the functions are gone');
    const store = runStore();
    try {
      assert.ok((await store.list('runs/')).length > 0, 'without --data the run data is kept');
      const wiped = await smlt(['destroy', '--data', '--json']);
      assert.equal(wiped.code, 0, wiped.stderr);
      assert.ok(lastJson(wiped.stdout).objectsDeleted > 0);
      assert.deepEqual(await store.list(''), [], 'nothing is left under the prefix');
    } finally {
      store.close();
    }
  });
});
