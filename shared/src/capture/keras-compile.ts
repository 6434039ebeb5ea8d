import { SmltError } from '../errors.js';
import type { LossName, OptimizerName, TrainingConfig } from '../spec/job-spec.js';

/**
 * Keras `compile()` settings → SMLT's training config: the one table of which Keras losses,
 * optimizers and metrics SMLT trains with, and how. Input is Keras 3's `get_compile_config()`
 * (also the `compile_config` of a Keras 3 `to_json()`): strings as the user passed them, or
 * serialized objects `{class_name, config}`. What SMLT cannot honour is an error naming it, never
 * silently dropped; what it does not compute (an extra metric) is a warning.
 */

export interface KerasTraining {
  training: Partial<TrainingConfig>;
  warnings: string[];
  /** As Keras would print them, e.g. "SparseCategoricalCrossentropy(from_logits=True)", "Adam(learning_rate=0.001)". */
  lossText: string;
  optimizerText: string;
}

interface KerasLoss {
  loss: LossName;
  /** Config keys that must keep Keras' default for SMLT's loss to be the same loss. */
  defaults: Record<string, unknown>;
}

const CROSSENTROPY_DEFAULTS = { label_smoothing: 0, axis: -1 };

/** Keras loss (class or function name, canonical: lower case, no underscores) → SMLT loss. */
export const KERAS_LOSSES: Record<string, KerasLoss> = {
  categoricalcrossentropy: { loss: 'categoricalCrossentropy', defaults: CROSSENTROPY_DEFAULTS },
  sparsecategoricalcrossentropy: { loss: 'sparseCategoricalCrossentropy', defaults: { ignore_class: null, axis: -1 } },
  binarycrossentropy: { loss: 'binaryCrossentropy', defaults: CROSSENTROPY_DEFAULTS },
  meansquarederror: { loss: 'meanSquaredError', defaults: {} },
  mse: { loss: 'meanSquaredError', defaults: {} },
  meanabsoluteerror: { loss: 'meanAbsoluteError', defaults: {} },
  mae: { loss: 'meanAbsoluteError', defaults: {} },
};

interface KerasOptimizer {
  optimizer: OptimizerName;
  /** Parameters SMLT's optimizer has fixed, at Keras' defaults; other values are refused. */
  fixed: Record<string, unknown>;
}

/** Settings every Keras 3 optimizer has; SMLT applies none of them, so each must be off. */
const COMMON_OFF = {
  weight_decay: null,
  clipnorm: null,
  global_clipnorm: null,
  clipvalue: null,
  use_ema: false,
  loss_scale_factor: null,
  gradient_accumulation_steps: null,
};

/** Keras optimizer class (canonical) → SMLT optimizer; SGD picks sgd or momentum by its momentum. */
export const KERAS_OPTIMIZERS: Record<string, KerasOptimizer> = {
  adam: { optimizer: 'adam', fixed: { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false } },
  rmsprop: { optimizer: 'rmsprop', fixed: { rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false } },
  adagrad: { optimizer: 'adagrad', fixed: { initial_accumulator_value: 0.1, epsilon: 1e-7 } },
  sgd: { optimizer: 'sgd', fixed: { momentum: 0, nesterov: false } },
};
/** SGD with this momentum is SMLT's `momentum` optimizer (tfjs' momentum optimizer at 0.9). */
const SGD_MOMENTUM = 0.9;

/** Keras metrics SMLT reports (as `accuracy` on the held-out split). */
export const KERAS_ACCURACY_METRICS = new Set(['accuracy', 'acc', 'categoricalaccuracy', 'sparsecategoricalaccuracy', 'binaryaccuracy']);

/** Built-in Keras metrics SMLT does not compute: kept out of the run, with a warning. */
const KNOWN_UNCOMPUTED_METRICS = new Set([
  'mse', 'mae', 'meansquarederror', 'meanabsoluteerror', 'auc', 'precision', 'recall', 'topkcategoricalaccuracy',
  'sparsetopkcategoricalaccuracy', 'rootmeansquarederror', 'meanabsolutepercentageerror', 'crossentropy',
  'categoricalcrossentropy', 'sparsecategoricalcrossentropy', 'binarycrossentropy',
]);

