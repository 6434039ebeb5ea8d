/**
 * The training primitives a worker runs, as pure functions of a model and tensors. Synchronous
 * data-parallel SGD rests on two properties kept here:
 *
 * - `computeGradients` returns the gradient of the *mean* loss over its slice, flattened in
 *   `trainableWeights` order, so the average of n equal slices' gradients is the full batch's.
 * - `applyGradient` applies one flat gradient with the optimizer, and `encodeState`/`decodeState`
 *   carry weights and optimizer slots between processes *by position*, so every worker that
 *   applies the same averaged gradients holds the same weights.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SmltError } from '../errors.js';
import type { LossName, TrainingConfig } from '../spec/job-spec.js';

export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

/** Keras' fuzz factor: clips probabilities away from 0 and 1 and is the optimizers' epsilon. */
const EPSILON = 1e-7;

const CLASSIFICATION: ReadonlySet<LossName> = new Set([
  'categoricalCrossentropy',
  'sparseCategoricalCrossentropy',
  'binaryCrossentropy',
]);

/** The loss as a scalar mean over the batch (and over any axes between batch and classes). */
export function lossFunction(config: Pick<TrainingConfig, 'loss' | 'fromLogits'>): LossFn {
  const { loss, fromLogits } = config;
  switch (loss) {
    case 'categoricalCrossentropy':
      return (yTrue, yPred) => tf.tidy(() => categoricalCrossentropy(alignTarget(yTrue, yPred), yPred, fromLogits));
    case 'sparseCategoricalCrossentropy':
      return (yTrue, yPred) => tf.tidy(() => categoricalCrossentropy(oneHotTarget(yTrue, yPred), yPred, fromLogits));
    case 'binaryCrossentropy':
      return (yTrue, yPred) => tf.tidy(() => binaryCrossentropy(alignTarget(yTrue, yPred), yPred, fromLogits));
    case 'meanSquaredError':
      return (yTrue, yPred) => tf.tidy(() => tf.mean(tf.squaredDifference(yPred, alignTarget(yTrue, yPred))) as tf.Scalar);
    case 'meanAbsoluteError':
      return (yTrue, yPred) => tf.tidy(() => tf.mean(tf.abs(tf.sub(yPred, alignTarget(yTrue, yPred)))) as tf.Scalar);
    default:
      throw new SmltError('UNKNOWN_LOSS', `Unknown loss ${String(loss satisfies never)}.`);
  }
}

function categoricalCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  const logProbabilities = fromLogits
    ? tf.logSoftmax(yPred)
    : // As Keras: renormalize, then clip so log never sees 0.
      tf.log(tf.clipByValue(tf.div(yPred, tf.sum(yPred, -1, true)), EPSILON, 1 - EPSILON));
  return tf.neg(tf.mean(tf.sum(tf.mul(yTrue, logProbabilities), -1))) as tf.Scalar;
}

function binaryCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor, fromLogits: boolean): tf.Scalar {
  if (fromLogits) {
    // max(z, 0) − z·y + log(1 + e^−|z|): never exponentiates a large positive number.
    const z = yPred;
    return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, yTrue)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))) as tf.Scalar;
  }
  const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
  const perElement = tf.add(tf.mul(yTrue, tf.log(p)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, p))));
  return tf.neg(tf.mean(perElement)) as tf.Scalar;
}

/**
 * Targets shaped [N] against predictions [N, 1] (or the reverse) would broadcast to [N, N] and
 * give a wrong loss without any error: reshape when the sizes agree, refuse when they do not.
 */
function alignTarget(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  if (tf.util.arraysEqual(yTrue.shape, yPred.shape)) return yTrue;
  if (yTrue.size !== yPred.size) {
    throw new SmltError('SHAPE_MISMATCH', `Targets of shape [${yTrue.shape}] do not match predictions of shape [${yPred.shape}].`);
  }
  return tf.reshape(yTrue, yPred.shape);
}

/** Class indices ([N] or [N, 1], any numeric dtype) → one-hot rows shaped like the predictions. */
function oneHotTarget(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  const classes = yPred.shape[yPred.rank - 1];
  if (yTrue.size * classes !== yPred.size) {
    throw new SmltError(
      'SHAPE_MISMATCH',
      `Sparse targets of shape [${yTrue.shape}] need one class index per prediction row of [${yPred.shape}].`,
    );
  }
  const indices = tf.cast(tf.reshape(yTrue, [-1]), 'int32') as tf.Tensor1D;
  // int32 then cast: wasm's OneHot kernel ignores a float32 dtype (see tf/wasm-kernel-gaps.ts).
  return tf.reshape(tf.cast(tf.oneHot(indices, classes), 'float32'), yPred.shape);
}

