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

export function encodeLabels(labels: Labels, loss: LossName, source: string): EncodedTargets {
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
    labels.kind === 'classes' ? labels : classIds(labels.values, source, loss !== 'binaryCrossentropy');
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
 * Class ids from labels as read. With `numbersAreIds`, non-negative integers are already ids
 * (0..max, so a class missing from the data keeps its number); other integers and names map to
 * their sorted order.
 */
function classIds(
  values: (string | number)[],
  source: string,
  numbersAreIds: boolean,
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
    if (numbersAreIds && values.every((v) => v >= 0)) {
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
