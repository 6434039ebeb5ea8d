/**
 * The one way every client (CLI, `smlt serve` over HTTP, the VS Code and JupyterLab extensions)
 * drives runs. Runs live in the object store, so any client — or a new process — can re-attach
 * to a run and see its whole history.
 */
import type { CaptureNotes } from '../capture/capture-types.js';
import type { RunEvent } from '../run/events.js';
import type { RunStatusRecord } from '../run/run-state.js';
import type { TrainingConfig } from '../spec/job-spec.js';

/** Where the notebook comes from: a file, or an editor's in-memory notebook (unsaved edits). */
export type NotebookSource =
  | { path: string }
  | { notebook: unknown; notebookDir: string; name: string; notebookPath?: string };

export interface RunRequest {
  source: NotebookSource;
  overrides?: Partial<Pick<TrainingConfig, 'epochs' | 'batchSize'>>;
  workers?: number;
  memoryMb?: number;
  sync?: 'hierarchical' | 'flat';
  deadlineS?: number;
  budgetUsd?: number;
  objective?: 'time' | 'cost';
  /** Where workers run: `local` processes (default) or AWS Lambda with an S3 store (`smlt deploy` first). */
  backend?: 'local' | 'aws';
  /**
   * Where workers exchange gradients: `store` (default: the run's store), `redis` (a private
   * redis-server for this run's process) or a `redis://HOST:PORT` URL.
   */
  channel?: string;
  /** Where the model and report go (default: `.smlt/runs/<id>` next to the notebook). */
  outDir?: string;
  /** The Python that runs a Keras notebook's cells to its model.fit (default: the kernelspec's, SMLT_PYTHON, python3). */
  python?: string;
  /** Wall-clock limit for those cells, in seconds (default 600). */
  pythonTimeoutS?: number;
}

export interface Estimate {
  workers: number;
  memoryMb: number;
  iterationsPerEpoch: number;
  epochs: number;
  /** The platform the run would use (`local`, `aws-lambda`): a local run costs nothing itself. */
  platform?: string;
  /** Predicted wall time and cost (as if on AWS Lambda + S3), with a low–high interval. */
  timeS: { expected: number; low: number; high: number };
  costUsd: { expected: number; low: number; high: number };
  /** Measured in this process by a short probe of the gradient step. */
  computeMsPerSample: number;
  /** What that probe took, and its cost as if it had run on one Lambda worker. */
  probe: { steps: number; seconds: number; costUsd: number };
  /** The tfjs backend every worker computes with, and why (service/backend-choice.ts). */
  backend?: { name: string; reason: string };
  feasible: boolean;
  /** When not feasible: what to change (the budget the deadline needs, or the deadline the budget allows). */
  advice?: string;
  /** What capture found (model, data, loss, optimizer, epochs, where from) and what to check, for the prompt. */
  found?: CaptureNotes;
}

export interface RunSummary {
  runId: string;
  name: string;
  notebook?: string;
  /** Set for a sweep's trial: the sweep it belongs to. */
  sweepId?: string;
  createdAt: string;
  status: RunStatusRecord['status'];
  epochsDone: number;
  epochs: number;
  costUsd: number;
  elapsedS: number;
  metrics?: { loss: number; valLoss?: number; valAccuracy?: number };
}

export interface RunArtifacts {
  runId: string;
  outDir: string;
  modelPath?: string;
  reportPath?: string;
  /** A Keras notebook's model variable (what its `fit` was called on), for the load cell. */
  modelVariable?: string;
}

export interface RunService {
  estimate(request: RunRequest): Promise<Estimate>;
  /** Captures and validates synchronously (bad input rejects here, nothing launched), then runs in the background. */
  start(request: RunRequest): Promise<{ runId: string }>;
  /** Past events with seq > fromSeq, then live ones, ending after `run_finished` (or when the signal aborts). */
  events(runId: string, options?: { fromSeq?: number; signal?: AbortSignal }): AsyncIterable<RunEvent>;
  cancel(runId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }>;
  list(): Promise<RunSummary[]>;
  get(runId: string): Promise<RunSummary>;
  /** `fromSeq`: the run's last event before this resume; follow `events(runId, { fromSeq })` to see only the new ones. */
  resume(runId: string, options?: { force?: boolean }): Promise<{ runId: string; fromSeq: number }>;
  artifacts(runId: string): Promise<RunArtifacts>;
}