/**
 * The optimizer named by the config, with Keras' defaults. Epsilons are explicit because tfjs
 * otherwise takes them from the active backend, which would tie the update to the backend.
 */
export function createOptimizer(config: Pick<TrainingConfig, 'optimizer' | 'learningRate'>): tf.Optimizer {
  const { optimizer, learningRate } = config;
  switch (optimizer) {
    case 'sgd':
      return tf.train.sgd(learningRate);
    case 'momentum':
      return tf.train.momentum(learningRate, 0.9);
    case 'adam':
      return tf.train.adam(learningRate, 0.9, 0.999, EPSILON);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, 0, EPSILON);
    case 'adagrad':
      return tf.train.adagrad(learningRate, 0.1);
    default:
      throw new SmltError('UNKNOWN_OPTIMIZER', `Unknown optimizer ${String(optimizer satisfies never)}.`);
  }
}

/** Length of the flat gradient: the number of trainable parameters. */
export function flatWeightCount(model: tfl.LayersModel): number {
  return trainableVariables(model).reduce((sum, v) => sum + v.size, 0);
}

/**
 * Gradient of the mean loss over (x, y), plus the model's regularization penalties, with respect
 * to `model.trainableWeights`, flattened in that order. Runs the model in training mode so
 * dropout and batch normalization behave as in `fit` (batch normalization also updates its
 * moving statistics, as `fit` does).
 *
 * The gradient is flattened on the backend and read once, asynchronously: a GPU backend cannot
 * read synchronously in Node (webgpu's `dataSync` needs an OffscreenCanvas), and one read-back
 * per step costs it far less than one per weight.
 */
export async function computeGradients(
  model: tfl.LayersModel,
  loss: LossFn,
  x: tf.Tensor,
  y: tf.Tensor,
): Promise<{ loss: number; gradient: Float32Array }> {
  const variables = trainableVariables(model);
  const { value, flat } = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => totalLoss(model, loss, x, y), variables);
    // A weight that does not reach the loss has no gradient: its slice is zero.
    const parts = variables.map((variable) => {
      const g = grads[variable.name];
      return g ? tf.reshape(g, [-1]) : tf.zeros([variable.size]);
    });
    return { value, flat: parts.length > 0 ? tf.concat(parts) : tf.zeros([0]) };
  });
  try {
    const [gradient, lossValue] = await Promise.all([flat.data<'float32'>(), value.data<'float32'>()]);
    return { loss: lossValue[0]!, gradient };
  } finally {
    tf.dispose([value, flat]);
  }
}

function totalLoss(model: tfl.LayersModel, loss: LossFn, x: tf.Tensor, y: tf.Tensor): tf.Scalar {
  const prediction = model.apply(x, { training: true });
  if (!(prediction instanceof tf.Tensor)) {
    throw new SmltError('MODEL_INVALID', 'SMLT trains models with one input and one output.');
  }
  return model.calculateLosses().reduce((sum, penalty) => tf.add(sum, penalty), loss(y, prediction));
}

/**
 * Applies one flat gradient (as computeGradients lays it out) with the optimizer, then projects
 * constrained weights as Keras does after each update. The gradient goes in as an array in
 * trainableWeights order because tfjs optimizers keep their slots by position.
 */
export function applyGradient(model: tfl.LayersModel, optimizer: tf.Optimizer, gradient: Float32Array): void {
  const variables = trainableVariables(model);
  const expected = flatWeightCount(model);
  if (gradient.length !== expected) {
    throw new SmltError('SHAPE_MISMATCH', `The gradient has ${gradient.length} values; the model has ${expected} trainable parameters.`);
  }
  tf.tidy(() => {
    let offset = 0;
    const named = variables.map((variable) => {
      const tensor = tf.tensor(gradient.subarray(offset, offset + variable.size), variable.shape, 'float32');
      offset += variable.size;
      return { name: variable.name, tensor };
    });
    optimizer.applyGradients(named);
  });
  for (const weight of model.trainableWeights) {
    const constraint = weight.constraint;
    if (constraint) {
      tf.tidy(() => {
        weight.write(constraint.apply(weight.read()));
      });
    }
  }
}

function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  // LayerVariable.read() hands out the underlying tf.Variable itself.
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Mean loss (and accuracy, for the classification losses) over (x, y) in inference mode, in
 * batches of `batchSize` samples to bound memory on a large holdout. Each batch's figures stay
 * on the backend until the end and are read then, asynchronously (as computeGradients reads).
 */
