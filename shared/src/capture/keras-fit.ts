import { createHash } from 'node:crypto';
import { SmltError } from '../errors.js';
import { type RawData, loadNpy } from '../data/loaders.js';
import { DEFAULT_TRAINING, type TrainingConfig } from '../spec/job-spec.js';
import type { CaptureNotes, CaptureOptions } from './capture-types.js';
import { configCellFields, trainingConfig } from './config-cell.js';
import { lastActivation, logitsMismatch, trainingFromKerasCompile } from './keras-compile.js';
import { captureModel } from './model-cell.js';
import type { RoleCell } from './notebook.js';
import { codeCells } from './notebook.js';
import { type RecordedFit, captureLogPath, choosePython, runCellsToFit } from './python-cells.js';
import { fitDataToModel } from './shapes.js';
import type { Dataset } from '../data/dataset.js';
import type { ModelSpec } from '../spec/job-spec.js';

/**
 * An unmodified Keras notebook → what a run trains: its cells run (python-cells.ts) to the first
 * `model.fit`, whose model, compile settings, arguments and arrays become the model spec, the
 * training config and the dataset. An `smlt:config` cell still wins over what fit said.
 */

/** Held out for the run's accuracy when fit names no validation data (Keras then holds out none). */
export const KERAS_FIT_HOLDOUT = 0.1;

export interface KerasFitCapture {
  model: ModelSpec;
  training: TrainingConfig;
  /** The fitted data with the holdout (validation_data / validation_split) last, before shuffling. */
  data: Dataset;
  /** Samples before the holdout, when fit named one; shuffle only within each part. */
  trainCount?: number;
  source: string;
  fit: RecordedFit;
  notes: CaptureNotes;
}

export async function captureKerasFit(
  notebook: unknown,
  configCell: RoleCell | undefined,
  options: CaptureOptions,
): Promise<KerasFitCapture> {
  const { fit, logPath, model, raw } = await recordedFit(notebook, options);
  const cellIndex = fit.cell ?? 0;
  const label = fitLabel(fit);
  const keras = trainingFromKerasCompile(fit.compileConfig, label);
  const hasHoldout = fit.arrays.validation_x !== undefined;
  const base: TrainingConfig = {
    ...DEFAULT_TRAINING,
    ...keras.training,
    epochs: fit.fit.epochs,
    batchSize: fit.fit.batchSize,
    validationSplit: KERAS_FIT_HOLDOUT,
  };
  const training = trainingConfig(configCell, options.overrides, base);
  const splitInConfig = configCellFields(configCell).includes('validationSplit');
  const keepHoldout = hasHoldout && !splitInConfig;
  const source = `${fit.names.x ?? 'x'}, ${fit.names.y ?? 'y'} (${label})`;
  const data = fitDataToModel(raw.all, model, training.loss, { source, modelCell: label });
  if (keepHoldout) training.validationSplit = raw.holdoutCount / raw.all.count;
  const warnings = [...fit.warnings, ...keras.warnings];
  const logits = logitsMismatch(lastActivation(model.topology), training);
  if (logits) warnings.push(logits);
  if (!hasHoldout && !splitInConfig) {
    warnings.push(
      `fit names no validation data: SMLT holds out ${KERAS_FIT_HOLDOUT * 100} % of the samples to measure the run's ` +
        'accuracy (set validation_split, or validationSplit in an smlt:config cell).',
    );
  }
  const shapeText = (shape: number[]) => shape.join('×');
  const summary =
    `model \`${fit.names.model}\` (${fit.modelClass}, ${model.paramCount.toLocaleString('en-US')} parameters) · ` +
    `data \`${fit.names.x ?? 'x'}\` ${shapeText(fit.arrays.x.shape)}, \`${fit.names.y ?? 'y'}\` ${shapeText(fit.arrays.y.shape)}` +
    `${hasHoldout ? ` + ${raw.holdoutCount} validation samples` : ''} · ${keras.lossText} · ${keras.optimizerText} · ` +
    `${training.epochs} epoch${training.epochs === 1 ? '' : 's'}, batch ${training.batchSize} — from \`${fit.names.model}.fit\` in cell ${cellIndex + 1}`;
  return {
    model: { ...model, origin: 'keras-fit' },
    training,
    data,
    ...(keepHoldout ? { trainCount: raw.all.count - raw.holdoutCount } : {}),
    source,
    fit,
    notes: { summary, warnings, logPath },
  };
}

