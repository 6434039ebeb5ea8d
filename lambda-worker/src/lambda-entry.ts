/**
 * The entry of the Lambda bundle (`index.mjs`, handler string `index.handler`). It runs the one
 * worker handler, answers a probe event (deploy checks that a function starts and finds its
 * wasm backend; the emulator's tests use it too), and gives an SmltError's code to Lambda in a
 * form that survives the trip: Lambda reports a thrown error as `{errorType: err.name,
 * errorMessage, trace}` and drops every other property, so the code goes into the name.
 */
import { isSmltError } from '@smlt/shared/errors';
import type { StoreLocation, WorkerContext } from '@smlt/shared/backends/ports';
import { openStore } from '@smlt/shared/backends/open-store';
import type { WorkerEvent, WorkerResult } from '@smlt/shared/run/worker-protocol';
import { backendInfo, initBackend } from '@smlt/shared/tf/backend';
import { handler as runWorker } from './handler.js';

/** Milliseconds from the process's start until this module was evaluated: Node start + bundle load. */
const moduleLoadedMs = performance.now();
let invocations = 0;

/** The event deploy and tests send to check that a function works without a run. */
export interface ProbeEvent {
  smltProbe: 1;
  /** Stores to reach from inside the function (deploy's check of S3 and of a Redis channel in a VPC). */
  reach?: StoreLocation[];
}

export interface ProbeResult {
  probe: 'smlt-worker';
  backend: string;
  simd?: boolean;
  node: string;
  arch: string;
  /** Until the bundle was evaluated, from the process's start. */
  moduleLoadedMs: number;
  /** Time the backend took to initialize in this invocation (≈0 when warm). */
  backendInitMs: number;
  /** The first invocation in this process (a new execution environment). */
  coldStart: boolean;
  memoryLimitInMB: string;
  functionName: string;
  /** Whether the runtime gave the function credentials in its environment (never their values). */
  hasCredentials: boolean;
  region?: string;
  /** Per store asked for: `ok` after a write, read and delete of a probe key, else the error. */
  reached?: Array<{ url: string; result: string }>;
}

/** Prefix of the errorType that carries an SmltError's code, e.g. `SmltError.SYNC_TIMEOUT`. */
export const SMLT_ERROR_TYPE_PREFIX = 'SmltError.';

export async function handler(event: WorkerEvent | ProbeEvent, context: WorkerContext): Promise<WorkerResult | ProbeResult> {
  invocations++;
  if (isProbe(event)) return probe(context, event);
  if (!isWorkerEvent(event)) {
    throw lambdaError(
      new TypeError('The event is neither an SMLT worker event (v: 1) nor a probe ({"smltProbe": 1}); invoke this function through smlt.'),
    );
  }
  try {
    return await runWorker(event, context);
  } catch (err) {
    throw lambdaError(err);
  }
}

async function probe(context: WorkerContext, event: ProbeEvent): Promise<ProbeResult> {
  const started = performance.now();
  await initBackend();
  const info = backendInfo();
  const backendInitMs = Math.round(performance.now() - started);
  const reached = event.reach ? await Promise.all(event.reach.map(reach)) : undefined;
  return {
    probe: 'smlt-worker',
    backend: info.name,
    simd: info.simd,
    node: process.version,
    arch: process.arch,
    moduleLoadedMs: Math.round(moduleLoadedMs),
    backendInitMs,
    coldStart: invocations === 1,
    memoryLimitInMB: context.memoryLimitInMB,
    functionName: context.functionName,
    hasCredentials: Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY),
    region: process.env.AWS_REGION,
    ...(reached ? { reached } : {}),
  };
}

/** A write, read and delete of a probe key in `location`, as a run's worker would do them. */
async function reach(location: StoreLocation): Promise<{ url: string; result: string }> {
  const store = openStore(location);
  const key = `deploy-check/${probeKeyId()}`;
  try {
    await store.put(key, 'smlt probe');
    const back = await store.get(key);
    await store.delete([key]);
    return { url: store.url, result: back ? 'ok' : 'the probe object did not read back' };
  } catch (err) {
    return { url: store.url, result: err instanceof Error ? err.message : String(err) };
  } finally {
    await (store as { close?: () => unknown }).close?.();
  }
}

function probeKeyId(): string {
  return `${process.pid}-${Date.now().toString(36)}-${invocations}`;
}

function isProbe(event: unknown): event is ProbeEvent {
  return typeof event === 'object' && event !== null && (event as { smltProbe?: unknown }).smltProbe === 1;
}

function isWorkerEvent(event: unknown): event is WorkerEvent {
  return typeof event === 'object' && event !== null && (event as { v?: unknown }).v === 1;
}

/** An error whose name Lambda reports as the errorType: `SmltError.<CODE>` for an SmltError. */
function lambdaError(err: unknown): Error {
  if (!isSmltError(err)) return err instanceof Error ? err : new Error(String(err));
  const wrapped = new Error(err.message, { cause: err });
  wrapped.name = `${SMLT_ERROR_TYPE_PREFIX}${err.code}`;
  wrapped.stack = `${wrapped.name}: ${err.message}\n${(err.stack ?? '').split('\n').slice(1).join('\n')}`;
  return wrapped;
}