export async function evaluate(
  model: tfl.LayersModel,
  config: Pick<TrainingConfig, 'loss' | 'fromLogits'>,
  x: tf.Tensor,
  y: tf.Tensor,
  batchSize = 256,
): Promise<{ loss: number; accuracy?: number }> {
  const count = x.shape[0] ?? 0;
  if (count === 0 || y.shape[0] !== count) {
    throw new SmltError('DATA_INVALID', `evaluate needs as many targets as samples, at least one; got ${count} and ${y.shape[0]}.`);
  }
  const lossFn = lossFunction(config);
  const classification = CLASSIFICATION.has(config.loss);
  const batches: { size: number; loss: tf.Scalar; correct?: tf.Scalar; judged: number }[] = [];
  try {
    for (let start = 0; start < count; start += batchSize) {
      const size = Math.min(batchSize, count - start);
      batches.push(
        tf.tidy(() => {
          const xb = tf.slice(x, start, size);
          const yb = tf.slice(y, start, size);
          const prediction = model.apply(xb, { training: false }) as tf.Tensor;
          const batchLoss = lossFn(yb, prediction);
          if (!classification) return { size, loss: batchLoss, judged: 0 };
          const hits = correctPredictions(config, yb, prediction);
          return { size, loss: batchLoss, correct: tf.sum(hits) as tf.Scalar, judged: hits.size };
        }),
      );
    }
    let lossSum = 0;
    let correct = 0;
    let judged = 0;
    for (const batch of batches) {
      lossSum += (await batch.loss.data())[0]! * batch.size;
      if (batch.correct) correct += (await batch.correct.data())[0]!;
      judged += batch.judged;
    }
    return classification ? { loss: lossSum / count, accuracy: correct / judged } : { loss: lossSum / count };
  } finally {
    tf.dispose(batches.flatMap((b) => (b.correct ? [b.loss, b.correct] : [b.loss])));
  }
}

/** 1 where the prediction is right, 0 elsewhere: one entry per sample (per output for binary). */
function correctPredictions(config: Pick<TrainingConfig, 'loss' | 'fromLogits'>, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  switch (config.loss) {
    case 'categoricalCrossentropy':
      return tf.cast(tf.equal(tf.argMax(yPred, -1), tf.argMax(alignTarget(yTrue, yPred), -1)), 'float32');
    case 'sparseCategoricalCrossentropy': {
      const labels = tf.cast(tf.reshape(yTrue, yPred.shape.slice(0, -1)), 'int32');
      return tf.cast(tf.equal(tf.argMax(yPred, -1), labels), 'float32');
    }
    default: {
      // Binary: a logit above 0 is a probability above 0.5.
      const predicted = tf.greater(yPred, config.fromLogits ? 0 : 0.5);
      return tf.cast(tf.equal(predicted, tf.greater(alignTarget(yTrue, yPred), 0.5)), 'float32');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// State as bytes: "SMLT" · u32 header length · JSON header · zero padding to 8 · raw tensor bytes.
// ---------------------------------------------------------------------------------------------

const MAGIC = [0x53, 0x4d, 0x4c, 0x54]; // "SMLT"
const FORMAT_VERSION = 1;
const PREFIX_BYTES = 8;
const STATE_KIND = 'smlt-state';

type Storable = 'float32' | 'int32';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface DecodedTensor {
  name: string;
  dtype: Storable;
  shape: number[];
  /** A copy with its own buffer: safe to keep after the bytes are reused. */
  values: Float32Array | Int32Array;
}

interface TensorEntry {
  name: string;
  dtype: Storable;
  shape: number[];
  /** Byte offset from the start of the body. */
  offset: number;
}

interface Header {
  v: number;
  tensors: TensorEntry[];
  meta: Record<string, unknown>;
  /** SHA-256 (hex) of the body: a flipped or lost byte in the store or in transit is detected on read. */
  sha256?: string;
}

// The body is the typed arrays' memory as is; every platform SMLT runs on (x86-64, arm64) is
// little-endian, and the format says little-endian, so a big-endian host must not write it.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new SmltError('RUN_FAILED', 'SMLT state files are little-endian; this host is big-endian.');
}

/** Tensors (float32 or int32) → one buffer: a JSON header that names and places them, then their bytes. */
export async function encodeTensors(tensors: NamedTensor[], meta: Record<string, unknown> = {}): Promise<Uint8Array> {
  assertLittleEndian();
  let bodyBytes = 0;
  const entries: TensorEntry[] = tensors.map(({ name, tensor }) => {
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
      throw new SmltError('MODEL_INVALID', `Tensor ${name} is ${tensor.dtype}; SMLT stores float32 and int32 tensors.`);
    }
    const entry = { name, dtype: tensor.dtype, shape: [...tensor.shape], offset: bodyBytes };
    bodyBytes += tensor.size * 4;
    return entry;
  });
  const body = new Uint8Array(bodyBytes);
  // Read asynchronously: a GPU backend cannot read synchronously in Node.
  const views = await Promise.all(tensors.map(({ tensor }) => tensor.data() as Promise<Float32Array | Int32Array>));
  views.forEach((view, i) => body.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), entries[i]!.offset));
  const header: Header = { v: FORMAT_VERSION, tensors: entries, meta, sha256: sha256Hex(body) };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bodyStart = align8(PREFIX_BYTES + json.length);
  const bytes = new Uint8Array(bodyStart + bodyBytes);
  bytes.set(MAGIC, 0);
  new DataView(bytes.buffer).setUint32(4, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  bytes.set(body, bodyStart);
  return bytes;
}

