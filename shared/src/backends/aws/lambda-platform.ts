/**
 * The Platform on AWS Lambda, through the real `@aws-sdk/client-lambda`. One synchronous Invoke
 * per worker invocation; the event carries store keys only, never weights (Lambda's payload limit
 * is 6 MB). Throttling (`TooManyRequestsException`: account or reserved concurrency) is retried
 * with capped exponential backoff and jitter until the caller's signal aborts.
 *
 * Lambda's REPORT line (in the log tail it returns with `LogType: Tail`) gives the billed
 * duration, the peak memory and — only on a cold start — the init duration; the launch time is
 * the wall time of the call minus the handler's duration.
 */
import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { setTimeout as delay } from 'node:timers/promises';
import { SmltError } from '../../errors.js';
import type { PricedPlatform } from '../../cost/prices.js';
import type { InvocationStats, InvokeOptions, InvokeOutcome, Platform } from '../ports.js';
import type { AwsSettings } from './config.js';
import { type WorkerCode, WorkerFunctions, awsError, loadWorkerBundle } from './worker-functions.js';

/** Events above this are a bug (weights in the payload); Lambda's own limit is 6 MB. */
const MAX_EVENT_BYTES = 256 * 1024;
/** Backoff for throttled invocations. */
const THROTTLE_BACKOFF_MS = { initial: 200, max: 10_000 };
/** The prefix the worker bundle gives an SmltError's code in `errorType` (`SmltError.SYNC_TIMEOUT`). */
const SMLT_ERROR_TYPE = /^SmltError\.([A-Z_]+)$/;

export interface LambdaPlatformOptions {
  settings: AwsSettings;
  /** A client for tests and endpoints; default one from the settings and the default credential chain. */
  client?: LambdaClient;
  /** The worker code for functions created on demand; default the lambda-worker bundle. */
  code?: () => Promise<WorkerCode>;
}

export class LambdaPlatform implements Platform {
  readonly name = 'aws-lambda';
  readonly pricing: PricedPlatform;
  readonly timeLimitMs: number;
  readonly memoryRangeMb = [128, 10_240] as const;
  readonly functions: WorkerFunctions;
  /** Invocations answered 429 and retried, for reports and tests. */
  throttled = 0;
  private readonly client: LambdaClient;

  constructor(options: LambdaPlatformOptions) {
    this.client = options.client ?? lambdaClient(options.settings);
    this.timeLimitMs = options.settings.timeoutS * 1000;
    this.pricing = `lambda-${options.settings.architecture}`;
    this.functions = new WorkerFunctions(this.client, options.settings, options.code ?? loadWorkerBundle);
  }

