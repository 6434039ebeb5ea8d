import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SmltError, errorMessage } from '../errors.js';

/**
 * Builds tfjs-layers models from a stored topology (`ModelSpec.topology`), optionally with
 * seeded initializers so every worker — and every rerun — starts from the same weights.
 */

/** Initializer classes whose config takes a `seed` (tfjs-layers names; `keras.ts` maps Keras spellings). */
const SEEDABLE_INITIALIZERS = new Set([
  'RandomNormal',
  'RandomUniform',
  'TruncatedNormal',
  'VarianceScaling',
  'GlorotUniform',
  'GlorotNormal',
  'HeNormal',
  'HeUniform',
  'LeCunNormal',
  'LeCunUniform',
  'Orthogonal',
]);

/** The JSON dictionary type tfjs-layers declares for topologies (not exported by name). */
type ModelTopology = Extract<Parameters<typeof tfl.models.modelFromJSON>[0], { modelTopology: unknown }>['modelTopology'];

registerInitializerChainedOps();

export async function buildModel(
  topology: Record<string, unknown>,
  options: { seed?: number } = {},
): Promise<tfl.LayersModel> {
  const config = options.seed === undefined ? topology : withInitializerSeeds(topology, options.seed);
  try {
    // Wrapped in `modelTopology` so a topology is never mistaken for a full model.json.
    return await tfl.models.modelFromJSON({ modelTopology: config as ModelTopology });
  } catch (err) {
    throw buildError(err, topology);
  }
}

export function countParams(model: tfl.LayersModel): number {
  return model.countParams();
}

/** The largest weight and the largest layer output per sample, in values (a GPU binds each tensor whole). */
export function largestTensorOf(model: tfl.LayersModel): { weightValues: number; activationValuesPerSample: number } {
  const size = (shape: readonly (number | null)[]) => shape.reduce<number>((a, d) => a * (d ?? 1), 1);
  const weightValues = Math.max(0, ...model.weights.map((w) => size(w.shape)));
  const outputs = model.layers.flatMap((layer) => {
    const shape = layer.outputShape;
    const shapes = (Array.isArray(shape[0]) ? shape : [shape]) as (number | null)[][];
    return shapes.map((s) => size(s.slice(1)));
  });
  return { weightValues, activationValuesPerSample: Math.max(0, ...outputs) };
}

/**
 * A copy of `topology` whose seedable initializers get seeds `seed`, `seed + 1`, ... in document
 * order. Distinct seeds per initializer keep layers of the same shape from starting identical.
 */
export function withInitializerSeeds(topology: Record<string, unknown>, seed: number): Record<string, unknown> {
  const copy = structuredClone(topology);
  let next = seed;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const node = value as Record<string, unknown>;
    const config = node.config;
    if (typeof node.class_name === 'string' && SEEDABLE_INITIALIZERS.has(node.class_name) && isRecord(config)) {
      config.seed = next++;
      return;
    }
    Object.values(node).forEach(visit);
  };
  visit(copy);
  return copy;
}

/**
 * tfjs-layers' Orthogonal initializer (the default recurrent kernel of LSTM and GRU) calls
 * chained tensor methods, which only the `@tensorflow/tfjs` union package registers; with
 * tfjs-core alone those layers fail with "rMat.flatten is not a function". Register just the
 * methods it calls, as the union package would, without replacing any that exist.
 */
function registerInitializerChainedOps(): void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const methods: Record<string, (this: tf.Tensor, ...args: number[][]) => tf.Tensor> = {
    flatten() {
      return tf.reshape(this, [this.size]);
    },
    reshape(shape) {
      return tf.reshape(this, shape);
    },
    transpose(perm) {
      return tf.transpose(this, perm);
    },
    sign() {
      return tf.sign(this);
    },
    stridedSlice(begin, end, strides) {
      return tf.stridedSlice(this, begin, end, strides);
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    if (!(name in proto)) proto[name] = method;
  }
}

/** Turns a tfjs build failure into an SmltError saying which layer and what to do. */
function buildError(err: unknown, topology: Record<string, unknown>): SmltError {
  const message = errorMessage(err);
  const unknown = /Unknown layer: ([\w>]+)/.exec(message);
  if (unknown) {
    const className = unknown[1];
    const names = layerNamesOfClass(topology, className);
    const which = names.length > 0 ? `layer "${names[0]}" (${className})` : `layer class ${className}`;
    return new SmltError(
      'MODEL_UNSUPPORTED_LAYER',
      `The model uses ${which}, which TensorFlow.js cannot build. Replace it with a supported ` +
        `layer, or do that step as preprocessing of the data and remove the layer from the model.`,
      { cause: err },
    );
  }
  return new SmltError('MODEL_INVALID', `The model cannot be built: ${message}`, { cause: err });
}

function layerNamesOfClass(value: unknown, className: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => layerNamesOfClass(v, className));
  if (!isRecord(value)) return [];
  if (value.class_name === className) {
    const name = value.name ?? (isRecord(value.config) ? value.config.name : undefined);
    return typeof name === 'string' ? [name] : [];
  }
  return Object.values(value).flatMap((v) => layerNamesOfClass(v, className));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
