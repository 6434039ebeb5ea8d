/**
 * No credential, token or signed URL in any artifact of a real run: `smlt deploy`, `smlt serve`
 * and `smlt train --backend aws --server` against the Lambda and S3 emulators, with AWS
 * credentials (and a session token) in the environment and one worker killed so that error paths
 * run too; then every artifact is read back and searched: every object in the bucket (spec,
 * manifest, events, status, checkpoints, report), the files next to the notebook (model, report,
 * HTML report, smlt.config.json), $SMLT_HOME (run index), each command's stdout and stderr, and
 * the worker functions' configuration. Also: S3 keys cannot leave the store's prefix.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '@smlt/shared/backends/aws/s3-store';
import { isSmltError } from '@smlt/shared/errors';
import { type LambdaEmulator, startLambdaEmulator } from '../emulators/lambda-emulator.js';
import { type S3Emulator, S3RVER_CREDENTIALS, startS3Emulator } from '../emulators/s3-emulator.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const smltBin = join(root, 'shared/bin/smlt.js');
const PREFIX = 'smlt-secrets';
const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLE/smlt+session+token=do-not-leak';

interface Output {
  command: string;
  stdout: string;
  stderr: string;
}

describe('secrets never reach an artifact', () => {
  let s3: S3Emulator;
  let lambda: LambdaEmulator;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const outputs: Output[] = [];
  const envBefore = { ...process.env };

  before(async () => {
    s3 = await startS3Emulator();
    lambda = await startLambdaEmulator({ functionCredentials: S3RVER_CREDENTIALS });
    project = mkdtempSync(join(tmpdir(), 'smlt-secrets-'));
    copyFileSync(join(root, 'examples/mnist.ipynb'), join(project, 'mnist.ipynb'));
    env = { ...process.env, ...s3.env, AWS_SESSION_TOKEN: SESSION_TOKEN, SMLT_HOME: join(project, 'home') };
    // This process's S3 client (the prefix test) uses the SDK's default chain too.
    Object.assign(process.env, s3.env);
  });
  after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in envBefore)) delete process.env[key];
    Object.assign(process.env, envBefore);
    await lambda?.stop();
    await s3?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  function start(args: string[]): { child: ChildProcess; done: Promise<Output & { code: number | null }> } {
    const child = spawn(process.execPath, [smltBin, ...args], { cwd: project, env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<Output & { code: number | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        const output = { command: `smlt ${args[0]}`, stdout, stderr };
        outputs.push(output);
        resolve({ ...output, code });
      });
    });
    return { child, done };
  }
  const smlt = (args: string[]) => start(args).done;

  it('deploys, serves and trains on emulated AWS with credentials in the environment, one worker killed', async () => {
    const deploy = await smlt(['deploy', '--region', s3.region, '--bucket', s3.bucket, '--prefix', PREFIX,
      '--role', 'arn:aws:iam::123456789012:role/smlt-worker', '--s3-endpoint', s3.endpoint, '--lambda-endpoint', lambda.endpoint, '--json']);
    assert.equal(deploy.code, 0, `deploy: ${deploy.stderr.slice(-2000)}`);

    const serve = start(['serve']);
    const url = await new Promise<string>((resolve, reject) => {
      serve.child.stdout!.on('data', (chunk: Buffer) => {
        const match = /smlt serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
        if (match) resolve(match[1]!);
      });
      void serve.done.then((r) => reject(new Error(`serve exited: ${r.stderr}`)));
    });
    const serveToken = (JSON.parse(readFileSync(join(project, 'home', 'serve.json'), 'utf8')) as { token: string }).token;
    secrets.push(['the smlt serve token', serveToken]);
    try {
      lambda.faults.killNext(1, { afterMs: 1_500 });
      const run = await smlt(['train', 'mnist.ipynb', '--backend', 'aws', '--server', url, '--workers', '2', '--epochs', '1', '--batch-size', '256', '--json']);
      assert.equal(run.code, 0, `train: ${run.stderr.slice(-2000)}`);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { status: string; runId: string };
      assert.equal(result.status, 'succeeded');
      assert.ok(run.stdout.includes('"worker_failed"'), 'a worker was killed, so error messages are among the artifacts');
      const list = await smlt(['runs', '--json']);
      assert.equal(list.code, 0, list.stderr);
      const report = await smlt(['report', result.runId, '--html', join(project, 'report.html')]);
      assert.equal(report.code, 0, report.stderr);
    } finally {
      serve.child.kill('SIGINT');
      await serve.done;
    }
  });

  const secrets: Array<[string, string]> = [
    ['the AWS secret access key', S3RVER_CREDENTIALS.secretAccessKey],
    ['the AWS session token', SESSION_TOKEN],
    ['a SigV4 signature', 'X-Amz-Signature'],
    ['a SigV4 credential scope', 'X-Amz-Credential'],
    ['an Authorization header', 'AWS4-HMAC-SHA256'],
    ['a session token header', 'X-Amz-Security-Token'],
  ];

  it('finds no secret in the bucket, the files, the index, the output or the function configuration', async () => {
    const artifacts: Array<[string, string]> = [];
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    try {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
      } while (token);
      assert.ok(keys.some((k) => k.includes('/events/')) && keys.some((k) => k.endsWith('.state')), `the run's objects are there: ${keys.length}`);
      for (const key of keys) {
        const body = await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray();
        artifacts.push([`s3://${s3.bucket}/${key}`, Buffer.from(body).toString('latin1')]);
      }
    } finally {
      client.destroy();
    }
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else artifacts.push([path, readFileSync(path).toString('latin1')]);
      }
    };
    walk(project);
    assert.ok(artifacts.some(([p]) => p.endsWith('report.json')) && artifacts.some(([p]) => p.endsWith('runs.json')), 'the report and index were read');
    assert.ok(artifacts.some(([p]) => p.endsWith('smlt.config.json')), 'the AWS settings file was read');
    for (const o of outputs) artifacts.push([`${o.command} stdout`, o.stdout], [`${o.command} stderr`, o.stderr]);
    for (const f of lambda.functions()) artifacts.push([`function ${f.name} environment`, JSON.stringify(f.environment)]);

    assert.equal(secrets.length, 7, 'the serve token is among the secrets');
    const found: string[] = [];
    for (const [where, text] of artifacts) {
      for (const [what, secret] of secrets) if (text.includes(secret)) found.push(`${what} in ${where}`);
    }
    assert.deepEqual(found, [], `secrets found in ${artifacts.length} artifacts`);
  });

  it('keeps S3 keys inside the store\'s prefix', async () => {
    const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'outside/secret.txt', Body: 'not yours' }));
    client.destroy();
    const store = new S3Store({ bucket: s3.bucket, prefix: `${PREFIX}/runs/one-run`, region: s3.region, endpoint: s3.endpoint });
    try {
      for (const key of ['../../../outside/secret.txt', '../../outside/secret.txt', '..', 'a/../../../../outside/secret.txt', '/outside/secret.txt', '..\\..\\outside']) {
        await assert.rejects(store.get(key), (err) => isSmltError(err, 'STORE_KEY_INVALID'), `get ${key}`);
        await assert.rejects(store.put(key, 'x'), (err) => isSmltError(err, 'STORE_KEY_INVALID'), `put ${key}`);
        await assert.rejects(store.delete([key]), (err) => isSmltError(err, 'STORE_KEY_INVALID'), `delete ${key}`);
      }
      await assert.rejects(store.list('../'), (err) => isSmltError(err, 'STORE_KEY_INVALID'), 'list ../');
      assert.deepEqual(await store.list(''), [], 'a store under a prefix lists nothing outside it');
    } finally {
      store.close();
    }
  });
});
