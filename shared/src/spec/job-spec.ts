import { z } from 'zod';

/**
 * A JobSpec is everything a worker needs to train, captured once from a notebook and stored
 * with the run. The dataset itself travels separately (see `data/dataset.ts`): the spec only
 * names it, by content hash.
 */

/** How workers aggregate gradients through the store (sync/): SMLT's scatter-reduce, or one aggregator. */
export type SyncName = 'hierarchical' | 'flat';

export const LOSSES = [
  'categoricalCrossentropy',
  'sparseCategoricalCrossentropy',
  'binaryCrossentropy',
  'meanSquaredError',
  'meanAbsoluteError',
] as const;
export type LossName = (typeof LOSSES)[number];

export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export const METRICS = ['accuracy'] as const;
export type MetricName = (typeof METRICS)[number];

export const trainingSchema = z
  .object({
    epochs: z.number().int().min(1).max(10_000),
    /** Global batch: split evenly across workers each iteration. */
    batchSize: z.number().int().min(1).max(1_000_000),
    optimizer: z.enum(OPTIMIZERS),
    learningRate: z.number().positive().max(10),
    loss: z.enum(LOSSES),
    /** The model outputs logits (no softmax/sigmoid); the loss applies it. */
    fromLogits: z.boolean(),
    metrics: z.array(z.enum(METRICS)),
    /** Fraction of samples held out for evaluation (never trained on). */
    validationSplit: z.number().min(0).max(0.9),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
  })
  .strict();
export type TrainingConfig = z.infer<typeof trainingSchema>;

export const DEFAULT_TRAINING: TrainingConfig = {
  epochs: 2,
  batchSize: 64,
  optimizer: 'adam',
  learningRate: 0.001,
  loss: 'categoricalCrossentropy',
  fromLogits: false,
  metrics: ['accuracy'],
  validationSplit: 0.2,
  seed: 42,
};

export const modelSchema = z.object({
  /** What the user wrote: tfjs code, Keras `to_json()`, a tfjs `model.json` path, or a Keras model at its `model.fit`. */
  origin: z.enum(['tfjs-code', 'keras-json', 'tfjs-model-json', 'keras-fit']),
  /** tfjs-layers topology (what `model.toJSON(null, false)` returns), loadable by `modelFromJSON`. */
  topology: z.record(z.string(), z.unknown()),
  paramCount: z.number().int().nonnegative(),
  /** Per-sample input and output shapes (no batch dimension). */
  inputShape: z.array(z.number().int().positive()),
  outputShape: z.array(z.number().int().positive()),
});
export type ModelSpec = z.infer<typeof modelSchema>;

export const dataRefSchema = z.object({
  /** As the user wrote it: `builtin:mnist`, `iris.csv`, ... */
  source: z.string().min(1),
  /** sha256 of the encoded dataset (`encodeDataset`). */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  count: z.number().int().positive(),
  xShape: z.array(z.number().int().positive()),
  yShape: z.array(z.number().int().positive()),
  /** Class names when labels are categorical. */
  classes: z.array(z.string()).optional(),
});
export type DataRef = z.infer<typeof dataRefSchema>;

export const constraintsSchema = z
  .object({
    deadlineS: z.number().positive().optional(),
    budgetUsd: z.number().positive().optional(),
    objective: z.enum(['time', 'cost']).default('time'),
  })
  .strict();
export type Constraints = z.infer<typeof constraintsSchema>;

export const jobSpecSchema = z.object({
  v: z.literal(1),
  name: z.string().min(1).max(200),
  /** Where it came from, for messages: notebook path and cell indexes (0-based). */
  origin: z.object({
    notebook: z.string().optional(),
    cells: z.object({ model: z.number().int(), data: z.number().int(), config: z.number().int().optional() }),
    /** A Keras notebook's `fit` call: the variables it names, so a client can put the weights back into `model`. */
    fit: z
      .object({ call: z.string(), model: z.string(), x: z.string().nullable(), y: z.string().nullable() })
      .optional(),
  }),
  model: modelSchema,
  data: dataRefSchema,
  training: trainingSchema,
});
export type JobSpec = z.infer<typeof jobSpecSchema>;
