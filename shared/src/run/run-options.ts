/** What a caller gives the orchestrator for a run, and what it gets back. */
import type { ObjectStore, Platform, StoreLocation } from '../backends/ports.js';
import type { Captured } from '../capture/capture.js';
import type { EpochMetrics, FinalStatus, RunEvent, SyncName } from './events.js';
import type { AdaptiveSettings, ComputeBackend, EpochRecord, RunSettings } from './run-state.js';

/** The configuration of one epoch, and why (the scheduler plugs in here). */
export interface EpochConfig {
  workers: number;
  memoryMb: number;
  reason: string;
}

/** Why an epoch is planned again: its workers ran out of memory at this configuration. */
export interface EpochFailure {
  outOfMemory: { workers: number; memoryMb: number };
}

export interface RunOptions {
  platform: Platform;
  store: ObjectStore;
  /** How workers open the same store. */
  storeLocation: StoreLocation;
  /**
   * Where workers exchange gradients, when not through `store`: an in-memory channel (Redis).
   * Run state (checkpoints, markers, events) stays in `store`.
   */
  channel?: { store: ObjectStore; location: StoreLocation };
  workers: number;
  memoryMb: number;
  sync?: SyncName;
  /** Where model files and report.json go; default `<outRoot>/runs/<id>`. */
  outDir?: string;
  /** The local folder under which `runs/<id>` holds the outputs; default the folder store's root. */
  outRoot?: string;
  maxRetries?: number;
  syncTimeoutMs?: number;
  /** A worker returns `continue` when less than this is left of the platform's time limit. */
  safetyMarginMs?: number;
  /** The tfjs backend of every worker and why; `pinned`: sent to the workers (else each takes its platform's own). */
  compute?: ComputeBackend;
  /** Chooses each epoch's configuration; default: the fixed `workers` and `memoryMb`. */
  planEpoch?: (epoch: number, previous: EpochRecord[], failure?: EpochFailure) => EpochConfig;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  notebook?: string;
  /** Recorded with the run when `planEpoch` comes from the adaptive scheduler, so a resume can re-plan. */
  adaptive?: AdaptiveSettings;
  /** Id for the new run (default: a fresh time-stamped id), so a caller can follow it at once. */
  runId?: string;
}

export type ResumeOptions = Omit<RunOptions, 'workers' | 'memoryMb' | 'storeLocation' | 'planEpoch'> &
  Partial<Pick<RunOptions, 'workers' | 'memoryMb'>> & {
    /** Take over even if the run's orchestrator sent a heartbeat recently (it is known to be dead). */
    force?: boolean;
    /** Train a finished run further, to this many epochs in all (a sweep's promotion). */
    extendTo?: number;
    /** Replaces these of the run's adaptive settings (the budget and deadline of an extension). */
    replan?: Partial<AdaptiveSettings>;
    /** Chooses each epoch's configuration from the run's stored inputs (an adaptive run re-plans). */
    planFor?: (captured: Captured, settings: RunSettings) => Promise<RunOptions['planEpoch']>;
  };

export interface RunResult {
  runId: string;
  status: FinalStatus;
  metrics?: EpochMetrics;
  durationS: number;
  costUsd: number;
  modelPath?: string;
  reportPath?: string;
  error?: { code: string; message: string };
  /** It ran but did not train well (run/training-health.ts). */
  warnings?: string[];
}

/** A run that is validated and recorded in the store, ready to be driven. */
export interface PreparedRun {
  runId: string;
  /** The run's last event so far (0 for a new run); its next events follow it. */
  fromSeq: number;
  run(): Promise<RunResult>;
}
