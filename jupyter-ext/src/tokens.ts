/**
 * Names shared by the plugin's modules: the plugin id (it must be `<package name>:plugin` for
 * schema/plugin.json to apply), command ids, and the wire types of the server extension's API.
 */
import type { RunEvent } from '../../shared/dist/run/events.js';
import type { Estimate, RunArtifacts, RunRequest, RunSummary as ServiceRunSummary } from '../../shared/dist/service/run-service.js';
import type { SweepEstimate } from '../../shared/dist/sweep/run-sweep.js';
import type { SweepEvent } from '../../shared/dist/sweep/sweep-events.js';
import type { SweepSummary as ServiceSweepSummary } from '../../shared/dist/sweep/sweep-service.js';

export const PLUGIN_ID = 'smlt-jupyterlab:plugin';

export const CommandIds = {
  train: 'smlt:train',
  sweep: 'smlt:sweep',
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

/** What the sweep dialog collects: the sweep's limits and where its trials run. */
export interface SweepSettings {
  /** Minutes; undefined when left empty. */
  deadlineMin?: number;
  budgetUsd?: number;
  backend: string;
}

/**
 * `POST /smlt/sweeps` and `/smlt/sweeps/estimate`: a sweep reads the saved notebook, so the
 * browser names it by its contents path; the server extension adds the absolute path and the
 * kernel's interpreter.
 */
export interface SweepRequestBody {
  contentsPath: string;
  deadlineS?: number;
  budgetUsd?: number;
  backend?: string;
}

/** `GET /smlt/sweeps`: the sweep service's summaries, each with its notebook as a contents path. */
export type SweepSummary = Omit<ServiceSweepSummary, 'notebook'> & { contentsPath?: string };

/**
 * The notebook as the browser sends it: its JSON (unsaved edits included) and its path in
 * Jupyter's contents (relative to the server's root); the server extension turns the path into
 * the absolute `notebookDir`/`notebookPath` that `smlt serve` wants.
 */
export interface NotebookPayload {
  notebook: Record<string, unknown>;
  contentsPath: string;
}

/** `POST /smlt/runs` and `/smlt/estimate`: the run service's request, with the notebook as the browser has it. */
export type RunRequestBody = Pick<RunRequest, 'deadlineS' | 'budgetUsd' | 'objective'> & { source: NotebookPayload };

/**
 * `GET /smlt/runs`: the run service's summaries, each with its notebook as a contents path
 * (relative to Jupyter's root, when it is under it) instead of an absolute path.
 */
export type RunSummary = Omit<ServiceRunSummary, 'notebook'> & { contentsPath?: string };

/** `GET /smlt/config`: what the dialog offers. */
export interface ServerConfig {
  backends: { name: string; label: string; available: boolean; note?: string }[];
}

/** Failures of the API carry the code and, for bad input, the field to show the message beside. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string };
}

export type { Estimate, RunArtifacts, RunEvent, SweepEstimate, SweepEvent };
