/**
 * What the orchestrator sends a worker invocation and what it gets back. Only keys travel in
 * the payload, never weights or data (Lambda's payload limit is 6 MB synchronous).
 */
import type { RequestCounts, StoreLocation } from '../backends/ports.js';
import type { BackendName } from '../tf/backend.js';
import type { GpuAdapterReport } from '../tf/webgpu.js';
import type { SyncName } from './events.js';

export interface WorkerEvent {
  v: 1;
  runId: string;
  store: StoreLocation;
  specKey: string;
  /** sha256 of the spec JSON: a warm worker with the same hash reuses its built model. */
  specHash: string;
  /** This worker's data partition (content-addressed key). */
  partitionKey: string;
  /** The drive that invoked it: its exchange keys are scoped to it (run/layout.ts). */
  drive?: string;
  epoch: number;
  rank: number;
  workers: number;
  /** First iteration to run in this invocation (> 0 after a time-limit continue or a retry). */
  fromIteration: number;
  /** Iterations in the whole epoch. */
  iterations: number;
  /** Samples per worker per iteration. */
  perWorkerBatch: number;
  /** State at the start of the epoch. */
  startStateKey: string;
  /** Set for rank 0 only: where to write the state at the end of the epoch. */
  endStateKey?: string;
  sync: SyncName;
  /** The tfjs backend to compute with; the worker fails rather than compute on another (unset: its own default). */
  backend?: BackendName;
  /** Where gradients are exchanged when not through `store` (an in-memory channel such as Redis). */
  channel?: StoreLocation;
  syncTimeoutMs: number;
  /** 0 on the first try; > 0 when re-invoked after a failure (then existing shards are kept). */
  attempt: number;
  /** Stop and return `continue` when less than this much time is left (plus ~2 iterations). */
  safetyMarginMs: number;
}

export interface WorkerResult {
  status: 'done' | 'continue';
  /** Next iteration to run (equals `iterations` when done). */
  nextIteration: number;
  iterationsRun: number;
  /** Compute and sync over the iterations run, at the pace of the steady steps (see `steadySteps`). */
  computeMs: number;
  syncMs: number;
  /** Iterations run past the process's warm-up (its first steps run slower): 0 when all were warm-up. */
  steadySteps?: number;
  backend: string;
  /** webgpu: the adapter this worker computed on, and its buffer limits. */
  adapter?: GpuAdapterReport;
  /** True when the model and data came from this warm container's cache. */
  warmCache: boolean;
  /** Downloads and model builds done by this invocation (0 and 0 on a warm cache hit). */
  dataDownloads: number;
  modelBuilds: number;
  requests: RequestCounts;
  /** Requests made to the channel, when it is not the store. */
  channelRequests?: RequestCounts;
  /** Gradient bytes this invocation's exchanges wrote to and read from that channel. */
  channelBytes?: number;
}
