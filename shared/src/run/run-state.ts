/**
 * A run's durable state in the store: the manifest (written once) and the status (rewritten
 * as the run goes). With the spec, the dataset and the checkpoints, this is all a new process
 * needs to re-attach to a run or resume it.
 */
import type { ObjectStore, StoreLocation } from '../backends/ports.js';
import type { CostTally } from '../cost/cost.js';
import { SmltError } from '../errors.js';
import type { EpochMetrics, RunStatus, SyncName } from './events.js';
import { runKeys } from './layout.js';
import type { BackendName } from '../tf/backend.js';

export interface RunManifest {
  v: 1;
  runId: string;
  name: string;
  notebook?: string;
  createdAt: string;
  store: StoreLocation;
  platform: string;
  /** Where the trained model and report.json go. */
  outDir: string;
  settings: RunSettings;
}

/** What the user chose for the run (the scheduler may change workers/memory per epoch). */
export interface RunSettings {
  workers: number;
  memoryMb: number;
  sync: SyncName;
  maxRetries: number;
  syncTimeoutMs: number;
  /** Set when the adaptive scheduler plans the run: what a resume needs to plan it again. */
  adaptive?: AdaptiveSettings;
  /** The tfjs backend chosen before launch; every epoch, resumed ones included, uses it. */
  compute?: ComputeBackend;
}

export interface ComputeBackend {
  name: BackendName;
  reason: string;
  /** Sent to every worker, which refuses to compute on another; unpinned, each takes its platform's own (Lambda). */
  pinned: boolean;
}

export interface AdaptiveSettings {
  objective: 'time' | 'cost';
  deadlineS?: number;
  budgetUsd?: number;
  /** Fixed by the user; the planner chooses the other. */
  workers?: number;
  memoryMb?: number;
}

export interface EpochRecord extends EpochMetrics {
  epoch: number;
  workers: number;
  memoryMb: number;
  sync: SyncName;
  iterations: number;
  durationS: number;
  costUsd: number;
  invocations: number;
  relaunches: number;
  /** Per worker, summed over the epoch and averaged over workers: gradient steps and exchange. */
  computeMs?: number;
  syncMs?: number;
  /** The share of the iterations those were measured on past the workers' warm-up (scheduler/types.ts). */
  steadyShare?: number;
}

export interface RunStatusRecord {
  status: RunStatus;
  /** Epochs completed (= the next epoch to run). */
  epochsDone: number;
  epochs: EpochRecord[];
  elapsedS: number;
  cost: CostTally;
  updatedAt: string;
  /** Last sign of life of the orchestrator driving the run. */
  heartbeatAt: string;
  error?: { code: string; message: string };
}

export async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const bytes = await store.get(key);
  return bytes ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as T) : undefined;
}

export async function readManifest(store: ObjectStore, runId: string): Promise<RunManifest> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(runId)) {
    throw new SmltError('RUN_NOT_FOUND', `"${runId}" is not a run id; list runs with \`smlt runs\`.`);
  }
  const manifest = await readJson<RunManifest>(store, runKeys(runId).manifest);
  if (!manifest) {
    throw new SmltError('RUN_NOT_FOUND', `No run "${runId}" in ${store.url}; list runs with \`smlt runs\`.`);
  }
  return manifest;
}

export async function readStatus(store: ObjectStore, runId: string): Promise<RunStatusRecord | undefined> {
  return readJson<RunStatusRecord>(store, runKeys(runId).status);
}

export async function writeStatus(store: ObjectStore, runId: string, status: RunStatusRecord): Promise<void> {
  await store.put(runKeys(runId).status, JSON.stringify(status, null, 2));
}
