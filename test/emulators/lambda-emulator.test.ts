/**
 * The Lambda emulator, driven only through the real `@aws-sdk/client-lambda` client: functions
 * created from the real worker bundle and from a small probe handler, updated, invoked (the
 * real handler on real worker events), every fault, and the errors Lambda answers with.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ListFunctionsCommand,
  PutFunctionConcurrencyCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { type WorkerBundle, workerBundle, zipFiles } from '@smlt/lambda-worker/bundle';
import { type LambdaEmulator, startLambdaEmulator } from './lambda-emulator.js';

const ROLE = 'arn:aws:iam::123456789012:role/smlt-worker';
const FUNCTION_CREDENTIALS = { accessKeyId: 'AKIDEMULATED', secretAccessKey: 'emulated-secret' };

/** A handler that does what its event asks, to exercise each limit and fault. */
const PROBE_HANDLER = `
let invocations = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export async function handler(event, context) {
  invocations++;
  if (event.sleepMs) await sleep(event.sleepMs);
  if (event.allocateMb) {
    const blocks = [];
    for (let i = 0; i < event.allocateMb; i++) blocks.push(Buffer.alloc(1024 * 1024, 1));
    await sleep(2000);
    globalThis.keep = blocks;
  }
  if (event.exit) process.exit(event.exit);
  if (event.throw) {
    const err = new Error(event.throw);
    err.name = 'ProbeError';
    throw err;
  }
  return {
    echo: event.echo, version: VERSION, pid: process.pid, invocations, cwd: process.cwd(),
    remainingMs: context.getRemainingTimeInMillis(), requestId: context.awsRequestId,
    memoryLimitInMB: context.memoryLimitInMB, functionName: context.functionName,
    setting: process.env.SETTING, region: process.env.AWS_REGION,
    memoryEnv: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    credentials: process.env.AWS_ACCESS_KEY_ID === '${FUNCTION_CREDENTIALS.accessKeyId}' && Boolean(process.env.AWS_SECRET_ACCESS_KEY),
    hostOnly: process.env.SMLT_EMULATOR_TEST_HOST_ONLY,
  };
}`;
const probeZip = (version: number) => zipFiles({ 'index.mjs': `const VERSION = ${version};\n${PROBE_HANDLER}` });

interface Probe {
  echo?: string;
  version: number;
  pid: number;
  invocations: number;
  cwd: string;
  remainingMs: number;
  requestId: string;
  memoryLimitInMB: string;
  functionName: string;
  setting?: string;
  region: string;
  memoryEnv: string;
  credentials: boolean;
  hostOnly?: string;
}

function json<T>(out: InvokeCommandOutput): T {
  return JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as T;
}

/** Resolves to the error the SDK threw (fails when the call succeeds). */
type SdkError = Error & { $metadata: { httpStatusCode?: number }; [field: string]: unknown };

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (err) {
    return err as SdkError;
  }
  assert.fail('expected the call to fail');
}

