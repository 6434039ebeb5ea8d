/**
 * `smlt deploy` and `smlt destroy`: set up (and tear down) what training on Lambda needs — the
 * bucket, the worker functions — and check with dry runs that the caller's credentials can do
 * what a run will do, before any run starts.
 */
import {
  CreateBucketCommand,
  HeadBucketCommand,
  PutBucketLifecycleConfigurationCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../../errors.js';
import type { StoreLocation } from '../ports.js';
import type { AwsSettings } from './config.js';
import { lambdaClient } from './lambda-platform.js';
import { S3Store, s3Client } from './s3-store.js';
import { type FunctionChange, type WorkerCode, WorkerFunctions, aws, awsError, loadWorkerBundle } from './worker-functions.js';

/** 1,769 MB is one full vCPU: the size most runs start with. */
export const DEFAULT_DEPLOY_MEMORY_MB = [1769];

export interface DeployOptions {
  settings: AwsSettings;
  /** Memory sizes to create now; others are created when the scheduler first asks for them. */
  memoryMb?: readonly number[];
  /** Invoke one function with a probe event to check it starts (one billed invocation). */
  probe?: boolean;
  code?: () => Promise<WorkerCode>;
  lambda?: LambdaClient;
  s3?: S3Client;
  /** One line per step, for the CLI's progress. */
  onStep?: (line: string) => void;
}

export interface DeployCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DeployReport {
  bundle: { zipBytes: number; codeSha256: string };
  bucket: 'created' | 'exists';
  lifecycle: 'set' | 'not supported';
  functions: FunctionChange[];
  checks: DeployCheck[];
}

export async function deploy(options: DeployOptions): Promise<DeployReport> {
  const { settings } = options;
  const step = options.onStep ?? (() => {});
  const s3 = options.s3 ?? s3Client({ region: settings.region, endpoint: settings.endpoints?.s3 });
  const lambda = options.lambda ?? lambdaClient(settings);
  try {
    const loadCode = options.code ?? loadWorkerBundle;
    const code = await loadCode();
    step(`worker bundle: ${(code.zip.byteLength / 1e6).toFixed(2)} MB zipped`);

    const bucket = await ensureBucket(s3, settings);
    step(`bucket s3://${settings.bucket}: ${bucket}`);
    const lifecycle = await setLifecycle(s3, settings);
    step(`lifecycle rule on ${settings.prefix}/: ${lifecycle}`);

    const functions = new WorkerFunctions(lambda, settings, async () => code);
    const sizes = new Set([...(options.memoryMb ?? DEFAULT_DEPLOY_MEMORY_MB), ...(await functions.list()).map((fn) => fn.memoryMb)]);
    const changes: FunctionChange[] = [];
    for (const memoryMb of [...sizes].sort((a, b) => a - b)) {
      const change = await functions.deploy(memoryMb);
      changes.push(change);
      step(`function ${change.name} (${memoryMb} MB): ${change.action}`);
    }

    const checks = [await checkStore(settings), ...(await Promise.all(changes.map((c) => checkInvoke(lambda, c.name))))];
    if (options.probe !== false && changes[0]) checks.push(...(await probe(lambda, changes[0].name, settings)));
    for (const check of checks) step(`${check.ok ? 'ok' : 'FAILED'}: ${check.name} — ${check.detail}`);
    return { bundle: { zipBytes: code.zip.byteLength, codeSha256: code.codeSha256 }, bucket, lifecycle, functions: changes, checks };
  } finally {
    if (!options.s3) s3.destroy();
    if (!options.lambda) lambda.destroy();
  }
}

export interface DestroyReport {
  functions: string[];
  /** Objects deleted under the prefix (only with `deleteData`). */
  objectsDeleted: number;
}

/** Deletes the worker functions and, with `deleteData`, every object under the project's prefix. */
export async function destroy(settings: AwsSettings, options: { deleteData?: boolean; lambda?: LambdaClient } = {}): Promise<DestroyReport> {
  const lambda = options.lambda ?? lambdaClient(settings);
  try {
    const functions = await new WorkerFunctions(lambda, settings).destroy();
    let objectsDeleted = 0;
    if (options.deleteData) {
      const store = new S3Store({ bucket: settings.bucket, prefix: settings.prefix, region: settings.region, endpoint: settings.endpoints?.s3 });
      try {
        const keys = await store.list('');
        await store.delete(keys);
        objectsDeleted = keys.length;
      } finally {
        store.close();
      }
    }
    return { functions, objectsDeleted };
  } finally {
    if (!options.lambda) lambda.destroy();
  }
}

async function ensureBucket(s3: S3Client, settings: AwsSettings): Promise<'created' | 'exists'> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: settings.bucket }));
    return 'exists';
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) {
      throw awsError(`use bucket ${settings.bucket} (it may belong to another account)`, err);
    }
  }
  await aws(`create bucket ${settings.bucket}`, () =>
    s3.send(
      new CreateBucketCommand({
        Bucket: settings.bucket,
        // us-east-1 is the default location and must not be named.
        ...(settings.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: settings.region as BucketLocationConstraint } }),
      }),
    ),
  );
  return 'created';
}

