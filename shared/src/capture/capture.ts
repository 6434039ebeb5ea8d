import { basename, dirname, resolve } from 'node:path';
import { SmltError, isSmltError } from '../errors.js';
import { type Dataset, datasetHash, encodeDataset, shuffleDataset } from '../data/dataset.js';
import { type JobSpec, type TrainingConfig, jobSpecSchema } from '../spec/job-spec.js';
import { initBackend } from '../tf/backend.js';
import { trainingConfig } from './config-cell.js';
import { loadDataCell, parseDataCell } from './data-cell.js';
import { captureModelCell } from './model-cell.js';
import { type RoleCell, findRoleCells, readNotebookFile } from './notebook.js';
import { fitDataToModel } from './shapes.js';

/**
 * Notebook → JobSpec + dataset. Everything a run needs is read and checked here, so that a
 * mistake is reported, naming its cell, before anything is launched. Nothing here launches.
 */

export interface Captured {
  spec: JobSpec;
  /** Shuffled once with `spec.training.seed`; `spec.data.hash` is the hash of its encoding. */
  dataset: Dataset;
}

export interface CaptureOptions {
  /** Folder that paths in the cells are relative to (the notebook's folder). */
  notebookDir: string;
  /** Job name, e.g. the notebook's file name without extension. */
  name: string;
  /** For messages and the spec's origin. */
  notebookPath?: string;
  overrides?: Partial<TrainingConfig>;
}

export async function captureNotebook(path: string, overrides?: Partial<TrainingConfig>): Promise<Captured> {
  const notebook = await readNotebookFile(path);
  return captureNotebookJson(notebook, {
    notebookDir: dirname(resolve(path)),
    name: basename(path).replace(/\.ipynb$/i, ''),
    notebookPath: path,
    overrides,
  });
}

/** For editors, which hold the notebook's (possibly unsaved) content. */
export async function captureNotebookJson(notebook: unknown, options: CaptureOptions): Promise<Captured> {
  const cells = findRoleCells(notebook, options.notebookPath ?? `The notebook ${options.name}`);
  await initBackend();
  const model = await captureModelCell(cells.model, { notebookDir: options.notebookDir });
  const training = trainingConfig(cells.config, options.overrides);
  const request = parseDataCell(cells.data);
  const fitted = await naming(cells.data, async () => {
    const raw = await loadDataCell(request, cells.data, options.notebookDir);
    return fitDataToModel(raw, model, training.loss, { source: request.source, modelCell: cells.model.label });
  });
  const dataset = shuffleDataset(fitted, training.seed);
  const spec = {
    v: 1,
    name: options.name,
    origin: {
      ...(options.notebookPath === undefined ? {} : { notebook: options.notebookPath }),
      cells: {
        model: cells.model.index,
        data: cells.data.index,
        ...(cells.config ? { config: cells.config.index } : {}),
      },
    },
    model,
    data: {
      source: request.source,
      hash: datasetHash(encodeDataset(dataset)),
      count: dataset.count,
      xShape: dataset.xShape,
      yShape: dataset.yShape,
      ...(dataset.classes ? { classes: dataset.classes } : {}),
    },
    training,
  };
  const result = jobSpecSchema.safeParse(spec);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SmltError('CONFIG_INVALID', `The job spec is invalid at ${issue.path.join('.')}: ${issue.message}.`);
  }
  return { spec: result.data, dataset };
}

/** Prefixes the cell to errors about its content (file and line alone do not say which cell). */
async function naming<T>(cell: RoleCell, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!isSmltError(err) || err.message.includes(cell.label)) throw err;
    throw new SmltError(err.code, `${cell.label}: ${err.message}`, { cause: err });
  }
}
