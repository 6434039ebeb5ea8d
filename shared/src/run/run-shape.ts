/**
 * What a run may be asked for, checked before anything is launched or written: its settings
 * (workers, memory), a batch that splits over the workers and fits the training split, and where
 * its outputs go.
 */
import type { StoreLocation } from '../backends/ports.js';
import type { Captured } from '../capture/capture.js';
import type { Dataset } from '../data/dataset.js';
import { SmltError } from '../errors.js';
import type { JobSpec } from '../spec/job-spec.js';
import type { RunOptions } from './run-options.js';
import type { RunSettings } from './run-state.js';

export function settingsFrom(options: RunOptions): RunSettings {
  const settings: RunSettings = {
    workers: options.workers,
    memoryMb: options.memoryMb,
    sync: options.sync ?? 'hierarchical',
    maxRetries: options.maxRetries ?? 3,
    ...(options.adaptive ? { adaptive: options.adaptive } : {}),
    ...(options.compute ? { compute: options.compute } : {}),
    syncTimeoutMs: options.syncTimeoutMs ?? 120_000,
  };
  if (!Number.isInteger(settings.workers) || settings.workers < 1 || settings.workers > 1000) {
    throw new SmltError('OPTION_INVALID', `--workers must be a whole number from 1 to 1000 (got ${settings.workers}).`);
  }
  const [low, high] = options.platform.memoryRangeMb;
  if (!Number.isInteger(settings.memoryMb) || settings.memoryMb < low || settings.memoryMb > high) {
    throw new SmltError('OPTION_INVALID', `--memory must be a whole number of MB from ${low} to ${high} (got ${settings.memoryMb}).`);
  }
  return settings;
}

/** The batch fits the training split and, with a worker count, splits evenly over it: checked before a run is planned or written. */
export function validateRunShape({ spec, dataset }: Pick<Captured, 'spec' | 'dataset'>, workers?: number): void {
  validateBatchFitsData(spec, dataset);
  if (workers !== undefined) validateBatch(spec, workers);
}

export function validateBatch(spec: JobSpec, workers: number): void {
  const batch = spec.training.batchSize;
  if (batch % workers !== 0) {
    const fits = [1, 2, 4, 8, 16, 32].filter((n) => batch % n === 0 && n <= batch).join(', ');
    throw new SmltError(
      'OPTION_INVALID',
      `The batch size ${batch} does not split evenly over ${workers} workers; choose --workers among ${fits}, ` +
        `or a batch size that is a multiple of ${workers} (e.g. --batch-size ${Math.ceil(batch / workers) * workers}).`,
    );
  }
}

/** A batch larger than the training split would give epochs of no iteration: refuse before anything is written. */
function validateBatchFitsData(spec: JobSpec, dataset: Dataset): void {
  const trainSamples = dataset.count - Math.round(dataset.count * spec.training.validationSplit);
  if (spec.training.batchSize > trainSamples) {
    throw new SmltError(
      'CONFIG_INVALID',
      `The batch size ${spec.training.batchSize} is larger than the ${trainSamples} training samples ` +
        `(${dataset.count} samples less the validationSplit of ${spec.training.validationSplit}); set batchSize to ${trainSamples} or less.`,
    );
  }
}

export function defaultOutDir(location: StoreLocation, runId: string, outRoot: string | undefined): string {
  if (outRoot !== undefined) return `${outRoot}/runs/${runId}`;
  if (location.kind !== 'folder') {
    throw new SmltError('OPTION_INVALID', 'Choose an output folder (--out) for runs whose store is not a local folder.');
  }
  return `${location.root}/runs/${runId}`;
}