/**
 * Aborts multipart uploads left behind by a killed worker after a day. Run data itself is kept:
 * a run's checkpoints and report are the user's; `smlt destroy --data` deletes them.
 */
async function setLifecycle(s3: S3Client, settings: AwsSettings): Promise<'set' | 'not supported'> {
  try {
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: settings.bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: `smlt-${settings.prefix.replace(/[^A-Za-z0-9-]/g, '-')}-abort-uploads`,
              Status: 'Enabled',
              Filter: { Prefix: `${settings.prefix}/` },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            },
          ],
        },
      }),
    );
    return 'set';
  } catch (err) {
    // S3-compatible stores (and emulators) may not implement lifecycle rules; nothing depends on it.
    if ((err as { name?: string }).name === 'NotImplemented') return 'not supported';
    throw awsError(`set the lifecycle rule on ${settings.bucket}`, err);
  }
}

/** Writes, reads, lists and deletes a probe object under the prefix, as a run will. */
async function checkStore(settings: AwsSettings): Promise<DeployCheck> {
  const store = new S3Store({ bucket: settings.bucket, prefix: settings.prefix, region: settings.region, endpoint: settings.endpoints?.s3 });
  const key = `deploy-check/${randomUUID()}`;
  try {
    await store.put(key, 'smlt deploy check');
    const back = await store.get(key);
    const listed = await store.list('deploy-check/');
    await store.delete([key]);
    const ok = back !== undefined && listed.includes(key);
    return { name: `read/write s3://${settings.bucket}/${settings.prefix}/`, ok, detail: ok ? 'put, get, list and delete work' : 'the object did not read back' };
  } catch (err) {
    return { name: `read/write s3://${settings.bucket}/${settings.prefix}/`, ok: false, detail: errorMessage(err) };
  } finally {
    store.close();
  }
}

/** A DryRun invoke: checks the caller may invoke the function, without running it. */
async function checkInvoke(lambda: LambdaClient, name: string): Promise<DeployCheck> {
  try {
    const answer = await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'DryRun' }));
    return { name: `invoke ${name} (dry run)`, ok: answer.StatusCode === 204, detail: `status ${answer.StatusCode}` };
  } catch (err) {
    return { name: `invoke ${name} (dry run)`, ok: false, detail: errorMessage(err) };
  }
}

/**
 * Runs the worker's probe event: the function starts, finds its wasm backend, has its role's
 * credentials, and — from inside, where it matters — reaches the run store (S3; from a VPC only
 * through an S3 gateway endpoint or a NAT) and the Redis channel, if one is configured.
 */
async function probe(lambda: LambdaClient, name: string, settings: AwsSettings): Promise<DeployCheck[]> {
  const reach: StoreLocation[] = [
    { kind: 's3', root: settings.bucket, prefix: settings.prefix, region: settings.region, ...(settings.endpoints?.s3 ? { endpoint: settings.endpoints.s3 } : {}) },
    ...(settings.channel ? [{ kind: 'redis' as const, root: settings.channel.url, prefix: settings.prefix }] : []),
  ];
  try {
    const started = performance.now();
    const answer = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ smltProbe: 1, reach })) }));
    const body = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
    if (answer.FunctionError) return [{ name: `probe ${name}`, ok: false, detail: body }];
    const result = JSON.parse(body) as {
      backend?: string; node?: string; arch?: string; coldStart?: boolean; hasCredentials?: boolean;
      reached?: Array<{ url: string; result: string }>;
    };
    const ms = Math.round(performance.now() - started);
    const checks: DeployCheck[] = [
      {
        name: `probe ${name}`,
        ok: Boolean(result.backend) && result.hasCredentials !== false,
        detail: `${result.backend} backend on Node ${result.node} ${result.arch}, ${result.coldStart ? 'cold' : 'warm'} start, ${ms} ms${result.hasCredentials === false ? '; the function has no role credentials' : ''}`,
      },
    ];
    for (const reached of result.reached ?? []) {
      const inVpc = settings.channel ? ' (from the VPC: S3 needs a gateway endpoint or a NAT; Redis needs the security group to allow 6379)' : '';
      checks.push({ name: `${name} reaches ${reached.url}`, ok: reached.result === 'ok', detail: reached.result === 'ok' ? 'write, read and delete from inside the function' : `${reached.result}${inVpc}` });
    }
    return checks;
  } catch (err) {
    return [{ name: `probe ${name}`, ok: false, detail: errorMessage(err) }];
  }
}