describe('Lambda emulator through @aws-sdk/client-lambda', () => {
  let emulator: LambdaEmulator;
  let lambda: LambdaClient;
  /** One attempt only: the SDK retries throttles and 5xx on its own, which would hide a fault. */
  let once: LambdaClient;
  let bundle: WorkerBundle;
  const waiter = () => ({ client: lambda, maxWaitTime: 60, minDelay: 1, maxDelay: 2 });

  async function createProbe(name: string, extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {}): Promise<void> {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: probeZip(1) },
        MemorySize: 256,
        Timeout: 30,
        ...extra,
      }),
    );
    await waitUntilFunctionActiveV2(waiter(), { FunctionName: name });
  }

  before(async () => {
    bundle = await workerBundle();
    process.env.SMLT_EMULATOR_TEST_HOST_ONLY = 'leaked';
    // Creates and updates settle after 1.5 s: long enough for the next call to see them Pending /
    // InProgress on a loaded machine, short enough for the waiters.
    emulator = await startLambdaEmulator({ functionCredentials: FUNCTION_CREDENTIALS, settleMs: 1500, memoryPollMs: 20 });
    const config = {
      endpoint: emulator.endpoint,
      region: emulator.region,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
    };
    lambda = new LambdaClient(config);
    once = new LambdaClient({ ...config, maxAttempts: 1 });
  });

  after(async () => {
    delete process.env.SMLT_EMULATOR_TEST_HOST_ONLY;
    lambda?.destroy();
    once?.destroy();
    await emulator?.stop();
  });

  it('creates a function from the real worker bundle, Pending until Active, and runs it cold then warm', async () => {
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'smlt-worker-512',
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: ROLE,
        Code: { ZipFile: bundle.zip },
        MemorySize: 512,
        Timeout: 60,
        Architectures: ['arm64'],
        Environment: { Variables: { SMLT_LOG: 'info' } },
      }),
    );
    assert.equal(created.State, 'Pending');
    assert.equal(created.CodeSha256, bundle.codeSha256);
    assert.equal(created.FunctionArn, 'arn:aws:lambda:us-east-1:123456789012:function:smlt-worker-512');
    const early = await rejection(once.send(new InvokeCommand({ FunctionName: 'smlt-worker-512', Payload: JSON.stringify({ smltProbe: 1 }) })));
    assert.equal(early.name, 'ResourceConflictException');
    assert.match(early.message, /state: Pending/);

    await waitUntilFunctionActiveV2(waiter(), { FunctionName: 'smlt-worker-512' });
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'smlt-worker-512' }));
    assert.equal(got.Configuration?.State, 'Active');
    assert.equal(got.Configuration?.LastUpdateStatus, 'Successful');
    assert.deepEqual(got.Configuration?.Architectures, ['arm64']);
    assert.deepEqual(got.Configuration?.Environment?.Variables, { SMLT_LOG: 'info' });
    const download = new Uint8Array(await (await fetch(got.Code?.Location ?? '')).arrayBuffer());
    assert.deepEqual(download, bundle.zip);

    const cold = await lambda.send(
      new InvokeCommand({ FunctionName: 'smlt-worker-512', Payload: JSON.stringify({ smltProbe: 1 }), LogType: 'Tail' }),
    );
    assert.equal(cold.StatusCode, 200);
    assert.equal(cold.ExecutedVersion, '$LATEST');
    assert.equal(cold.FunctionError, undefined);
    const probe = json<{ backend: string; coldStart: boolean; memoryLimitInMB: string; functionName: string; hasCredentials: boolean; region: string }>(cold);
    assert.equal(probe.backend, 'wasm');
    assert.equal(probe.coldStart, true);
    assert.equal(probe.memoryLimitInMB, '512');
    assert.equal(probe.functionName, 'smlt-worker-512');
    assert.equal(probe.hasCredentials, true);
    assert.equal(probe.region, 'us-east-1');
    assert.match(Buffer.from(cold.LogResult ?? '', 'base64').toString(), /REPORT RequestId: .*Memory Size: 512 MB.*Init Duration: [\d.]+ ms/);

    const warm = await lambda.send(new InvokeCommand({ FunctionName: got.Configuration?.FunctionArn, Payload: JSON.stringify({ smltProbe: 1 }) }));
    assert.equal(json<{ coldStart: boolean }>(warm).coldStart, false);
    const records = emulator.invocations().filter((r) => r.functionName === 'smlt-worker-512' && r.outcome === 'success');
    assert.deepEqual(records.map((r) => r.coldStart), [true, false]);
    assert.ok(records[0].initMs > 0);
    assert.ok(records.every((r) => r.durationMs >= 0 && r.memoryMb === 512));
  });

  it('gives an SmltError thrown by the real handler back as errorType SmltError.<CODE>', async () => {
    const event = {
      v: 1,
      runId: 'missing-run',
      store: { kind: 'folder', root: '/nonexistent/smlt-store' },
      specKey: 'runs/missing-run/spec.json',
      specHash: 'x',
      partitionKey: 'artifacts/data/x/p0',
      epoch: 1, rank: 0, workers: 1, fromIteration: 0, iterations: 1, perWorkerBatch: 1,
      startStateKey: 'runs/missing-run/state', sync: 'hierarchical', syncTimeoutMs: 1000, attempt: 0, safetyMarginMs: 0,
    };
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'smlt-worker-512', Payload: JSON.stringify(event) }));
    assert.equal(out.StatusCode, 200);
    assert.equal(out.FunctionError, 'Unhandled');
    const error = json<{ errorType: string; errorMessage: string; trace: string[] }>(out);
    assert.equal(error.errorType, 'SmltError.RUN_FAILED');
    assert.match(error.errorMessage, /job spec runs\/missing-run\/spec\.json is missing/);
    assert.ok(Array.isArray(error.trace) && error.trace.length > 0);

    const bad = await lambda.send(new InvokeCommand({ FunctionName: 'smlt-worker-512', Payload: JSON.stringify({ hello: 1 }) }));
    assert.equal(bad.FunctionError, 'Unhandled');
    assert.match(json<{ errorMessage: string }>(bad).errorMessage, /neither an SMLT worker event/);
  });

  it("gives a function its own environment, Lambda's variables and the role's credentials, not the host's", async () => {
    await createProbe('probe-env', { Environment: { Variables: { SETTING: 'one' } }, MemorySize: 300 });
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'probe-env', Payload: JSON.stringify({ echo: 'hi' }) }));
    const probe = json<Probe>(out);
    assert.equal(probe.echo, 'hi');
    assert.equal(probe.setting, 'one');
    assert.equal(probe.region, 'us-east-1');
    assert.equal(probe.memoryEnv, '300');
    assert.equal(probe.memoryLimitInMB, '300');
    assert.equal(probe.functionName, 'probe-env');
    assert.equal(probe.credentials, true);
    assert.equal(probe.hostOnly, undefined);
    assert.match(probe.cwd, /task$/);
    assert.ok(probe.remainingMs > 0 && probe.remainingMs <= 30_000);
    assert.equal(out.$metadata.requestId, probe.requestId);
  });

  it('updates configuration then code (409 while an update is in progress), and new code runs in a new container', async () => {
    const before1 = json<Probe>(await lambda.send(new InvokeCommand({ FunctionName: 'probe-env', Payload: '{}' })));
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: 'probe-env', MemorySize: 400, Timeout: 20, Environment: { Variables: { SETTING: 'two' } } }),
    );
    assert.equal(updated.LastUpdateStatus, 'InProgress');
    const conflict = await rejection(once.send(new UpdateFunctionCodeCommand({ FunctionName: 'probe-env', ZipFile: probeZip(2) })));
    assert.equal(conflict.name, 'ResourceConflictException');
    assert.equal(conflict.$metadata.httpStatusCode, 409);
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: 'probe-env' });

    const code = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'probe-env', ZipFile: probeZip(2) }));
    assert.notEqual(code.CodeSha256, updated.CodeSha256);
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: 'probe-env' });
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'probe-env' }));
    assert.equal(config.MemorySize, 400);
    assert.equal(config.Timeout, 20);
    assert.equal(config.CodeSha256, code.CodeSha256);
    assert.equal(config.LastUpdateStatus, 'Successful');

    const after1 = json<Probe>(await lambda.send(new InvokeCommand({ FunctionName: 'probe-env', Payload: '{}' })));
    assert.equal(before1.version, 1);
    assert.equal(after1.version, 2);
    assert.equal(after1.setting, 'two');
    assert.equal(after1.memoryLimitInMB, '400');
    assert.notEqual(after1.pid, before1.pid);
    assert.equal(after1.invocations, 1);

    const stale = await rejection(
      once.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'probe-env', Timeout: 25, RevisionId: updated.RevisionId })),
    );
    assert.equal(stale.name, 'PreconditionFailedException');
  });

  it('answers a handler error, a timeout and an out-of-memory kill as Lambda does', async () => {
    await createProbe('probe-limits', { MemorySize: 128, Timeout: 2 });
    const thrown = await lambda.send(new InvokeCommand({ FunctionName: 'probe-limits', Payload: JSON.stringify({ throw: 'shard missing' }) }));
    assert.equal(thrown.FunctionError, 'Unhandled');
    const error = json<{ errorType: string; errorMessage: string; trace: string[] }>(thrown);
    assert.equal(error.errorType, 'ProbeError');
    assert.equal(error.errorMessage, 'shard missing');
    assert.match(error.trace[0], /ProbeError: shard missing/);

    const slow = await lambda.send(new InvokeCommand({ FunctionName: 'probe-limits', Payload: JSON.stringify({ sleepMs: 10_000 }) }));
    assert.equal(slow.FunctionError, 'Unhandled');
    const timedOut = json<{ errorType: string; errorMessage: string }>(slow);
    assert.equal(timedOut.errorType, 'Sandbox.Timedout');
    assert.match(timedOut.errorMessage, /^RequestId: \S+ Error: Task timed out after \d+\.\d\d seconds$/);

    const big = await lambda.send(new InvokeCommand({ FunctionName: 'probe-limits', Payload: JSON.stringify({ allocateMb: 300 }) }));
    assert.equal(big.FunctionError, 'Unhandled');
    const oom = json<{ errorType: string; errorMessage: string }>(big);
    assert.equal(oom.errorType, 'Runtime.OutOfMemory');
    assert.match(oom.errorMessage, /Runtime exited with error: signal: killed/);

    const exited = await lambda.send(new InvokeCommand({ FunctionName: 'probe-limits', Payload: JSON.stringify({ exit: 3 }) }));
    assert.equal(json<{ errorType: string; errorMessage: string }>(exited).errorType, 'Runtime.ExitError');
    assert.match(json<{ errorMessage: string }>(exited).errorMessage, /exit status 3/);

    const outcomes = emulator.invocations().filter((r) => r.functionName === 'probe-limits').map((r) => r.outcome);
    assert.deepEqual(outcomes, ['error', 'timeout', 'out-of-memory', 'crashed']);
    const again = await lambda.send(new InvokeCommand({ FunctionName: 'probe-limits', Payload: JSON.stringify({ echo: 'alive' }) }));
    assert.equal(json<Probe>(again).echo, 'alive');
  });

  it('kills the next invocations mid-run, then runs the next one in a fresh container', async () => {
    await createProbe('probe-faults');
    const warm = json<Probe>(await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' })));
    emulator.faults.killNext(1, { afterMs: 300, functionName: 'probe-faults' });
    const killed = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: JSON.stringify({ sleepMs: 20_000 }) }));
    assert.equal(killed.FunctionError, 'Unhandled');
    assert.equal(json<{ errorType: string }>(killed).errorType, 'Runtime.ExitError');
    const next = json<Probe>(await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' })));
    assert.notEqual(next.pid, warm.pid);
    const records = emulator.invocations().filter((r) => r.functionName === 'probe-faults');
    assert.deepEqual(records.map((r) => [r.outcome, r.coldStart]), [['success', true], ['killed', false], ['success', true]]);
    assert.ok(records[1].durationMs > 0);
  });

  it('makes the next invocations return a handler error', async () => {
    emulator.faults.failNext(2, { functionName: 'probe-faults', errorType: 'Injected', errorMessage: 'boom' });
    for (let i = 0; i < 2; i++) {
      const out = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' }));
      assert.equal(out.FunctionError, 'Unhandled');
      assert.deepEqual(json(out), { errorType: 'Injected', errorMessage: 'boom', trace: [] });
    }
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: JSON.stringify({ echo: 'ok' }) }));
    assert.equal(json<Probe>(ok).echo, 'ok');
  });

  it('throttles with 429 TooManyRequestsException, which the SDK retries on its own', async () => {
    emulator.faults.throttleNext(1, { functionName: 'probe-faults' });
    const throttled = await rejection(once.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' })));
    assert.equal(throttled.name, 'TooManyRequestsException');
    assert.equal(throttled.$metadata.httpStatusCode, 429);
    assert.equal(throttled.Reason, 'CallerRateLimitExceeded');
    assert.equal(throttled.retryAfterSeconds, '1');

    emulator.faults.throttleNext(1, { functionName: 'probe-faults' });
    const retried = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: JSON.stringify({ echo: 'retried' }) }));
    assert.equal(json<Probe>(retried).echo, 'retried');
    assert.equal(retried.$metadata.attempts, 2);
  });

  it('refuses invocations beyond the concurrency cap and the reserved concurrency', async () => {
    emulator.faults.setConcurrencyLimit(1);
    try {
      const long = lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: JSON.stringify({ sleepMs: 3000 }) }));
      const running = () => emulator.functions().find((f) => f.name === 'probe-faults')?.inflight === 1;
      for (let i = 0; i < 600 && !running(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(running());
      const refused = await rejection(once.send(new InvokeCommand({ FunctionName: 'probe-env', Payload: '{}' })));
      assert.equal(refused.name, 'TooManyRequestsException');
      assert.equal(refused.Reason, 'ConcurrentInvocationLimitExceeded');
      assert.equal((await long).FunctionError, undefined);
    } finally {
      emulator.faults.setConcurrencyLimit(undefined);
    }
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'probe-faults', ReservedConcurrentExecutions: 0 }));
    const reserved = await rejection(once.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' })));
    assert.equal(reserved.Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
    assert.equal(emulator.functions().find((f) => f.name === 'probe-faults')?.reservedConcurrency, 0);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'probe-faults' }));
    assert.equal((await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: '{}' }))).StatusCode, 200);
  });

  it('answers DryRun with 204, Event with 202 (run in the background), an unknown function with 404', async () => {
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', InvocationType: 'DryRun' }));
    assert.equal(dry.StatusCode, 204);
    const before1 = emulator.invocations().length;
    const event = await lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', InvocationType: 'Event', Payload: JSON.stringify({ echo: 'async' }) }));
    assert.equal(event.StatusCode, 202);
    for (let i = 0; i < 600 && emulator.invocations().length === before1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(emulator.invocations().at(-1)?.invocationType, 'Event');
    assert.equal(emulator.invocations().at(-1)?.outcome, 'success');

    const missing = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function', Payload: '{}' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.$metadata.httpStatusCode, 404);
    assert.match(missing.message, /Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function/);
    const missingDry = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'no-such-function', InvocationType: 'DryRun' })));
    assert.equal(missingDry.name, 'ResourceNotFoundException');
    const notJson = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'probe-faults', Payload: 'not json' })));
    assert.equal(notJson.name, 'InvalidRequestContentException');
  });

  it('rejects bad CreateFunction input naming the field, as Lambda does', async () => {
    const base = { FunctionName: 'bad', Runtime: 'nodejs20.x' as const, Handler: 'index.handler', Role: ROLE, Code: { ZipFile: probeZip(1) } };
    const memory = await rejection(once.send(new CreateFunctionCommand({ ...base, MemorySize: 64 })));
    assert.equal(memory.name, 'ValidationException');
    assert.match(memory.message, /'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128/);
    const timeout = await rejection(once.send(new CreateFunctionCommand({ ...base, Timeout: 901 })));
    assert.match(timeout.message, /'timeout'.*less than or equal to 900/);
    const role = await rejection(once.send(new CreateFunctionCommand({ ...base, Role: 'admin' })));
    assert.match(role.message, /'role'/);
    const reserved = await rejection(once.send(new CreateFunctionCommand({ ...base, Environment: { Variables: { AWS_REGION: 'x' } } })));
    assert.equal(reserved.name, 'InvalidParameterValueException');
    assert.match(reserved.message, /reserved keys.*AWS_REGION/);
    const zip = await rejection(once.send(new CreateFunctionCommand({ ...base, Code: { ZipFile: new TextEncoder().encode('not a zip') } })));
    assert.equal(zip.name, 'InvalidParameterValueException');
    assert.match(zip.message, /Could not unzip/);
    const python = await rejection(once.send(new CreateFunctionCommand({ ...base, Runtime: 'python3.12' })));
    assert.match(python.message, /Node\.js functions only/);
    const twice = await rejection(once.send(new CreateFunctionCommand({ ...base, FunctionName: 'probe-faults' })));
    assert.equal(twice.name, 'ResourceConflictException');
    assert.equal(emulator.functions().some((f) => f.name === 'bad'), false);
  });

  it('imports a broken handler as Lambda reports it', async () => {
    await lambda.send(
      new CreateFunctionCommand({ FunctionName: 'probe-broken', Runtime: 'nodejs22.x', Handler: 'index.missing', Role: ROLE, Code: { ZipFile: probeZip(1) } }),
    );
    await waitUntilFunctionActiveV2(waiter(), { FunctionName: 'probe-broken' });
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'probe-broken', Payload: '{}' }));
    assert.equal(out.FunctionError, 'Unhandled');
    assert.equal(json<{ errorType: string }>(out).errorType, 'Runtime.HandlerNotFound');
  });

  it('lists and deletes functions; a deleted function is not found', async () => {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 2, Marker: marker }));
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName ?? ''));
      marker = page.NextMarker;
    } while (marker);
    assert.deepEqual(names, ['probe-broken', 'probe-env', 'probe-faults', 'probe-limits', 'smlt-worker-512']);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'probe-broken' }));
    const gone = await rejection(lambda.send(new GetFunctionCommand({ FunctionName: 'probe-broken' })));
    assert.equal(gone.name, 'ResourceNotFoundException');
    assert.equal(emulator.functions().length, 4);
  });
});