export function trainingFromKerasCompile(compile: unknown, where: string): KerasTraining {
  if (!isRecord(compile)) {
    throw new SmltError('KERAS_UNSUPPORTED', `${where}: the model's compile settings are missing; call model.compile(optimizer=..., loss=...) before fit.`);
  }
  const warnings: string[] = [];
  const loss = kerasLoss(compile.loss, where);
  const optimizer = kerasOptimizer(compile.optimizer, where);
  const metrics = kerasMetrics(compile.metrics, where, warnings);
  for (const key of ['loss_weights', 'weighted_metrics'] as const) {
    if (compile[key] !== null && compile[key] !== undefined) {
      throw new SmltError('KERAS_UNSUPPORTED', `${where}: compile(${key}=...) is not supported by SMLT; remove it.`);
    }
  }
  return {
    training: { loss: loss.loss, fromLogits: loss.fromLogits, optimizer: optimizer.optimizer, learningRate: optimizer.learningRate, metrics },
    warnings,
    lossText: loss.text,
    optimizerText: optimizer.text,
  };
}

function kerasLoss(value: unknown, where: string): { loss: LossName; fromLogits: boolean; text: string } {
  if (value === null || value === undefined) {
    throw new SmltError('KERAS_UNSUPPORTED', `${where}: the model was compiled without a loss; pass loss=... to model.compile.`);
  }
  const { name, config, custom } = kerasObject(value);
  const known = custom ? undefined : KERAS_LOSSES[canonical(name)];
  if (!known) {
    throw new SmltError(
      'KERAS_UNSUPPORTED',
      `${where}: the loss ${custom ? `function ${name} is defined in the notebook` : `${name} is not one SMLT trains with`}. ` +
        `Use one of Keras' ${Object.values(KERAS_LOSSES).map((l) => l.loss).filter(unique).join(', ')} ` +
        '(e.g. loss="sparse_categorical_crossentropy" or keras.losses.SparseCategoricalCrossentropy(from_logits=True)).',
    );
  }
  checkDefaults(config, known.defaults, `${where}: the loss ${name}`);
  const fromLogits = config.from_logits === true;
  return { loss: known.loss, fromLogits, text: `${name}${fromLogits ? '(from_logits=True)' : ''}` };
}

function kerasOptimizer(value: unknown, where: string): { optimizer: OptimizerName; learningRate: number; text: string } {
  if (value === null || value === undefined) {
    throw new SmltError('KERAS_UNSUPPORTED', `${where}: the model was compiled without an optimizer; pass optimizer=... to model.compile.`);
  }
  const { name, config, custom } = kerasObject(value);
  const known = custom ? undefined : KERAS_OPTIMIZERS[canonical(name)];
  if (!known) {
    throw new SmltError(
      'KERAS_UNSUPPORTED',
      `${where}: the optimizer ${name} is not one SMLT trains with. Use Adam, SGD (momentum 0 or 0.9), RMSprop or Adagrad.`,
    );
  }
  const rate = config.learning_rate ?? defaultLearningRate(known.optimizer);
  if (typeof rate !== 'number' || !(rate > 0)) {
    throw new SmltError(
      'KERAS_UNSUPPORTED',
      `${where}: the ${name} optimizer's learning_rate is ${isRecord(rate) ? `a schedule (${String(rate.class_name)})` : JSON.stringify(rate)}; ` +
        'SMLT trains with a constant learning rate: pass a number.',
    );
  }
  // Keras keeps hyper-parameters as float32 (0.001 reads back as 0.0010000000474974513).
  const learningRate = Number(rate.toPrecision(7));
  let optimizer = known.optimizer;
  let fixed = known.fixed;
  if (optimizer === 'sgd' && typeof config.momentum === 'number' && approx(config.momentum, SGD_MOMENTUM)) {
    optimizer = 'momentum';
    fixed = { ...fixed, momentum: config.momentum };
  }
  checkDefaults(config, { ...COMMON_OFF, ...fixed }, `${where}: the ${name} optimizer`);
  const momentum = optimizer === 'momentum' ? `, momentum=${SGD_MOMENTUM}` : '';
  return { optimizer, learningRate, text: `${name}(learning_rate=${learningRate}${momentum})` };
}

/** Keras' own default learning rates, for an optimizer given by name ("adam"). */
function defaultLearningRate(optimizer: OptimizerName): number {
  return optimizer === 'sgd' || optimizer === 'momentum' ? 0.01 : 0.001;
}

