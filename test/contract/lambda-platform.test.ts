/**
 * Runs the Platform contract against LambdaPlatform: the real @aws-sdk/client-lambda, functions
 * created on demand per memory size in the Lambda emulator, running a scripted Lambda handler.
 * Plus what only Lambda shows: throttling retried with backoff, and the REPORT line's figures.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { AwsSettingsSchema } from '@smlt/shared/backends/aws/config';
import { LambdaPlatform, failureOf, parseReport } from '@smlt/shared/backends/aws/lambda-platform';
import type { WorkerCode } from '@smlt/shared/backends/aws/worker-functions';
import { type LambdaEmulator, startLambdaEmulator } from '../emulators/lambda-emulator.js';
import { SCRIPTED_LAMBDA, platformContract } from './platform.contract.js';

let emulator: LambdaEmulator;
let code: WorkerCode;

before(async () => {
  emulator = await startLambdaEmulator({ memoryPollMs: 20 });
  const zip = zipSync({ 'index.mjs': new Uint8Array(await readFile(SCRIPTED_LAMBDA)) });
  code = { zip, codeSha256: createHash('sha256').update(zip).digest('base64') };
});
after(() => emulator.stop());

function lambdaPlatform(functionPrefix: string, timeoutS: number): LambdaPlatform {
  const settings = AwsSettingsSchema.parse({
    region: 'us-east-1',
    bucket: 'unused-by-these-tests',
    role: 'arn:aws:iam::123456789012:role/smlt-worker',
    functionPrefix,
    timeoutS,
    endpoints: { lambda: emulator.endpoint },
  });
  // Any credentials: the emulator does not check signatures.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  return new LambdaPlatform({ settings, code: async () => code });
}

// Lambda's timeout has whole seconds; the contract's limit is the platform's own.
platformContract('LambdaPlatform (Lambda emulator)', async () => {
  const platform = lambdaPlatform('contract', 2);
  return { platform, dispose: () => platform.close() };
});

describe('LambdaPlatform on the Lambda API', () => {
  it('retries throttled invocations with backoff until they run', async () => {
    const platform = lambdaPlatform('throttled', 10);
    try {
      emulator.faults.throttleNext(3);
      const outcome = await platform.invoke<object, { echo: string }>({ echo: 'through' }, { memoryMb: 256 });
      assert.ok(outcome.ok, 'the invocation ran after the throttling');
      assert.equal(outcome.result.echo, 'through');
      assert.ok(platform.throttled >= 1, `${platform.throttled} throttled answers retried by the platform (the SDK retries some itself)`);
      assert.ok(emulator.invocations().filter((i) => i.outcome === 'throttled').length >= 3, 'three 429s were sent');
    } finally {
      await platform.close();
    }
  });

  it('creates one function per memory size, on first use', async () => {
    const platform = lambdaPlatform('sizes', 10);
    try {
      for (const memoryMb of [256, 512, 256]) assert.ok((await platform.invoke({ echo: 'x' }, { memoryMb })).ok);
      const names = emulator.functions().map((f) => f.name).filter((n) => n.startsWith('sizes-')).sort();
      assert.deepEqual(names, ['sizes-256', 'sizes-512']);
    } finally {
      await platform.close();
    }
  });

  it('reads billed time, peak memory and cold start from the REPORT line', () => {
    const log = Buffer.from('START\nREPORT RequestId: r\tDuration: 101.50 ms\tBilled Duration: 102 ms\tMemory Size: 1769 MB\tMax Memory Used: 301 MB\tInit Duration: 250.10 ms\n').toString('base64');
    assert.deepEqual(parseReport(log), { durationMs: 101.5, billedMs: 102, memoryMb: 1769, maxMemoryMb: 301, initMs: 250.1 });
    assert.equal(parseReport(Buffer.from('no report here').toString('base64')), undefined);
  });

  it("maps Lambda's error payloads to the orchestrator's failure reasons", () => {
    assert.deepEqual(failureOf('{"errorType":"SmltError.SYNC_TIMEOUT","errorMessage":"waited"}', undefined), { reason: 'error', message: 'waited', code: 'SYNC_TIMEOUT' });
    assert.equal(failureOf('{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 3.00 seconds"}', undefined).reason, 'timeout');
    assert.equal(failureOf('{"errorType":"Runtime.ExitError","errorMessage":"exit status 3"}', undefined).reason, 'crashed');
    assert.equal(failureOf('{"errorType":"TypeError","errorMessage":"x is undefined"}', undefined).reason, 'error');
  });
});
