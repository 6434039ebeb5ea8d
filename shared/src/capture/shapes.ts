import { SmltError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { encodeLabels, REGRESSION_LOSSES } from '../data/labels.js';
import type { RawData } from '../data/loaders.js';
import type { LossName, ModelSpec } from '../spec/job-spec.js';

/**
 * Fits the data to the model before anything is launched: features reshaped to the model's
 * input, labels encoded for the loss and checked against the model's output. A mismatch found
 * here costs the user seconds; found on a worker it would cost a deploy.
 */
export function fitDataToModel(
  raw: RawData,
  model: ModelSpec,
  loss: LossName,
  names: { source: string; modelCell: string },
): Dataset {
  const { source } = names;
  const theModel = `The model (${names.modelCell})`;
  if (raw.count < 2) {
    throw new SmltError('DATA_INVALID', `${source} has ${raw.count} sample(s); training needs at least 2.`);
  }
  checkFeaturesFinite(raw, source);
  const inputSize = product(model.inputShape);
  const featureSize = product(raw.xShape);
  if (featureSize !== inputSize) {
    throw new SmltError(
      'SHAPE_MISMATCH',
      `${theModel} expects input ${shape(model.inputShape)} (${inputSize} values per sample) but ${source} has ` +
        `${shape(raw.xShape)} (${featureSize} values per sample). Change the model's input shape or the data.`,
    );
  }
  const outputSize = product(model.outputShape);
  const targets = encodeLabels(raw.labels, loss, source, outputSize);
  const classCount = targets.classes?.length;
  if (classCount !== undefined && loss !== 'binaryCrossentropy' && !REGRESSION_LOSSES.includes(loss)) {
    if (classCount !== outputSize) {
      throw new SmltError(
        'SHAPE_MISMATCH',
        `${theModel} outputs ${outputSize} values but ${source} has ${classCount} classes (${loss} needs one ` +
          `output per class). Set the last layer's units to ${classCount}.`,
      );
    }
  } else if (product(targets.yShape) !== outputSize) {
    const needs = loss === 'binaryCrossentropy' ? 'one probability per sample' : `${shape(targets.yShape)} per sample`;
    throw new SmltError(
      'SHAPE_MISMATCH',
      `${theModel} outputs ${shape(model.outputShape)} (${outputSize} values) but ${loss} on ${source} needs ${needs}. ` +
        `Change the last layer's units or the loss.`,
    );
  }
  const dataset: Dataset = {
    count: raw.count,
    // The totals match, so reshaping is free: e.g. 784 features become [28, 28, 1].
    xShape: [...model.inputShape],
    // Targets that fill the output take its shape (one-hot [10], or e.g. [4, 2]); sparse class ids stay [1].
    yShape: product(targets.yShape) === outputSize ? [...model.outputShape] : targets.yShape,
    x: raw.x,
    y: targets.y,
  };
  if (targets.classes) dataset.classes = targets.classes;
  return dataset;
}

function checkFeaturesFinite(raw: RawData, source: string): void {
  const at = raw.x.findIndex((v) => !Number.isFinite(v));
  if (at < 0) return;
  const perSample = product(raw.xShape);
  throw new SmltError(
    'DATA_INVALID',
    `${source} has ${raw.x[at]} in sample ${Math.floor(at / perSample) + 1}, feature ${(at % perSample) + 1}. ` +
      `Fill in or drop that sample.`,
  );
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function shape(dims: number[]): string {
  return `[${dims.join(', ')}]`;
}