function kerasMetrics(value: unknown, where: string, warnings: string[]): TrainingConfig['metrics'] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : isRecord(value) && !('class_name' in value) ? Object.values(value) : [value];
  let accuracy = false;
  const ignored: string[] = [];
  for (const metric of list.flat()) {
    const { name, custom } = kerasObject(metric);
    if (custom) {
      throw new SmltError(
        'KERAS_UNSUPPORTED',
        `${where}: the metric ${name} is defined in the notebook; SMLT reports loss and accuracy only. Remove it from compile(metrics=...).`,
      );
    }
    if (KERAS_ACCURACY_METRICS.has(canonical(name))) accuracy = true;
    else if (KNOWN_UNCOMPUTED_METRICS.has(canonical(name))) ignored.push(name);
    else throw new SmltError('KERAS_UNSUPPORTED', `${where}: the metric ${name} is not one SMLT knows; SMLT reports loss and accuracy.`);
  }
  if (ignored.length > 0) warnings.push(`The metrics ${ignored.join(', ')} are not computed by SMLT (it reports loss and accuracy).`);
  return accuracy ? ['accuracy'] : [];
}

/** A Keras value as compile() keeps it: a name, a function, or a `{class_name, config}` object. */
function kerasObject(value: unknown): { name: string; config: Record<string, unknown>; custom: boolean } {
  if (typeof value === 'string') return { name: value, config: {}, custom: false };
  if (isRecord(value) && typeof value.class_name === 'string') {
    const module = typeof value.module === 'string' ? value.module : 'keras';
    if (value.class_name === 'function') {
      // A plain function: keras.losses.mse is {module: "keras.losses", config: "mean_squared_error"}.
      const name = typeof value.config === 'string' ? value.config : 'function';
      return { name, config: {}, custom: !module.startsWith('keras') };
    }
    const config = isRecord(value.config) ? value.config : {};
    return { name: value.class_name, config, custom: !module.startsWith('keras') || typeof value.registered_name === 'string' };
  }
  return { name: JSON.stringify(value) ?? String(value), config: {}, custom: true };
}

function checkDefaults(config: Record<string, unknown>, defaults: Record<string, unknown>, what: string): void {
  for (const [key, expected] of Object.entries(defaults)) {
    if (!(key in config)) continue;
    const actual = config[key];
    const same = typeof expected === 'number' && typeof actual === 'number' ? approx(actual, expected) : actual === expected;
    if (!same) {
      throw new SmltError(
        'KERAS_UNSUPPORTED',
        `${what} sets ${key}=${JSON.stringify(actual)}; SMLT trains with ${key}=${JSON.stringify(expected)} only. ` +
          `Remove ${key} (or set it to ${JSON.stringify(expected)}) to train on SMLT.`,
      );
    }
  }
}

/**
 * The mistake that trains "successfully" to chance accuracy: a cross-entropy loss whose
 * `from_logits` does not match the last layer (linear output read as probabilities, or a
 * softmax/sigmoid output read as logits). Returns the warning, naming the fix.
 */
export function logitsMismatch(lastActivation: string | undefined, training: Pick<TrainingConfig, 'loss' | 'fromLogits'>): string | undefined {
  if (!training.loss.toLowerCase().includes('crossentropy') || lastActivation === undefined) return undefined;
  const squashed = lastActivation === 'softmax' || lastActivation === 'sigmoid';
  if (!squashed && lastActivation === 'linear' && !training.fromLogits) {
    return (
      `The model's last layer has no activation (it outputs logits) but the loss ${training.loss} expects probabilities. ` +
      'Use the loss with from_logits=True (e.g. keras.losses.SparseCategoricalCrossentropy(from_logits=True)), or add activation="softmax".'
    );
  }
  if (squashed && training.fromLogits) {
    return (
      `The model's last layer applies ${lastActivation} but the loss uses from_logits=True, which applies it again. ` +
      `Remove from_logits=True, or drop the ${lastActivation} activation.`
    );
  }
  return undefined;
}

/** The activation of the layer that produces the output of a tfjs/Keras topology. */
export function lastActivation(topology: Record<string, unknown>): string | undefined {
  const config = isRecord(topology.config) ? topology.config : undefined;
  const layers = Array.isArray(config?.layers) ? (config.layers as unknown[]).filter(isRecord) : [];
  let last = layers.at(-1);
  const outputs = config?.output_layers;
  if (Array.isArray(outputs) && Array.isArray(outputs[0]) && typeof outputs[0][0] === 'string') {
    last = layers.find((l) => isRecord(l.config) && l.config.name === outputs[0][0]) ?? last;
  }
  const activation = isRecord(last?.config) ? last.config.activation : undefined;
  if (typeof activation === 'string') return activation;
  // An Activation or Softmax layer at the end.
  if (last?.class_name === 'Softmax') return 'softmax';
  return undefined;
}

function canonical(name: string): string {
  return name.replace(/[_\-\s]/g, '').toLowerCase();
}

function approx(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
}

function unique<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