/** The inverse of encodeTensors; the values are copies, independent of `bytes`. */
export function decodeTensors(bytes: Uint8Array): { tensors: DecodedTensor[]; meta: Record<string, unknown> } {
  assertLittleEndian();
  const corrupt = (why: string) => new SmltError('RUN_FAILED', `Not a readable SMLT state (${why}); it may be truncated or from another tool.`);
  if (bytes.length < PREFIX_BYTES || MAGIC.some((b, i) => bytes[i] !== b)) throw corrupt('no SMLT magic');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (PREFIX_BYTES + headerLength > bytes.length) throw corrupt('header past the end');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength))) as Header;
  } catch (err) {
    throw corrupt(`header is not JSON: ${(err as Error).message}`);
  }
  if (header.v !== FORMAT_VERSION) throw corrupt(`format version ${header.v}, this build reads ${FORMAT_VERSION}`);
  const bodyStart = align8(PREFIX_BYTES + headerLength);
  const bodyEnd = header.tensors.reduce((end, t) => Math.max(end, bodyStart + t.offset + tf.util.sizeFromShape(t.shape) * 4), bodyStart);
  if (bodyEnd > bytes.length) throw corrupt('the tensors run past the end');
  // States written before checksums were added carry none; every state written now does.
  if (header.sha256 !== undefined && sha256Hex(bytes.subarray(bodyStart, bodyEnd)) !== header.sha256) {
    throw new SmltError(
      'STORE_CORRUPT',
      'The state\'s bytes do not match the SHA-256 checksum in its header: it was corrupted in the store or in transit. ' +
        'Reading it again may succeed; if it keeps failing, resume the run from an earlier checkpoint.',
    );
  }
  const tensors = header.tensors.map(({ name, dtype, shape, offset }): DecodedTensor => {
    const length = tf.util.sizeFromShape(shape);
    const start = bodyStart + offset;
    if (start + length * 4 > bytes.length) throw corrupt(`tensor ${name} runs past the end`);
    // Copy into a fresh, aligned buffer (tfjs's cpu backend would otherwise keep a view of the
    // caller's bytes). Not `bytes.slice`: on a Node Buffer that is a view, not a copy.
    const raw = new Uint8Array(bytes.subarray(start, start + length * 4)).buffer;
    const values = dtype === 'int32' ? new Int32Array(raw) : new Float32Array(raw);
    return { name, dtype, shape, values };
  });
  return { tensors, meta: header.meta };
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * All model weights (non-trainable ones such as batch-norm statistics included) and the
 * optimizer's state (iteration count and slots), in position order. Names are kept only for
 * debugging: tfjs-layers suffixes them per process.
 */
export async function encodeState(model: tfl.LayersModel, optimizer: tf.Optimizer): Promise<Uint8Array> {
  const optimizerWeights = await optimizer.getWeights();
  try {
    const weights = model.weights.map((w) => ({ name: w.name, tensor: w.read() }));
    const powers = biasCorrectionPowers(optimizer);
    return await encodeTensors([...weights, ...optimizerWeights], {
      kind: STATE_KIND,
      weights: weights.length,
      optimizer: optimizer.getClassName(),
      ...(powers ? { biasCorrection: [(await powers.accBeta1.data())[0], (await powers.accBeta2.data())[0]] } : {}),
    });
  } finally {
    // getWeights() makes a fresh scalar for the iteration count; the slots are the optimizer's own.
    optimizerWeights[0]?.tensor.dispose();
  }
}

/**
 * Restores what encodeState wrote into a model of the same topology (variable names may differ)
 * and an optimizer of the same kind, replacing and disposing the optimizer's current slots.
 */
