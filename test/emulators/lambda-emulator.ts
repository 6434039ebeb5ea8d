/**
 * A Lambda emulator for tests: a node:http server on 127.0.0.1 that speaks the Lambda REST API
 * as `@aws-sdk/client-lambda` sends it (point the client's `endpoint` at it, any credentials):
 * Invoke (RequestResponse, Event, DryRun) and the control plane `smlt deploy` uses —
 * CreateFunction, GetFunction, GetFunctionConfiguration, UpdateFunctionCode,
 * UpdateFunctionConfiguration, DeleteFunction, ListFunctions, Put/Get/DeleteFunctionConcurrency.
 * Zips are really unpacked and their handler runs in child processes (LocalPlatform containers)
 * with the function's memory size (resident memory watched, killed over it) and timeout, warm
 * containers reused per function. Faults: kill the next invocations mid-run, make them fail,
 * throttle them, cap concurrency. Every invocation is recorded with its cold start and duration.
 *
 * Not emulated: versions and aliases ($LATEST only; Publish is refused), code from S3 or images,
 * layers, retries of failed async invocations, the function's own log lines in `LogType: Tail`
 * (only the START/END/REPORT lines), signature checks (any SigV4-signed request is accepted).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvokeOutcome } from '@smlt/shared/backends/ports';
import { type EmulatedFunction, type FunctionConfiguration, FunctionRegistry, LambdaApiError } from './lambda-functions.js';

export interface LambdaEmulatorOptions {
  /** Default us-east-1. */
  region?: string;
  /** Default 123456789012. */
  accountId?: string;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
  /**
   * Credentials put in every function's environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
   * AWS_SESSION_TOKEN), as Lambda gives a function its execution role's: what the worker's SDK
   * clients (e.g. S3 against an emulator) pick up through the default chain.
   */
  functionCredentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How long a new function stays Pending and an update InProgress; default 200 ms. */
  settleMs?: number;
  /** Account concurrency (Lambda's default quota is 1,000): invocations beyond it get 429. */
  concurrencyLimit?: number;
  /** How long an idle container stays warm; default 5 min. */
  idleTimeoutMs?: number;
  /** How often a container's resident memory is sampled; default 50 ms. */
  memoryPollMs?: number;
}

export interface LambdaEmulator {
  /** `http://127.0.0.1:<port>`: the Lambda client's `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  readonly faults: LambdaFaults;
  /** The functions that exist now. */
  functions(): FunctionInfo[];
  /** Every invocation that reached a function (throttled ones included), oldest first. */
  invocations(): InvocationRecord[];
  /** Stops the server, every container, and removes the unpacked code. */
  stop(): Promise<void>;
}

export interface FaultOptions {
  /** Only invocations of this function; default any. */
  functionName?: string;
}

export interface LambdaFaults {
  /**
   * Kills the next `count` invocations `afterMs` (default 100) after they arrive, or as soon
   * after as they run in a container (a cold start's init counts), as a crashed sandbox:
   * Runtime.ExitError. One that ends sooner is not killed (its record says how it ended).
   */
  killNext(count: number, options?: FaultOptions & { afterMs?: number }): void;
  /** The next `count` invocations return a handler error without running the handler. */
  failNext(count: number, options?: FaultOptions & { errorType?: string; errorMessage?: string }): void;
  /** The next `count` invocations are refused with 429 TooManyRequestsException. */
  throttleNext(count: number, options?: FaultOptions): void;
  /** Account concurrency: invocations beyond it get 429, as over Lambda's quota (undefined: the option's, else 1,000). */
  setConcurrencyLimit(limit: number | undefined): void;
  /** Removes every pending fault and the concurrency cap. */
  clear(): void;
}

export interface FunctionInfo {
  name: string;
  arn: string;
  state: FunctionConfiguration['State'];
  lastUpdateStatus?: FunctionConfiguration['LastUpdateStatus'];
  memoryMb: number;
  timeoutS: number;
  codeSha256: string;
  architecture: string;
  /** Containers alive for its current code and configuration (busy or warm). */
  containers: number;
  inflight: number;
  reservedConcurrency?: number;
  environment: Record<string, string>;
}

export type InvocationOutcome =
  | 'success'
  | 'error'
  | 'injected-error'
  | 'timeout'
  | 'out-of-memory'
  | 'killed'
  | 'crashed'
  | 'throttled';

