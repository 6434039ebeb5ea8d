import { basename, dirname, resolve } from 'node:path';
import { SmltError, isSmltError } from '../errors.js';
import { type Dataset, datasetHash, encodeDataset, shuffleDataset, shuffleKeepingHoldout } from '../data/dataset.js';
import { DEFAULT_TRAINING, type JobSpec, type ModelSpec, type TrainingConfig, jobSpecSchema } from '../spec/job-spec.js';
import { backendInfo, initBackend } from '../tf/backend.js';
import { LAMBDA_MAX_MEMORY_MB, largestParamCount, profileOfBackend } from '../sizing/index.js';
import type { CaptureNotes, CaptureOptions, Captured } from './capture-types.js';
import { configCellFields, trainingConfig } from './config-cell.js';
import { loadDataCell, parseDataCell } from './data-cell.js';
import { lastActivation, logitsMismatch, trainingFromKerasCompile } from './keras-compile.js';
import { captureKerasFit } from './keras-fit.js';
import { captureModel } from './model-cell.js';
import { type RoleCell, isPythonNotebook, readNotebookFile, requireRoleCells, roleCellsOf } from './notebook.js';
import { fitDataToModel } from './shapes.js';
import type { Param } from './search-space.js';

export type { CaptureNotes, CaptureOptions, Captured } from './capture-types.js';

/**
 * Notebook → JobSpec + dataset. Everything a run needs is read and checked here, so that a
 * mistake is reported, naming its cell, before anything is launched. Nothing here launches.
 * A notebook with SMLT's cells (smlt:model, smlt:data) is read from them; a Python notebook
 * without a model cell is run to its Keras model.fit (keras-fit.ts).
 */

export async function captureNotebook(
  path: string,
  overrides?: Partial<TrainingConfig>,
  options: Pick<CaptureOptions, 'python' | 'pythonTimeoutS' | 'onProgress'> = {},
): Promise<Captured> {
  const notebook = await readNotebookFile(path);
  return captureNotebookJson(notebook, {
    ...options,
    notebookDir: dirname(resolve(path)),
    name: basename(path).replace(/\.ipynb$/i, ''),
    notebookPath: path,
    overrides,
  });
}

/** For editors, which hold the notebook's (possibly unsaved) content. */
export async function captureNotebookJson(notebook: unknown, options: CaptureOptions): Promise<Captured> {
  const where = options.notebookPath ?? `The notebook ${options.name}`;
  const roles = roleCellsOf(notebook, where);
  await initBackend();
  if (!roles.model && !roles.data && isPythonNotebook(notebook)) return captureKerasNotebook(notebook, roles.config, options);
  const cells = requireRoleCells(roles, where);
  const { model, compileConfig, hyperParameters } = await captureModel(cells.model, { notebookDir: options.notebookDir });
  const warnings: string[] = [];
  const training = trainingConfig(cells.config, options.overrides, compiledBase(compileConfig, cells, warnings));
  refuseTooLarge(model, training, cells.model.label);
  const request = parseDataCell(cells.data, options.notebookDir);
  const fitted = await naming(cells.data, async () => {
    const raw = await loadDataCell(request, cells.data, options.notebookDir);
    return fitDataToModel(raw, model, training.loss, { source: request.source, modelCell: cells.model.label });
  });
  const logits = logitsMismatch(lastActivation(model.topology), training);
  if (logits) warnings.push(logits);
  const summary =
    `model (${cells.model.label}, ${model.origin}, ${model.paramCount.toLocaleString('en-US')} parameters) · data ${request.source} ` +
    `${fitted.count}×${fitted.xShape.join('×')} · ${training.loss}${training.fromLogits ? ' (from logits)' : ''} · ` +
    `${training.optimizer}(learning rate ${training.learningRate}) · ${training.epochs} epochs, batch ${training.batchSize}`;
  return finish({
    options,
    cells: { model: cells.model.index, data: cells.data.index, ...(cells.config ? { config: cells.config.index } : {}) },
    model,
    training,
    source: request.source,
    dataset: shuffleDataset(fitted, training.seed),
    notes: { summary, warnings },
    ...(hyperParameters ? { hyperParameters } : {}),
  });
}