export async function decodeState(
  bytes: Uint8Array,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  /** Where the bytes came from (a store key), named in a checksum error. */
  source?: string,
): Promise<void> {
  const { tensors, meta } = decodeNamed(bytes, source);
  const weightCount = meta.weights;
  if (meta.kind !== STATE_KIND || typeof weightCount !== 'number' || weightCount > tensors.length) {
    throw new SmltError('RUN_FAILED', 'These bytes hold tensors but not an SMLT model state.');
  }
  if (meta.optimizer !== optimizer.getClassName()) {
    throw new SmltError(
      'SHAPE_MISMATCH',
      `The state holds ${String(meta.optimizer)} optimizer slots; the optimizer here is ${optimizer.getClassName()}.`,
    );
  }
  const weights = tensors.slice(0, weightCount);
  const optimizerState = tensors.slice(weightCount);
  checkShapes('weight', weights, model.weights.map((w) => w.shape as number[]));
  const trainableShapes = model.trainableWeights.map((w) => w.shape as number[]);
  const slots = optimizerState.slice(1);
  if (optimizerState.length === 0 || (trainableShapes.length === 0 ? slots.length > 0 : slots.length % trainableShapes.length !== 0)) {
    throw new SmltError('SHAPE_MISMATCH', `The optimizer state has ${slots.length} slots for ${trainableShapes.length} trainable weights.`);
  }
  // Each optimizer keeps k slot groups (Adam: first, then second moments), each in weight order.
  checkShapes('optimizer slot', slots, slots.map((_, i) => trainableShapes[i % trainableShapes.length]));

  tf.tidy(() => model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape, w.dtype))));
  const previous = await optimizer.getWeights();
  const restored = optimizerState.map((s) => ({ name: s.name, tensor: tf.tensor(s.values, s.shape, s.dtype) }));
  try {
    // setWeights wraps the tensors in new variables (sharing their data) and drops the old slots
    // without disposing them.
    await optimizer.setWeights(restored);
  } finally {
    tf.dispose(restored.map((r) => r.tensor));
  }
  tf.dispose(previous.map((p) => p.tensor));
  restoreBiasCorrection(optimizer, meta.biasCorrection);
}

/**
 * tfjs's Adam keeps its bias-correction powers beta1^t and beta2^t as running products outside
 * `getWeights()`, and its `setWeights()` recomputes them with `pow`, which can differ in the last
 * bits. Training amplifies such a difference (a weight 0.0085 away after one MNIST epoch with
 * about 30 restores), and a worker that restored mid-epoch would drift from those that never
 * stopped: so the state carries the exact powers, and a restore is exact.
 */
interface BiasCorrectionPowers {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

function biasCorrectionPowers(optimizer: tf.Optimizer): BiasCorrectionPowers | undefined {
  const { accBeta1, accBeta2 } = optimizer as unknown as Partial<BiasCorrectionPowers>;
  return accBeta1 instanceof tf.Variable && accBeta2 instanceof tf.Variable ? { accBeta1, accBeta2 } : undefined;
}

function restoreBiasCorrection(optimizer: tf.Optimizer, saved: unknown): void {
  const powers = biasCorrectionPowers(optimizer);
  // States written before the powers were recorded keep setWeights' recomputed ones.
  if (!powers || !Array.isArray(saved) || saved.length !== 2 || !saved.every((v) => typeof v === 'number')) return;
  tf.tidy(() => {
    powers.accBeta1.assign(tf.scalar(saved[0] as number));
    powers.accBeta2.assign(tf.scalar(saved[1] as number));
  });
}

/** decodeTensors, naming `source` when the bytes fail their checksum. */
function decodeNamed(bytes: Uint8Array, source: string | undefined): ReturnType<typeof decodeTensors> {
  try {
    return decodeTensors(bytes);
  } catch (err) {
    if (source === undefined || !(err instanceof SmltError) || err.code !== 'STORE_CORRUPT') throw err;
    throw new SmltError('STORE_CORRUPT', `${source}: ${err.message}`, { cause: err });
  }
}

function checkShapes(what: string, saved: DecodedTensor[], expected: number[][]): void {
  if (saved.length !== expected.length) {
    throw new SmltError('SHAPE_MISMATCH', `The state has ${saved.length} ${what}s; the model here needs ${expected.length}.`);
  }
  saved.forEach((s, i) => {
    if (!tf.util.arraysEqual(s.shape, expected[i])) {
      throw new SmltError(
        'SHAPE_MISMATCH',
        `${what} ${i} (${s.name}) is [${s.shape}] in the state but [${expected[i]}] in the model: not the same topology.`,
      );
    }
  });
}
