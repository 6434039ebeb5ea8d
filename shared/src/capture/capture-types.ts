import type { Dataset } from '../data/dataset.js';
import type { JobSpec, TrainingConfig } from '../spec/job-spec.js';
import type { Param } from './search-space.js';

/** What capture takes and gives (capture.ts for tagged notebooks, keras-fit.ts for Keras ones). */

export interface Captured {
  spec: JobSpec;
  /** Shuffled once with `spec.training.seed`; `spec.data.hash` is the hash of its encoding. */
  dataset: Dataset;
  /** Present when freshly captured (not for a run read back from its store). */
  notes?: CaptureNotes;
  /** What a tfjs model cell declared with `hp` (sweep/hp.ts): the parameters a sweep may vary. */
  hyperParameters?: Param[];
}

/** What was found, for a user to check before anything starts (the prompt, `smlt plan`). */
export interface CaptureNotes {
  /** One line: the model, the data, the loss and optimizer, epochs and batch, and where they came from. */
  summary: string;
  /** What SMLT does differently from the notebook, or suspects is a mistake, with the fix. */
  warnings: string[];
  /** The output of the notebook's cells, when they were run (Keras notebooks). */
  logPath?: string;
}

export interface CaptureOptions {
  /** Folder that paths in the cells are relative to (the notebook's folder). */
  notebookDir: string;
  /** Job name, e.g. the notebook's file name without extension. */
  name: string;
  /** For messages and the spec's origin. */
  notebookPath?: string;
  overrides?: Partial<TrainingConfig>;
  /** The Python that runs a Keras notebook's cells (else the kernelspec's, SMLT_PYTHON, python3). */
  python?: string;
  /** Wall-clock limit for running a Keras notebook's cells up to model.fit. */
  pythonTimeoutS?: number;
  onProgress?: (message: string) => void;
}
