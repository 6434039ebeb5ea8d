/**
 * Names shared by the plugin's modules: the plugin id (it must be `<package name>:plugin` for
 * schema/plugin.json to apply), command ids, and the wire types of the server extension's API.
 */
import type { RunEvent } from '../../shared/dist/run/events.js';

export const PLUGIN_ID = 'smlt-jupyterlab:plugin';

export const CommandIds = {
  train: 'smlt:train',
  insertLoadCell: 'smlt:insert-load-cell',
  openReport: 'smlt:open-report'
} as const;

/** The server extension's routes live under `<base url>/smlt/`. */
export const API_NAMESPACE = 'smlt';

/** What the dialog collects; the plugin turns it into a run request. */
export interface TrainSettings {
  objective: 'time' | 'cost';
  /** Minutes; undefined when left empty. */
  deadlineMin?: number;
  budgetUsd?: number;
  backend: string;
}

/**
 * The notebook as the browser sends it: its JSON (unsaved edits included) and its path in
 * Jupyter's contents (relative to the server's root); the server extension turns the path into
 * the absolute `notebookDir`/`notebookPath` that `smlt serve` wants.
 */
export interface NotebookPayload {
  notebook: Record<string, unknown>;
  contentsPath: string;
}

export interface RunRequestBody {
  source: NotebookPayload;
  deadlineS?: number;
  budgetUsd?: number;
  objective?: 'time' | 'cost';
}

/** `POST /smlt/estimate` (the shared `Estimate`). */
export interface Estimate {
  workers: number;
  memoryMb: number;
  iterationsPerEpoch: number;
  epochs: number;
  timeS: { expected: number; low: number; high: number };
  costUsd: { expected: number; low: number; high: number };
  feasible: boolean;
  advice?: string;
}

export interface RunSummary {
  runId: string;
  name: string;
  /** Contents path of the notebook (relative to Jupyter's root), when it is under it. */
  contentsPath?: string;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled' | 'stopped-budget';
}

export interface RunArtifacts {
  runId: string;
  outDir: string;
  modelPath?: string;
  reportPath?: string;
}

/** `GET /smlt/config`: what the dialog offers. */
export interface ServerConfig {
  backends: { name: string; label: string; available: boolean; note?: string }[];
}

/** Failures of the API carry the code and, for bad input, the field to show the message beside. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

export type { RunEvent };
