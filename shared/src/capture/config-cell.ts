import { SmltError, quoted } from '../errors.js';
import {
  DEFAULT_TRAINING,
  LOSSES,
  METRICS,
  OPTIMIZERS,
  type TrainingConfig,
  trainingSchema,
} from '../spec/job-spec.js';
import { parseCellMapping } from './cell-mapping.js';
import type { RoleCell } from './notebook.js';

/**
 * The training config: the config cell (optional) over `base` (DEFAULT_TRAINING, or what a Keras
 * model's compile and fit said), then the caller's overrides. Fields are camelCase; the Keras spellings users carry over from `model.fit` and
 * `model.compile` (batch_size, categorical_crossentropy, mse, ...) are accepted too.
 */
export function trainingConfig(
  cell: RoleCell | undefined,
  overrides: Partial<TrainingConfig> = {},
  base: TrainingConfig = DEFAULT_TRAINING,
): TrainingConfig {
  const where = cell ? cell.label : 'The training config';
  let fromCell: Record<string, unknown> = {};
  if (cell) {
    const parsed = parseCellMapping(cell, 'CONFIG_INVALID');
    if (typeof parsed === 'string') {
      throw new SmltError('CONFIG_INVALID', `${where} must hold "field: value" lines, e.g. "epochs: 2".`);
    }
    fromCell = parsed;
  }
  const merged = {
    ...base,
    ...normalizeFields(fromCell, where),
    ...normalizeFields(overrides, 'The training options'),
  };
  const result = trainingSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SmltError('CONFIG_INVALID', `${where}: field ${issue.path.join('.')}: ${issue.message}.`);
  }
  return result.data;
}

/** The fields a config cell sets (after Keras spellings are mapped), for callers that must know what it overrides. */
export function configCellFields(cell: RoleCell | undefined): (keyof TrainingConfig)[] {
  if (!cell) return [];
  const parsed = parseCellMapping(cell, 'CONFIG_INVALID');
  return typeof parsed === 'string' ? [] : Object.keys(parsed).flatMap((key) => fieldName(key) ?? []);
}

const FIELDS = Object.keys(DEFAULT_TRAINING) as (keyof TrainingConfig)[];
const FIELD_ALIASES: Record<string, keyof TrainingConfig> = { lr: 'learningRate' };
const LOSS_ALIASES: Record<string, string> = { mse: 'meanSquaredError', mae: 'meanAbsoluteError' };
const METRIC_ALIASES: Record<string, string> = {
  acc: 'accuracy',
  categoricalaccuracy: 'accuracy',
  sparsecategoricalaccuracy: 'accuracy',
  binaryaccuracy: 'accuracy',
};

function normalizeFields(input: Record<string, unknown>, where: string): Partial<Record<keyof TrainingConfig, unknown>> {
  const out: Partial<Record<keyof TrainingConfig, unknown>> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const field = fieldName(key);
    if (!field) {
      throw new SmltError(
        'CONFIG_INVALID',
        `${where}: unknown field ${quoted(key)}. Valid fields: ${FIELDS.join(', ')}.`,
      );
    }
    if (field === 'loss') out.loss = lossName(value, where);
    else if (field === 'optimizer') out.optimizer = optimizerName(value, where);
    else if (field === 'metrics') out.metrics = metricNames(value, where);
    else out[field] = value;
  }
  return out;
}

function fieldName(key: string): keyof TrainingConfig | undefined {
  const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return FIELD_ALIASES[key] ?? FIELDS.find((f) => f === camel);
}

/** Case, underscores and hyphens do not matter: categorical_crossentropy = CategoricalCrossentropy. */
function canonical(name: string): string {
  return name.replace(/[_\-\s]/g, '').toLowerCase();
}

function lossName(value: unknown, where: string): string {
  const name = typeof value === 'string' ? canonical(value) : '';
  const loss = LOSS_ALIASES[name] ?? LOSSES.find((l) => canonical(l) === name);
  if (!loss) {
    throw new SmltError(
      'UNKNOWN_LOSS',
      `${where}: unknown loss ${quoted(value)}. Choose one of: ${LOSSES.join(', ')} (Keras names such as ` +
        `categorical_crossentropy and mse work too).`,
    );
  }
  return loss;
}

function optimizerName(value: unknown, where: string): string {
  const name = typeof value === 'string' ? canonical(value) : '';
  const optimizer = OPTIMIZERS.find((o) => o === name);
  if (!optimizer) {
    throw new SmltError(
      'UNKNOWN_OPTIMIZER',
      `${where}: unknown optimizer ${quoted(value)}. Choose one of: ${OPTIMIZERS.join(', ')}.`,
    );
  }
  return optimizer;
}

function metricNames(value: unknown, where: string): string[] {
  const names: unknown[] = Array.isArray(value) ? value : [value];
  const metrics = names.map((m) => {
    const name = typeof m === 'string' ? canonical(m) : '';
    const metric = METRIC_ALIASES[name] ?? METRICS.find((known) => known === name);
    if (!metric) {
      throw new SmltError(
        'UNKNOWN_METRIC',
        `${where}: unknown metric ${quoted(m)}. Choose from: ${METRICS.join(', ')}.`,
      );
    }
    return metric;
  });
  return [...new Set(metrics)];
}