async function captureKerasNotebook(notebook: unknown, config: RoleCell | undefined, options: CaptureOptions): Promise<Captured> {
  const found = await captureKerasFit(notebook, config, options);
  const cell = found.fit.cell ?? 0;
  const { training } = found;
  refuseTooLarge(found.model, training, `The model \`${found.fit.names.model}\``);
  return finish({
    options,
    cells: { model: cell, data: cell, ...(config ? { config: config.index } : {}) },
    fit: { call: found.fit.call, model: found.fit.names.model, x: found.fit.names.x, y: found.fit.names.y },
    model: found.model,
    training,
    source: found.source,
    dataset:
      found.trainCount === undefined
        ? shuffleDataset(found.data, training.seed)
        : shuffleKeepingHoldout(found.data, found.trainCount, training.seed),
    notes: found.notes,
  });
}

/**
 * The training config a Keras 3 JSON model cell's compile settings give. A config cell that
 * sets the loss or optimizer says otherwise, so settings SMLT cannot honour only warn then.
 */
function compiledBase(compileConfig: unknown, cells: { model: RoleCell; config?: RoleCell }, warnings: string[]): TrainingConfig {
  if (compileConfig === undefined) return DEFAULT_TRAINING;
  try {
    const keras = trainingFromKerasCompile(compileConfig, cells.model.label);
    warnings.push(...keras.warnings);
    return { ...DEFAULT_TRAINING, ...keras.training };
  } catch (err) {
    const overridden = configCellFields(cells.config);
    if (!isSmltError(err) || !(overridden.includes('loss') && overridden.includes('optimizer'))) throw err;
    warnings.push(`${err.message} The config cell's loss and optimizer are used instead.`);
    return DEFAULT_TRAINING;
  }
}

/** A model no worker could hold is refused here, before its data is loaded or a worker allocates anything. */
function refuseTooLarge(model: ModelSpec, training: TrainingConfig, label: string): void {
  const info = backendInfo();
  // A webgpu worker's profile is measured later, by the run's probe; wasm's host footprint is where it falls back.
  const largest = largestParamCount(profileOfBackend(info.name === 'webgpu' ? 'wasm' : info.name, { simd: info.simd }), training.optimizer, LAMBDA_MAX_MEMORY_MB);
  if (model.paramCount <= largest) return;
  const count = (n: number) => n.toLocaleString('en-US');
  throw new SmltError(
    'MODEL_TOO_LARGE',
    `${label} has ${count(model.paramCount)} parameters (${formatBytes(model.paramCount * 4)} of float32 weights); ` +
      `with its gradients and ${training.optimizer}'s state the largest model a worker can train holds ${count(largest)} parameters ` +
      `(${count(LAMBDA_MAX_MEMORY_MB)} MB, the largest function). Use fewer or smaller layers.`,
  );
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  for (; bytes >= 1000 && i < units.length - 1; i++) bytes /= 1000;
  return `${bytes.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function finish(input: {
  options: CaptureOptions;
  cells: JobSpec['origin']['cells'];
  fit?: JobSpec['origin']['fit'];
  model: ModelSpec;
  training: TrainingConfig;
  source: string;
  dataset: Dataset;
  notes: CaptureNotes;
  hyperParameters?: Param[];
}): Captured {
  const { options, dataset } = input;
  const spec = {
    v: 1,
    name: options.name,
    origin: {
      ...(options.notebookPath === undefined ? {} : { notebook: options.notebookPath }),
      cells: input.cells,
      ...(input.fit ? { fit: input.fit } : {}),
    },
    model: input.model,
    data: {
      source: input.source,
      hash: datasetHash(encodeDataset(dataset)),
      count: dataset.count,
      xShape: dataset.xShape,
      yShape: dataset.yShape,
      ...(dataset.classes ? { classes: dataset.classes } : {}),
    },
    training: input.training,
  };
  const result = jobSpecSchema.safeParse(spec);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SmltError('CONFIG_INVALID', `The job spec is invalid at ${issue.path.join('.')}: ${issue.message}.`);
  }
  return { spec: result.data, dataset, notes: input.notes, ...(input.hyperParameters ? { hyperParameters: input.hyperParameters } : {}) };
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