/** What running the cells to fit gave: the recorded call, its log, the built model and the arrays. */
interface RecordedRun {
  fit: RecordedFit;
  logPath: string;
  model: ModelSpec;
  raw: { all: RawData; holdoutCount: number };
}

/**
 * The last run of a notebook's cells, for the same cells, folder and Python: an editor's live
 * estimate and the start that follows it (or a second estimate) reuse it instead of running the
 * cells again. Kept briefly, since cells may read files that change: at most one, for 5 minutes.
 */
const RECENT_RUN_MS = 5 * 60_000;
let recentRun: { key: string; at: number; run: Promise<RecordedRun> } | undefined;

async function recordedFit(notebook: unknown, options: CaptureOptions): Promise<RecordedRun> {
  const python = await choosePython(options.python, notebook);
  const cells = codeCells(notebook);
  const key = createHash('sha256').update(JSON.stringify([python, options.notebookDir, cells])).digest('hex');
  if (recentRun && recentRun.key === key && Date.now() - recentRun.at < RECENT_RUN_MS) {
    options.onProgress?.('the notebook\'s cells are unchanged since they last ran to model.fit: reusing that run');
    return recentRun.run;
  }
  const run = runToFit(cells, python, options);
  const entry = { key, at: Date.now(), run };
  recentRun = entry;
  run.catch(() => {
    if (recentRun === entry) recentRun = undefined;
  });
  return run;
}

async function runToFit(cells: { index: number; source: string }[], python: string, options: CaptureOptions): Promise<RecordedRun> {
  const ran = await runCellsToFit({
    cells,
    cwd: options.notebookDir,
    python,
    ...(options.pythonTimeoutS === undefined ? {} : { timeoutS: options.pythonTimeoutS }),
    logPath: await captureLogPath(options.notebookDir, options.name),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  try {
    const { fit } = ran;
    const label = fitLabel(fit);
    const modelCell: RoleCell = { role: 'model', index: fit.cell ?? 0, source: JSON.stringify(fit.modelJson), firstLine: 1, label };
    const { model } = await captureModel(modelCell, { notebookDir: options.notebookDir });
    return { fit, logPath: ran.logPath, model, raw: await loadFitArrays(fit) };
  } finally {
    await ran.dispose();
  }
}

/** How messages name the fit call: "cell 7 (model.fit)". */
function fitLabel(fit: RecordedFit): string {
  return `cell ${(fit.cell ?? 0) + 1} (${fit.names.model}.fit)`;
}

/** The train arrays followed by the validation arrays, as one RawData (labels encoded together). */
async function loadFitArrays(fit: RecordedFit): Promise<{ all: RawData; holdoutCount: number }> {
  const { x, y, validation_x: vx, validation_y: vy } = fit.arrays;
  const xName = fit.names.x ?? 'x';
  const yName = fit.names.y ?? 'y';
  const train = await loadNpy(x.path, `\`${xName}\``, y.path, `\`${yName}\``);
  if (!vx || !vy) return { all: train, holdoutCount: 0 };
  const holdout = await loadNpy(vx.path, 'the validation x', vy.path, 'the validation y');
  return { all: concatRaw(train, holdout), holdoutCount: holdout.count };
}

function concatRaw(a: RawData, b: RawData): RawData {
  if (a.xShape.join() !== b.xShape.join()) {
    throw new SmltError('SHAPE_MISMATCH', `The validation x has samples of shape [${b.xShape}], the training x [${a.xShape}].`);
  }
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x, 0);
  x.set(b.x, a.x.length);
  let labels: RawData['labels'];
  if (a.labels.kind === 'values' && b.labels.kind === 'values') {
    labels = { kind: 'values', values: [...a.labels.values, ...b.labels.values] };
  } else if (a.labels.kind === 'targets' && b.labels.kind === 'targets' && a.labels.shape.join() === b.labels.shape.join()) {
    const values = new Float32Array(a.labels.values.length + b.labels.values.length);
    values.set(a.labels.values, 0);
    values.set(b.labels.values, a.labels.values.length);
    labels = { kind: 'targets', shape: a.labels.shape, values };
  } else {
    throw new SmltError('SHAPE_MISMATCH', 'The validation y and the training y have different shapes per sample.');
  }
  return { count: a.count + b.count, xShape: a.xShape, x, labels };
}