  async invoke<E, R>(event: E, options: InvokeOptions): Promise<InvokeOutcome<R>> {
    const payload = Buffer.from(JSON.stringify(event));
    if (payload.byteLength > MAX_EVENT_BYTES) {
      throw new SmltError('WORKER_FAILED', `A worker event of ${payload.byteLength} bytes is too large for Lambda; events carry store keys, never data.`);
    }
    const functionName = await this.functions.ensure(options.memoryMb);
    const calledAt = performance.now();
    const answer = await this.invokeThrottled(functionName, payload, options.signal);
    if (answer === 'aborted') {
      // Lambda cannot stop an invocation that started; the worker sees the run's cancel marker.
      return { ok: false, reason: 'aborted', message: 'The invocation was abandoned (cancelled).', ...this.stats(undefined, calledAt) };
    }
    const report = parseReport(answer.LogResult);
    const stats = this.stats(report, calledAt);
    const body = answer.Payload ? Buffer.from(answer.Payload).toString('utf8') : '';
    if (!answer.FunctionError) return { ok: true, result: (body === '' ? undefined : JSON.parse(body)) as R, ...stats };
    return { ok: false, ...failureOf(body, report), ...stats };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async invokeThrottled(functionName: string, payload: Uint8Array, signal: AbortSignal | undefined) {
    let pauseMs = THROTTLE_BACKOFF_MS.initial;
    for (;;) {
      if (signal?.aborted) return 'aborted' as const;
      try {
        return await this.client.send(
          new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', LogType: 'Tail', Payload: payload }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (signal?.aborted) return 'aborted' as const;
        if (!(err instanceof TooManyRequestsException)) throw awsError(`invoke ${functionName}`, err);
        this.throttled++;
        // Full jitter: spreads a burst of throttled workers instead of retrying in lockstep.
        await sleep(Math.random() * pauseMs, signal);
        pauseMs = Math.min(pauseMs * 2, THROTTLE_BACKOFF_MS.max);
      }
    }
  }

  private stats(report: LambdaReport | undefined, calledAt: number): InvocationStats {
    const wallMs = performance.now() - calledAt;
    return {
      billedMs: report?.billedMs ?? Math.round(wallMs),
      coldStart: report?.initMs !== undefined,
      launchMs: Math.max(0, Math.round(wallMs - (report?.durationMs ?? wallMs))),
      ...(report?.maxMemoryMb !== undefined ? { peakMemoryMb: report.maxMemoryMb } : {}),
    };
  }
}

export function lambdaClient(settings: AwsSettings): LambdaClient {
  return new LambdaClient({
    region: settings.region,
    ...(settings.endpoints?.lambda ? { endpoint: settings.endpoints.lambda } : {}),
    // A training step can run for minutes: no socket timeout shorter than the function's.
    requestHandler: { requestTimeout: (settings.timeoutS + 30) * 1000 },
    maxAttempts: 3,
  });
}

/** The figures of Lambda's `REPORT RequestId: …` log line. */
export interface LambdaReport {
  durationMs: number;
  billedMs: number;
  memoryMb?: number;
  maxMemoryMb?: number;
  /** Present only when the invocation started a new execution environment. */
  initMs?: number;
}

/** Parses the REPORT line from a base64 log tail; undefined when there is none. */
export function parseReport(logResult: string | undefined): LambdaReport | undefined {
  if (!logResult) return undefined;
  const log = Buffer.from(logResult, 'base64').toString('utf8');
  const line = log.split('\n').filter((l) => l.startsWith('REPORT ')).at(-1);
  if (!line) return undefined;
  const number = (label: string) => {
    const match = new RegExp(`${label}: ([\\d.]+)`).exec(line);
    return match ? Number(match[1]) : undefined;
  };
  const durationMs = number('Duration');
  const billedMs = number('Billed Duration');
  if (durationMs === undefined || billedMs === undefined) return undefined;
  const memoryMb = number('Memory Size');
  const maxMemoryMb = number('Max Memory Used');
  const initMs = number('Init Duration');
  return {
    durationMs,
    billedMs,
    ...(memoryMb !== undefined ? { memoryMb } : {}),
    ...(maxMemoryMb !== undefined ? { maxMemoryMb } : {}),
    ...(initMs !== undefined ? { initMs } : {}),
  };
}

/** What a failed invocation's payload (`{errorType, errorMessage}`) means for the orchestrator. */
export function failureOf(body: string, report: LambdaReport | undefined): { reason: 'error' | 'out-of-memory' | 'timeout' | 'crashed'; message: string; code?: string } {
  let error: { errorType?: string; errorMessage?: string } = {};
  try {
    error = JSON.parse(body) as typeof error;
  } catch {
    error = { errorMessage: body };
  }
  const type = error.errorType ?? '';
  const message = error.errorMessage ?? (body || 'The function failed without a message.');
  const code = SMLT_ERROR_TYPE.exec(type)?.[1];
  if (code) return { reason: 'error', message, code };
  const outOfMemory =
    type === 'Runtime.OutOfMemory' ||
    /out of memory|heap out of memory/i.test(message) ||
    (report?.maxMemoryMb !== undefined && report.memoryMb !== undefined && report.maxMemoryMb >= report.memoryMb && type.startsWith('Runtime.'));
  if (outOfMemory) {
    const measured = report?.maxMemoryMb !== undefined && report.memoryMb !== undefined ? `: out of memory at ${report.maxMemoryMb} MB (limit ${report.memoryMb} MB)` : '';
    return { reason: 'out-of-memory', message: `${message}${measured}` };
  }
  if (/Task timed out/i.test(message) || type === 'Sandbox.Timedout') return { reason: 'timeout', message };
  if (type.startsWith('Runtime.')) return { reason: 'crashed', message: `${type}: ${message}` };
  return { reason: 'error', message: type ? `${type}: ${message}` : message };
}

async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller's loop sees the signal.
  }
}
