import { SmltError } from '../errors.js';
import type { LossName } from '../spec/job-spec.js';
import type { Labels } from './loaders.js';

/**
 * Encodes labels as the loss expects them: one-hot for categorical cross-entropy, the class
 * index for sparse, 0/1 for binary, the value itself for regression.
 */

export interface EncodedTargets {
  y: Float32Array;
  /** Per sample. */
  yShape: number[];
  /** Class names, index = class id, when the labels are classes. */
  classes?: string[];
}

export const REGRESSION_LOSSES: readonly LossName[] = ['meanSquaredError', 'meanAbsoluteError'];

/** `outputs` is the model's output size: class ids must be below it. */
export function encodeLabels(labels: Labels, loss: LossName, source: string, outputs: number): EncodedTargets {
  if (labels.kind === 'targets') {
    checkFinite(labels.values, labels.shape, source);
    return { y: labels.values, yShape: labels.shape };
  }
  if (labels.kind === 'values') {
    const at = labels.values.findIndex((v) => typeof v === 'number' && !Number.isFinite(v));
    if (at >= 0) {
      throw new SmltError(
        'DATA_INVALID',
        `The label of sample ${at + 1} in ${source} is ${labels.values[at]}. Fill in or drop that sample.`,
      );
    }
  }
  if (REGRESSION_LOSSES.includes(loss)) return regressionTargets(labels, loss, source);
  // Binary labels are any two values (0/1, 1/2, -1/1, no/yes): they map to 0 and 1 in order.
  const { ids, classes } =
    labels.kind === 'classes' ? labels : classIds(labels.values, source, loss === 'binaryCrossentropy' ? undefined : { loss, outputs });
  if (new Set(ids).size < 2) {
    throw new SmltError(
      'DATA_INVALID',
      `Every label of ${source} is the same class (${classes[ids[0]] ?? 'none'}): a classifier needs samples of at least two classes. ` +
        'Check the label column, or use a regression loss (meanSquaredError) for a numeric target.',
    );
  }
  if (loss === 'categoricalCrossentropy') {
    const y = new Float32Array(ids.length * classes.length);
    ids.forEach((id, i) => (y[i * classes.length + id] = 1));
    return { y, yShape: [classes.length], classes };
  }
  if (loss === 'binaryCrossentropy' && classes.length > 2) {
    throw new SmltError(
      'DATA_INVALID',
      `binaryCrossentropy needs two classes but ${source} has ${classes.length} (${preview(classes)}). ` +
        `Use categoricalCrossentropy or sparseCategoricalCrossentropy.`,
    );
  }
  return { y: Float32Array.from(ids), yShape: [1], classes };
}

function regressionTargets(labels: Exclude<Labels, { kind: 'targets' }>, loss: LossName, source: string): EncodedTargets {
  const text = labels.kind === 'classes' ? labels.classes[0] : labels.values.find((v) => typeof v === 'string');
  if (labels.kind === 'classes' || text !== undefined) {
    throw new SmltError(
      'DATA_INVALID',
      `The labels of ${source} are class names (e.g. "${text}"), but ${loss} is a regression loss. ` +
        `Use categoricalCrossentropy or sparseCategoricalCrossentropy, or give numeric labels.`,
    );
  }
  return { y: Float32Array.from(labels.values as number[]), yShape: [1] };
}

/**
 * Class ids from labels as read. With `ids` (a categorical loss), integers are already class ids,
 * 0 to the model's outputs - 1 (so a class missing from the data keeps its number). Otherwise
 * (binary labels such as -1/1 or 1/2) integers and names map to their sorted order.
 */
function classIds(
  values: (string | number)[],
  source: string,
  ids: { loss: LossName; outputs: number } | undefined,
): { ids: Int32Array; classes: string[] } {
  if (values.every((v): v is number => typeof v === 'number')) {
    const fractional = values.find((v) => !Number.isInteger(v));
    if (fractional !== undefined) {
      throw new SmltError(
        'DATA_INVALID',
        `The labels of ${source} include ${fractional}, which is not a class number. For regression ` +
          `use loss meanSquaredError or meanAbsoluteError; for classification give integer or named classes.`,
      );
    }
    if (ids) {
      // Checked before anything is allocated per class: an id such as 2^40 is a mistake, not 2^40 classes.
      const wrong = values.find((v) => v < 0 || v >= ids.outputs);
      if (wrong !== undefined) {
        throw new SmltError(
          'DATA_INVALID',
          `The labels of ${source} include ${wrong}, but labels must be class ids 0..${ids.outputs - 1} for ${ids.loss} ` +
            `(the model has ${ids.outputs} outputs, one per class). Number the classes from 0, give the last layer one unit per class, or use named classes.`,
        );
      }
      const count = values.reduce((max, v) => Math.max(max, v), 0) + 1;
      return { ids: Int32Array.from(values), classes: Array.from({ length: count }, (_, c) => String(c)) };
    }
    const sorted = [...new Set(values)].sort((a, b) => a - b);
    return { ids: Int32Array.from(values, (v) => sorted.indexOf(v)), classes: sorted.map(String) };
  }
  const names = values.map(String);
  const classes = [...new Set(names)].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return { ids: Int32Array.from(names, (n) => index.get(n) ?? -1), classes };
}

function checkFinite(values: Float32Array, shape: number[], source: string): void {
  const at = values.findIndex((v) => !Number.isFinite(v));
  if (at < 0) return;
  const perSample = shape.reduce((a, b) => a * b, 1);
  throw new SmltError(
    'DATA_INVALID',
    `The targets of ${source} hold ${values[at]} at sample ${Math.floor(at / perSample) + 1}, ` +
      `value ${(at % perSample) + 1}. Fill in or drop that sample.`,
  );
}

function preview(names: string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')}, ...` : names.join(', ');
}
