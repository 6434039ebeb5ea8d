/**
 * Every event a run emits, in one place. Events are versioned (`v`), numbered (`seq`, from 1,
 * no gaps) and stored with the run, so a client can replay a run's whole history and then
 * follow it live. Add a new `type` rather than changing the shape of an existing one.
 */
import type { CostBreakdown } from '../cost/cost.js';
import type { SmltErrorCode } from '../errors.js';
import type { SyncName } from '../spec/job-spec.js';
import type { GpuAdapterReport } from '../tf/webgpu.js';

export type { SyncName } from '../spec/job-spec.js';

/** `stopped-budget`: stopped before the next epoch could take the spend over the user's budget. */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'stopped-budget';
export type FinalStatus = Exclude<RunStatus, 'running'>;
/** Why an invocation failed; `straggler`: the others waited for it in vain, so it was abandoned. */
export type FailureReason = 'error' | 'out-of-memory' | 'timeout' | 'crashed' | 'aborted' | 'straggler';

export interface EpochMetrics {
  /** Mean training loss over the epoch's iterations and workers. */
  loss: number;
  /** On the held-out split. */
  valLoss?: number;
  valAccuracy?: number;
  /** Worker 0's loss at the epoch's first iteration, measured before its update. */
  firstLoss?: number;
}

export type RunEventBody =
  | {
      type: 'run_started';
      name: string;
      paramCount: number;
      trainSamples: number;
      holdoutSamples: number;
      epochs: number;
      platform: string;
      store: string;
      resumedFromEpoch?: number;
    }
  | {
      type: 'plan';
      epoch: number;
      workers: number;
      memoryMb: number;
      sync: SyncName;
      iterations: number;
      perWorkerBatch: number;
      reason: string;
      /** The tfjs backend every worker of the run computes with, and why. */
      backend?: { name: string; reason: string };
    }
  | { type: 'epoch_started'; epoch: number; workers: number; memoryMb: number }
  | { type: 'progress'; epoch: number; iteration: number; iterations: number; loss: number }
  | {
      type: 'worker_started';
      epoch: number;
      rank: number;
      attempt: number;
      fromIteration: number;
    }
  | {
      type: 'worker_finished';
      epoch: number;
      rank: number;
      status: 'done' | 'continue';
      iterationsRun: number;
      /** Time in the gradient step and in gradient exchange, summed over the iterations run. */
      computeMs: number;
      syncMs: number;
      /** Of the iterations run, those past the worker process's warm-up (its first steps run slower). */
      steadySteps?: number;
      billedMs: number;
      coldStart: boolean;
      /** From the platform call until the handler started (container start + code load when cold). */
      launchMs?: number;
      warmCache: boolean;
      backend: string;
      /** webgpu: the adapter the worker computed on, and its buffer limits. */
      adapter?: GpuAdapterReport;
    }
  | {
      type: 'worker_failed';
      epoch: number;
      rank: number;
      attempt: number;
      reason: FailureReason;
      message: string;
    }
  | {
      type: 'worker_relaunched';
      epoch: number;
      rank: number;
      attempt: number;
      fromIteration: number;
      why: 'time-limit' | 'failure';
    }
  | { type: 'checkpoint'; epoch: number; key: string }
  | ({ type: 'epoch_finished'; epoch: number; durationS: number } & EpochMetrics)
  | { type: 'cost'; spentUsd: number; breakdown: CostBreakdown }
  | {
      type: 'run_finished';
      status: FinalStatus;
      durationS: number;
      costUsd: number;
      metrics?: EpochMetrics;
      modelPath?: string;
      reportPath?: string;
      error?: { code: SmltErrorCode | string; message: string };
      /** The run ended but did not train well: why, and what to check (run/training-health.ts). */
      warnings?: string[];
    };

export type RunEventType = RunEventBody['type'];
export type RunEvent = RunEventBody & { v: 1; seq: number; time: string; runId: string };
export type RunEventOf<T extends RunEventType> = Extract<RunEvent, { type: T }>;