export interface InvocationRecord {
  requestId: string;
  functionName: string;
  invocationType: 'RequestResponse' | 'Event';
  /** HTTP status of the Invoke response. */
  status: number;
  outcome: InvocationOutcome;
  /** Lambda's errorType for a function error (e.g. `Sandbox.Timedout`, `SmltError.SYNC_TIMEOUT`). */
  errorType?: string;
  /** A new container (execution environment) was started for it. */
  coldStart: boolean;
  /** Container start + handler module import (Lambda's Init Duration), 0 when warm. */
  initMs: number;
  /** Handler run time (Lambda's Duration). */
  durationMs: number;
  memoryMb: number;
  peakMemoryMb?: number;
  startedAt: number;
}

/** Lambda's payload limits: 6 MB synchronous, 1 MB asynchronous (2025 quota; 256 KB before). */
const SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
const ASYNC_PAYLOAD_BYTES = 1024 * 1024;
/** CreateFunction's request limit with the zip inline, base64 (Lambda: 50 MB zipped). */
const MAX_REQUEST_BYTES = 70 * 1024 * 1024;
const DEFAULT_ACCOUNT_CONCURRENCY = 1000;

interface PendingFault {
  remaining: number;
  functionName?: string;
}

export async function startLambdaEmulator(options: LambdaEmulatorOptions = {}): Promise<LambdaEmulator> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '123456789012';
  const root = await mkdtemp(join(tmpdir(), 'smlt-lambda-emulator-'));
  const registry = new FunctionRegistry({
    region,
    accountId,
    root,
    credentials: options.functionCredentials,
    settleMs: options.settleMs ?? 200,
    idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
    memoryPollMs: options.memoryPollMs ?? 50,
  });
  const records: InvocationRecord[] = [];
  const kills: (PendingFault & { afterMs: number })[] = [];
  const failures: (PendingFault & { errorType: string; errorMessage: string })[] = [];
  const throttles: PendingFault[] = [];
  let concurrencyLimit = options.concurrencyLimit;
  let inflight = 0;
  const background = new Set<Promise<unknown>>();

  const faults: LambdaFaults = {
    killNext: (count, o = {}) => kills.push({ remaining: count, functionName: o.functionName, afterMs: o.afterMs ?? 100 }),
    failNext: (count, o = {}) =>
      failures.push({
        remaining: count,
        functionName: o.functionName,
        errorType: o.errorType ?? 'Error',
        errorMessage: o.errorMessage ?? 'Injected fault: the handler failed.',
      }),
    throttleNext: (count, o = {}) => throttles.push({ remaining: count, functionName: o.functionName }),
    setConcurrencyLimit: (limit) => {
      concurrencyLimit = limit;
    },
    clear: () => {
      kills.length = 0;
      failures.length = 0;
      throttles.length = 0;
      concurrencyLimit = options.concurrencyLimit;
    },
  };

  /** Takes one pending fault that applies to `name`, if any. */
  function take<F extends PendingFault>(list: F[], name: string): F | undefined {
    const fault = list.find((f) => f.remaining > 0 && (f.functionName === undefined || f.functionName === name));
    if (!fault) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) list.splice(list.indexOf(fault), 1);
    return fault;
  }

  async function invoke(req: IncomingMessage, res: ServerResponse, name: string, qualifier: string | undefined): Promise<void> {
    const fn = registry.get(name);
    if (qualifier !== undefined && qualifier !== '$LATEST') {
      throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${fn.config.FunctionArn}:${qualifier}`);
    }
    const type = header(req, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
      throw new LambdaApiError(400, 'InvalidParameterValueException', `InvocationType ${type} is not one of RequestResponse, Event, DryRun.`);
    }
    if (fn.config.State !== 'Active') {
      throw new LambdaApiError(
        409,
        'ResourceConflictException',
        `The operation cannot be performed at this time. The function is currently in the following state: ${fn.config.State}`,
      );
    }
    const body = await readBody(req, type === 'Event' ? ASYNC_PAYLOAD_BYTES : SYNC_PAYLOAD_BYTES, 'RequestTooLargeException');
    if (type === 'DryRun') return send(res, 204, undefined, { 'X-Amz-Executed-Version': '$LATEST' });
    let event: unknown = {};
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new LambdaApiError(400, 'InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`);
      }
    }
    const requestId = randomUUID();
    const throttled = take(throttles, name)
      ? 'the throttle fault'
      : fn.reservedConcurrency !== undefined && fn.inflight >= fn.reservedConcurrency
        ? 'ReservedFunctionConcurrentInvocationLimitExceeded'
        : inflight >= (concurrencyLimit ?? DEFAULT_ACCOUNT_CONCURRENCY)
          ? 'ConcurrentInvocationLimitExceeded'
          : undefined;
    if (throttled && type === 'RequestResponse') {
      record(fn, requestId, 'RequestResponse', 429, 'throttled', undefined, undefined);
      const reason = throttled === 'the throttle fault' ? 'CallerRateLimitExceeded' : throttled;
      throw new LambdaApiError(429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: reason }, { 'Retry-After': '1' });
    }
    if (type === 'Event') {
      // Lambda queues the event and answers at once; the run is recorded when it ends.
      // An async invocation's failure is the function's business (Lambda would retry it); it is recorded.
      const run = execute(fn, requestId, 'Event', event)
        .catch(() => undefined)
        .finally(() => background.delete(run));
      background.add(run);
      return send(res, 202, undefined, { 'x-amzn-RequestId': requestId });
    }
    const response = await execute(fn, requestId, 'RequestResponse', event);
    const headers: Record<string, string> = { 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': requestId };
    if (response.functionError) headers['X-Amz-Function-Error'] = 'Unhandled';
    if (header(req, 'x-amz-log-type') === 'Tail') headers['X-Amz-Log-Result'] = Buffer.from(response.log).toString('base64');
    send(res, 200, response.payload, { ...headers, 'Content-Type': 'application/json' });
  }

  /** Runs one invocation on the function's current revision and records it. */
  async function execute(
    fn: EmulatedFunction,
    requestId: string,
    invocationType: InvocationRecord['invocationType'],
    event: unknown,
  ): Promise<{ payload: string; functionError: boolean; log: string }> {
    const name = fn.config.FunctionName;
    if (fn.revision.retired) {
      // Deleted while its request body was still arriving.
      throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${fn.config.FunctionArn}`);
    }
    const failure = take(failures, name);
    if (failure) {
      const payload = JSON.stringify({ errorType: failure.errorType, errorMessage: failure.errorMessage, trace: [] });
      record(fn, requestId, invocationType, 200, 'injected-error', failure.errorType, undefined);
      return { payload, functionError: true, log: reportLine(requestId, 0, fn.config.MemorySize, undefined) };
    }
    const revision = fn.revision;
    const envelope = { requestId, event, invokedFunctionArn: fn.config.FunctionArn };
    const kill = take(kills, name);
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    revision.inflight++;
    fn.inflight++;
    inflight++;
    let outcome: InvokeOutcome<{ payload?: string; error?: LambdaError }>;
    try {
      const running = revision.platform.invoke<typeof envelope, { payload?: string; error?: LambdaError }>(envelope, {
        memoryMb: revision.memoryMb,
      });
      if (kill) {
        // Kill it once it runs in a container: on a loaded machine a cold start can outlast afterMs.
        const tryKill = () => {
          killed = revision.platform.killRunning((e) => e === envelope) > 0;
          if (!killed) killTimer = setTimeout(tryKill, 20);
        };
        killTimer = setTimeout(tryKill, kill.afterMs);
      }
      outcome = await running;
    } finally {
      clearTimeout(killTimer);
      revision.inflight--;
      fn.inflight--;
      inflight--;
      registry.released(revision);
    }
    const initMs = outcome.coldStart ? outcome.launchMs : 0;
    const log = reportLine(requestId, outcome.billedMs, revision.memoryMb, outcome.peakMemoryMb, outcome.coldStart ? initMs : undefined);
    const mapped = mapOutcome(outcome, requestId, killed);
    records.push({
      requestId,
      functionName: name,
      invocationType,
      status: 200,
      outcome: mapped.outcome,
      errorType: mapped.error?.errorType,
      coldStart: outcome.coldStart,
      initMs,
      durationMs: outcome.billedMs,
      memoryMb: revision.memoryMb,
      peakMemoryMb: outcome.peakMemoryMb,
      startedAt: Date.now() - outcome.billedMs,
    });
    if (mapped.error) return { payload: JSON.stringify(mapped.error), functionError: true, log };
    if (Buffer.byteLength(mapped.payload) > SYNC_PAYLOAD_BYTES) {
      const error = {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_BYTES} bytes).`,
      };
      return { payload: JSON.stringify(error), functionError: true, log };
    }
    return { payload: mapped.payload, functionError: false, log };
  }

  function record(
    fn: EmulatedFunction,
    requestId: string,
    invocationType: InvocationRecord['invocationType'],
    status: number,
    outcome: InvocationOutcome,
    errorType: string | undefined,
    peakMemoryMb: number | undefined,
  ): void {
    records.push({
      requestId,
      functionName: fn.config.FunctionName,
      invocationType,
      status,
      outcome,
      errorType,
      coldStart: false,
      initMs: 0,
      durationMs: 0,
      memoryMb: fn.config.MemorySize,
      peakMemoryMb,
      startedAt: Date.now(),
    });
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const fnPath = /^\/(2015-03-31|2017-10-31|2019-09-30)\/functions\/([^/]+)(\/[a-z-]+)?\/?$/.exec(path);
    if (/^\/2015-03-31\/functions\/?$/.test(path)) {
      if (method === 'POST') return send(res, 201, JSON.stringify(await registry.create(await readJson(req))));
      if (method === 'GET') return send(res, 200, JSON.stringify(listFunctions(url)));
    }
    if (fnPath) {
      const [, version, rawName, sub] = fnPath;
      const { name, qualifier } = parseFunctionName(decodeURIComponent(rawName));
      const q = qualifier ?? url.searchParams.get('Qualifier') ?? undefined;
      const route = `${method} ${version} ${sub ?? ''}`;
      switch (route) {
        case 'POST 2015-03-31 /invocations':
          return invoke(req, res, name, q);
        case 'GET 2015-03-31 ': {
          const fn = registry.get(name);
          assertLatest(fn, q);
          return send(res, 200, JSON.stringify(getFunction(fn)));
        }
        case 'GET 2015-03-31 /configuration': {
          const fn = registry.get(name);
          assertLatest(fn, q);
          return send(res, 200, JSON.stringify(fn.config));
        }
        case 'PUT 2015-03-31 /code':
          return send(res, 200, JSON.stringify(await registry.updateCode(name, await readJson(req))));
        case 'PUT 2015-03-31 /configuration':
          return send(res, 200, JSON.stringify(await registry.updateConfiguration(name, await readJson(req))));
        case 'DELETE 2015-03-31 ':
          await registry.delete(name);
          return send(res, 204, undefined);
        case 'PUT 2017-10-31 /concurrency': {
          const fn = registry.get(name);
          const value = (await readJson(req)).ReservedConcurrentExecutions;
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
            throw new LambdaApiError(400, 'InvalidParameterValueException', 'ReservedConcurrentExecutions must be an integer ≥ 0.');
          }
          fn.reservedConcurrency = value;
          return send(res, 200, JSON.stringify({ ReservedConcurrentExecutions: value }));
        }
        case 'DELETE 2017-10-31 /concurrency':
          registry.get(name).reservedConcurrency = undefined;
          return send(res, 204, undefined);
        case 'GET 2019-09-30 /concurrency': {
          const fn = registry.get(name);
          return send(res, 200, JSON.stringify(fn.reservedConcurrency === undefined ? {} : { ReservedConcurrentExecutions: fn.reservedConcurrency }));
        }
      }
    }
    const code = /^\/emulator\/code\/([^/]+)\.zip$/.exec(path);
    if (code && method === 'GET') {
      const fn = registry.get(decodeURIComponent(code[1]));
      res.writeHead(200, { 'Content-Type': 'application/zip', 'Content-Length': fn.zip.length });
      res.end(fn.zip);
      return;
    }
    throw new LambdaApiError(404, 'UnknownOperationException', `The Lambda emulator does not serve ${method} ${path}.`);
  }

  function assertLatest(fn: EmulatedFunction, qualifier: string | undefined): void {
    if (qualifier !== undefined && qualifier !== '$LATEST') {
      throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${fn.config.FunctionArn}:${qualifier}`);
    }
  }

  function getFunction(fn: EmulatedFunction): Record<string, unknown> {
    return {
      Configuration: fn.config,
      // Lambda answers a presigned S3 URL of the code; the emulator serves the zip itself.
      Code: { RepositoryType: 'S3', Location: `${endpoint}/emulator/code/${encodeURIComponent(fn.config.FunctionName)}.zip` },
      ...(fn.reservedConcurrency === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: fn.reservedConcurrency } }),
    };
  }

  function listFunctions(url: URL): Record<string, unknown> {
    const all = registry.list();
    const maxItems = Math.min(Number(url.searchParams.get('MaxItems') ?? 50) || 50, 50);
    const start = Number(url.searchParams.get('Marker') ?? 0) || 0;
    const page = all.slice(start, start + maxItems);
    const next = start + maxItems < all.length ? String(start + maxItems) : undefined;
    return { Functions: page.map((fn) => fn.config), ...(next ? { NextMarker: next } : {}) };
  }

  function parseFunctionName(raw: string): { name: string; qualifier?: string } {
    // name, name:qualifier, 123456789012:function:name[:q], arn:aws:lambda:region:acct:function:name[:q]
    const parts = raw.split(':');
    const at = parts[0] === 'arn' ? 6 : parts[1] === 'function' ? 2 : 0;
    if ((parts[0] === 'arn' && (parts[2] !== 'lambda' || parts[5] !== 'function')) || parts.length > at + 2) {
      throw new LambdaApiError(400, 'ValidationException', `1 validation error detected: Value '${raw}' at 'functionName' failed to satisfy constraint: a function name, ARN or partial ARN`);
    }
    if (parts[0] === 'arn' && parts[3] !== region) {
      throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${raw} (this emulator is region ${region})`);
    }
    return { name: parts[at] ?? raw, qualifier: parts[at + 1] };
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const handled = (async () => {
      if (!url.pathname.startsWith('/emulator/') && !/^AWS4-HMAC-SHA256 Credential=/.test(header(req, 'authorization') ?? '')) {
        throw new LambdaApiError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
      }
      await control(req, res, url);
    })();
    handled.catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof LambdaApiError) {
        return send(res, err.status, JSON.stringify(err.body()), { 'x-amzn-ErrorType': err.type, ...err.headers });
      }
      send(res, 500, JSON.stringify({ message: `Lambda emulator failure: ${(err as Error)?.stack ?? String(err)}` }), {
        'x-amzn-ErrorType': 'ServiceException',
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    region,
    faults,
    functions: () =>
      registry.list().map((fn) => ({
        name: fn.config.FunctionName,
        arn: fn.config.FunctionArn,
        state: fn.config.State,
        lastUpdateStatus: fn.config.LastUpdateStatus,
        memoryMb: fn.config.MemorySize,
        timeoutS: fn.config.Timeout,
        codeSha256: fn.config.CodeSha256,
        architecture: fn.config.Architectures[0],
        containers: fn.revision.platform.containers,
        inflight: fn.inflight,
        reservedConcurrency: fn.reservedConcurrency,
        environment: { ...fn.config.Environment?.Variables },
      })),
    invocations: () => records.map((r) => ({ ...r })),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.stopAll();
      await Promise.allSettled([...background]);
      await rm(root, { recursive: true, force: true });
    },
  };
}

interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** What Lambda answers for each way an invocation can end. */
function mapOutcome(
  outcome: InvokeOutcome<{ payload?: string; error?: LambdaError }>,
  requestId: string,
  killed: boolean,
): { outcome: InvocationOutcome; payload: string; error?: LambdaError } {
  if (outcome.ok) {
    if (outcome.result.error) return { outcome: 'error', payload: '', error: outcome.result.error };
    return { outcome: 'success', payload: outcome.result.payload ?? 'null' };
  }
  switch (outcome.reason) {
    case 'timeout':
      return {
        outcome: 'timeout',
        payload: '',
        error: { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(outcome.billedMs / 1000).toFixed(2)} seconds` },
      };
    case 'out-of-memory':
      return {
        outcome: 'out-of-memory',
        payload: '',
        error: { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed` },
      };
    default: {
      const exit = /\(code (\d+)\)/.exec(outcome.message);
      const how = exit ? `exit status ${exit[1]}` : 'signal: killed';
      return {
        outcome: killed ? 'killed' : 'crashed',
        payload: '',
        error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: ${how}` },
      };
    }
  }
}

/** The REPORT line Lambda ends an invocation's log with (what `LogType: Tail` returns, last 4 KB). */
function reportLine(requestId: string, durationMs: number, memoryMb: number, peakMemoryMb: number | undefined, initMs?: number): string {
  const init = initMs === undefined ? '' : `\tInit Duration: ${initMs.toFixed(2)} ms`;
  return (
    `START RequestId: ${requestId} Version: $LATEST\nEND RequestId: ${requestId}\n` +
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(durationMs)} ms\t` +
    `Memory Size: ${memoryMb} MB\tMax Memory Used: ${Math.round(peakMemoryMb ?? 0)} MB${init}\t\n`
  );
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage, limit: number, tooLarge: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new LambdaApiError(413, tooLarge, `Request must be smaller than ${limit} bytes for this operation`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const body = await readBody(req, MAX_REQUEST_BYTES, 'RequestEntityTooLargeException');
  if (body.length === 0) return {};
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new LambdaApiError(400, 'SerializationException', `The request body is not a JSON object: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: string | undefined, headers: Record<string, string> = {}): void {
  const base: Record<string, string> = { 'x-amzn-RequestId': randomUUID() };
  if (body !== undefined) {
    base['Content-Type'] = 'application/json';
    base['Content-Length'] = String(Buffer.byteLength(body));
  }
  res.writeHead(status, { ...base, ...headers });
  res.end(body);
}
