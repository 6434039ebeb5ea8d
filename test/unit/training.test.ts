/**
 * The worker's training primitives: losses, optimizers, flat gradients, state bytes, and the
 * property data-parallel SGD rests on (n equal slices averaged = the full batch).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isSmltError } from '@smlt/shared/errors';
import {
  applyGradient,
  computeGradients,
  createOptimizer,
  decodeState,
  decodeTensors,
  encodeState,
  encodeTensors,
  evaluate,
  flatWeightCount,
  lossFunction,
} from '@smlt/shared/model/training';
import type { OptimizerName } from '@smlt/shared/spec/job-spec';
import { initBackend } from '@smlt/shared/tf/backend';

const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'rmsprop', 'adagrad'];
const RATES: Record<OptimizerName, number> = { sgd: 0.1, momentum: 0.05, adam: 0.01, rmsprop: 0.01, adagrad: 0.1 };

before(async () => {
  await initBackend();
});

/** A small classifier; seeded so two builds start from the same weights. */
function mlp(prefix: string, seed = 1, withBatchNorm = false): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ name: `${prefix}_hidden`, inputShape: [6], units: 8, activation: 'tanh', kernelInitializer: init(seed) }),
      ...(withBatchNorm ? [tfl.layers.batchNormalization({ name: `${prefix}_bn` })] : []),
      tfl.layers.dense({ name: `${prefix}_out`, units: 3, kernelInitializer: init(seed + 1), biasInitializer: 'ones' }),
    ],
  });
}

function data(samples: number, seed = 7): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomNormal([samples, 6], 0, 1, 'float32', seed);
  const y = tf.oneHot(tf.randomUniform([samples], 0, 3, 'int32', seed + 1) as tf.Tensor1D, 3);
  return { x, y };
}

const CE_LOGITS = lossFunction({ loss: 'categoricalCrossentropy', fromLogits: true });

function flatWeights(model: tfl.LayersModel, which: 'weights' | 'trainableWeights' = 'weights'): Float32Array {
  const parts = model[which].map((w) => w.read().dataSync());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** assert.ok without a message makes Node re-parse the source on failure: slow under tsx. */
function close(actual: number, expected: number, tolerance: number): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

function scalarOf(t: tf.Tensor): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

describe('lossFunction', () => {
  // Built inside the tests: describe bodies run before the backend is chosen.
  const logits = () =>
    tf.tensor2d([
      [2, -1, 0.5],
      [0, 3, -2],
    ]);
  const oneHot = () =>
    tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
    ]);

  it('categorical cross-entropy: logits and probabilities agree, and match the formula', () => {
    const fromLogits = scalarOf(CE_LOGITS(oneHot(), logits()));
    const probs = tf.softmax(logits());
    const fromProbs = scalarOf(lossFunction({ loss: 'categoricalCrossentropy', fromLogits: false })(oneHot(), probs));
    const p = probs.arraySync() as number[][];
    const expected = -(Math.log(p[0][0]) + Math.log(p[1][2])) / 2;
    close(fromLogits, expected, 1e-5);
    close(fromProbs, expected, 1e-5);
    probs.dispose();
  });

  it('sparse categorical equals categorical on the one-hot targets, for [N] and [N,1] labels', () => {
    const dense = scalarOf(CE_LOGITS(oneHot(), logits()));
    const sparse = lossFunction({ loss: 'sparseCategoricalCrossentropy', fromLogits: true });
    close(scalarOf(sparse(tf.tensor1d([0, 2]), logits())), dense, 1e-6);
    close(scalarOf(sparse(tf.tensor2d([[0], [2]]), logits())), dense, 1e-6);
  });

  it('is stable for extreme logits', () => {
    const huge = tf.tensor2d([[1000, -1000, 0]]);
    close(scalarOf(CE_LOGITS(tf.tensor2d([[1, 0, 0]]), huge)), 0, 1e-6);
    close(scalarOf(CE_LOGITS(tf.tensor2d([[0, 1, 0]]), huge)), 2000, 1e-3);
    const binary = lossFunction({ loss: 'binaryCrossentropy', fromLogits: true });
    const z = tf.tensor2d([[500], [-500]]);
    close(scalarOf(binary(tf.tensor2d([[1], [0]]), z)), 0, 1e-6);
    close(scalarOf(binary(tf.tensor2d([[0], [1]]), z)), 500, 1e-3);
  });

  it('binary cross-entropy: logits and probabilities agree', () => {
    const z = tf.tensor2d([[0.3], [-1.2], [2.5]]);
    const y = tf.tensor2d([[1], [0], [0]]);
    const fromLogits = scalarOf(lossFunction({ loss: 'binaryCrossentropy', fromLogits: true })(y, z));
    const fromProbs = scalarOf(lossFunction({ loss: 'binaryCrossentropy', fromLogits: false })(y, tf.sigmoid(z)));
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const expected = -(Math.log(s(0.3)) + Math.log(1 - s(-1.2)) + Math.log(1 - s(2.5))) / 3;
    close(fromLogits, expected, 1e-5);
    close(fromProbs, expected, 1e-5);
  });

  it('mean squared and absolute error; [N] targets against [N,1] predictions do not broadcast', async () => {
    const pred = tf.tensor2d([[1], [2], [4]]);
    const target = tf.tensor1d([1, 0, 1]);
    close(scalarOf(lossFunction({ loss: 'meanSquaredError', fromLogits: false })(target, pred)), 13 / 3, 1e-6);
    close(scalarOf(lossFunction({ loss: 'meanAbsoluteError', fromLogits: false })(target, pred)), 5 / 3, 1e-6);
    assert.throws(
      () => lossFunction({ loss: 'meanSquaredError', fromLogits: false })(tf.tensor1d([1, 2]), pred),
      (err) => isSmltError(err, 'SHAPE_MISMATCH'),
    );
  });
});

describe('createOptimizer', () => {
  it('builds each optimizer and rejects unknown names', async () => {
    const classes: Record<OptimizerName, string> = {
      sgd: 'SGD',
      momentum: 'Momentum',
      adam: 'Adam',
      rmsprop: 'RMSProp',
      adagrad: 'Adagrad',
    };
    for (const name of OPTIMIZERS) {
      const optimizer = createOptimizer({ optimizer: name, learningRate: 0.01 });
      assert.equal(optimizer.getClassName(), classes[name]);
      optimizer.dispose();
    }
    assert.throws(
      () => createOptimizer({ optimizer: 'lbfgs' as OptimizerName, learningRate: 0.01 }),
      (err) => isSmltError(err, 'UNKNOWN_OPTIMIZER'),
    );
  });
});

describe('flat gradients', () => {
  it('flatten in trainableWeights order and unflatten back onto the same weights', async () => {
    const model = mlp('flat');
    const { x, y } = data(16);
    assert.equal(flatWeightCount(model), 6 * 8 + 8 + 8 * 3 + 3);
    const { loss, gradient } = await computeGradients(model, CE_LOGITS, x, y);
    assert.equal(gradient.length, flatWeightCount(model));
    assert.ok(loss > 0, `loss ${loss}`);

    // Reference: tfjs's own per-variable gradients, concatenated in trainableWeights order.
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => CE_LOGITS(y, model.apply(x, { training: true }) as tf.Tensor),
      variables,
    );
    const reference = variables.flatMap((v) => Array.from(grads[v.name].dataSync()));
    close(maxAbsDiff(gradient, reference), 0, 1e-7);
    close(value.dataSync()[0], loss, 1e-7);
    tf.dispose([value, ...Object.values(grads)]);

    // SGD with rate 1 moves every weight by exactly minus its slice of the flat gradient.
    const before = flatWeights(model, 'trainableWeights');
    const optimizer = createOptimizer({ optimizer: 'sgd', learningRate: 1 });
    applyGradient(model, optimizer, gradient);
    const after = flatWeights(model, 'trainableWeights');
    close(maxAbsDiff(after, before.map((w, i) => w - gradient[i])), 0, 1e-6);

    assert.throws(() => applyGradient(model, optimizer, new Float32Array(3)), (err) => isSmltError(err, 'SHAPE_MISMATCH'));
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('includes regularization penalties and applies weight constraints after the update', async () => {
    const build = (regularized: boolean) =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({
            inputShape: [6],
            units: 3,
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
            ...(regularized ? { kernelRegularizer: tfl.regularizers.l2({ l2: 0.5 }), kernelConstraint: tfl.constraints.maxNorm({ maxValue: 0.1 }) } : {}),
          }),
        ],
      });
    const plain = build(false);
    const regularized = build(true);
    const { x, y } = data(8);
    const a = await computeGradients(plain, CE_LOGITS, x, y);
    const b = await computeGradients(regularized, CE_LOGITS, x, y);
    // d/dW of 0.5·ΣW² is W: the kernel slice differs by exactly the kernel.
    const kernel = regularized.trainableWeights[0].read().dataSync();
    const shifted = a.gradient.subarray(0, kernel.length).map((g, i) => g + kernel[i]);
    close(maxAbsDiff(b.gradient.subarray(0, kernel.length), shifted), 0, 1e-5);
    assert.ok(b.loss > a.loss, `regularized loss ${b.loss} ≤ plain ${a.loss}`);

    const optimizer = createOptimizer({ optimizer: 'sgd', learningRate: 1 });
    applyGradient(regularized, optimizer, new Float32Array(b.gradient.length).fill(-5));
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(regularized.trainableWeights[0].read()), 0)).dataSync());
    for (const n of norms) assert.ok(n <= 0.1 + 1e-6, `column norm ${n} exceeds maxNorm 0.1`);
    optimizer.dispose();
    plain.dispose();
    regularized.dispose();
    tf.dispose([x, y]);
  });

  it('leak no tensors', async () => {
    const model = mlp('leak', 1, true);
    const { x, y } = data(16);
    const optimizer = createOptimizer({ optimizer: 'adam', learningRate: 0.01 });
    // The first step creates the optimizer's slots; count from then on.
    applyGradient(model, optimizer, (await computeGradients(model, CE_LOGITS, x, y)).gradient);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { gradient } = await computeGradients(model, CE_LOGITS, x, y);
      applyGradient(model, optimizer, gradient);
    }
    await evaluate(model, { loss: 'categoricalCrossentropy', fromLogits: true }, x, y, 5);
    assert.equal(tf.memory().numTensors, before);
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('evaluate', () => {
  /** A model whose output is its input, so predictions are chosen by the test. */
  function identity(units: number): tfl.LayersModel {
    return tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [units], units, useBias: false, kernelInitializer: 'identity' })],
    });
  }

  it('accuracy for categorical, sparse and binary targets, over several batches', async () => {
    const model = identity(3);
    const predictions = tf.tensor2d([
      [0.7, 0.2, 0.1],
      [0.1, 0.8, 0.1],
      [0.3, 0.3, 0.4],
      [0.6, 0.3, 0.1],
      [0.2, 0.2, 0.6],
    ]);
    const labels = [0, 1, 1, 0, 0];
    const categorical = await evaluate(
      model,
      { loss: 'categoricalCrossentropy', fromLogits: false },
      predictions,
      tf.oneHot(tf.tensor1d(labels, 'int32'), 3),
      2,
    );
    assert.equal(categorical.accuracy, 3 / 5);
    const expectedLoss = -[0.7, 0.8, 0.3, 0.6, 0.2].reduce((s, p) => s + Math.log(p), 0) / 5;
    close(categorical.loss, expectedLoss, 1e-5);

    const sparse = await evaluate(model, { loss: 'sparseCategoricalCrossentropy', fromLogits: false }, predictions, tf.tensor2d(labels, [5, 1]), 2);
    assert.equal(sparse.accuracy, 3 / 5);
    close(sparse.loss, expectedLoss, 1e-5);

    const binaryModel = identity(1);
    const logits = tf.tensor2d([[2], [-1], [0.5], [-3]]);
    const binary = await evaluate(binaryModel, { loss: 'binaryCrossentropy', fromLogits: true }, logits, tf.tensor1d([1, 1, 0, 0]), 3);
    assert.equal(binary.accuracy, 2 / 4);

    const regression = await evaluate(binaryModel, { loss: 'meanSquaredError', fromLogits: false }, logits, tf.zeros([4, 1]));
    assert.equal(regression.accuracy, undefined);
    close(regression.loss, (4 + 1 + 0.25 + 9) / 4, 1e-6);
    model.dispose();
    binaryModel.dispose();
  });
});

describe('state bytes', () => {
  it('encodeTensors/decodeTensors round-trip names, shapes, dtypes and values', async () => {
    const a = tf.randomNormal([3, 4]);
    const b = tf.tensor1d([1, -2, 2 ** 30], 'int32');
    const s = tf.scalar(2.5);
    const bytes = await encodeTensors(
      [
        { name: 'a', tensor: a },
        { name: 'b', tensor: b },
        { name: 's', tensor: s },
      ],
      { note: 'x' },
    );
    // A copy at an odd offset: decoding must not depend on the caller's alignment.
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    const { tensors, meta } = decodeTensors(shifted);
    assert.deepEqual(meta, { note: 'x' });
    assert.deepEqual(
      tensors.map((t) => [t.name, t.dtype, t.shape]),
      [
        ['a', 'float32', [3, 4]],
        ['b', 'int32', [3]],
        ['s', 'float32', []],
      ],
    );
    assert.deepEqual(Array.from(tensors[0].values), Array.from(a.dataSync()));
    assert.deepEqual(Array.from(tensors[1].values), [1, -2, 2 ** 30]);
    assert.deepEqual(Array.from(tensors[2].values), [2.5]);
    // A Node Buffer (what fs and the stores return) whose slice() is a view into a shared pool.
    const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(bytes)]).subarray(3);
    assert.deepEqual(
      decodeTensors(pooled).tensors.map((t) => Array.from(t.values)),
      tensors.map((t) => Array.from(t.values)),
    );
    assert.throws(() => decodeTensors(bytes.subarray(0, bytes.length - 4)), (err) => isSmltError(err, 'RUN_FAILED'));
    assert.throws(() => decodeTensors(new TextEncoder().encode('{"not":"state"}')), (err) => isSmltError(err, 'RUN_FAILED'));
    tf.dispose([a, b, s]);
  });

  for (const name of OPTIMIZERS) {
    it(`restores weights and ${name} state into the same topology built under other names`, async () => {
      const source = mlp('src', 1, true);
      const sourceOptimizer = createOptimizer({ optimizer: name, learningRate: RATES[name] });
      const { x, y } = data(16);
      // Enough steps that Adam's running bias-correction powers differ from pow(beta, t) in the
      // last bits: the state must carry them, not let setWeights recompute them.
      for (let i = 0; i < 40; i++) applyGradient(source, sourceOptimizer, (await computeGradients(source, CE_LOGITS, x, y)).gradient);
      const bytes = await encodeState(source, sourceOptimizer);

      // Different layer names, different initial weights, an optimizer that already has slots.
      const target = mlp('dst', 42, true);
      assert.notEqual(target.weights[0].name, source.weights[0].name);
      const targetOptimizer = createOptimizer({ optimizer: name, learningRate: RATES[name] });
      applyGradient(target, targetOptimizer, (await computeGradients(target, CE_LOGITS, x, y)).gradient);
      const tensorsBefore = tf.memory().numTensors;
      await decodeState(bytes, target, targetOptimizer);
      assert.equal(tf.memory().numTensors, tensorsBefore, 'decodeState leaks or loses tensors');

      assert.deepEqual(flatWeights(target), flatWeights(source)); // batch-norm moving stats included
      const predict = (m: tfl.LayersModel) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync());
      assert.deepEqual(predict(target), predict(source));

      // Both compute the same gradient (which also moves both batch-norm statistics alike), and
      // the optimizers continue identically: same gradient in, same weights out.
      for (let i = 0; i < 2; i++) {
        const { gradient } = await computeGradients(source, CE_LOGITS, x, y);
        assert.deepEqual((await computeGradients(target, CE_LOGITS, x, y)).gradient, gradient);
        applyGradient(source, sourceOptimizer, gradient);
        applyGradient(target, targetOptimizer, gradient);
      }
      assert.deepEqual(flatWeights(target), flatWeights(source));
      // Optimizer slots too, position by position (names differ between the two models).
      const values = async (m: tfl.LayersModel, o: tf.Optimizer) =>
        decodeTensors(await encodeState(m, o)).tensors.map((t) => Array.from(t.values));
      assert.deepEqual(await values(target, targetOptimizer), await values(source, sourceOptimizer));

      for (const m of [source, target]) m.dispose();
      sourceOptimizer.dispose();
      targetOptimizer.dispose();
      tf.dispose([x, y]);
    });
  }

  it('refuses another optimizer kind or another topology', async () => {
    const model = mlp('ref');
    const adam = createOptimizer({ optimizer: 'adam', learningRate: 0.01 });
    const bytes = await encodeState(model, adam);
    const sgd = createOptimizer({ optimizer: 'sgd', learningRate: 0.01 });
    await assert.rejects(decodeState(bytes, model, sgd), (err) => isSmltError(err, 'SHAPE_MISMATCH'));
    const other = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 4 })] });
    await assert.rejects(decodeState(bytes, other, adam), (err) => isSmltError(err, 'SHAPE_MISMATCH'));
    for (const m of [model, other]) m.dispose();
    adam.dispose();
    sgd.dispose();
  });

  it('encodes a 1.07 M-parameter model fast', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [1069], units: 1000 })] });
    const optimizer = createOptimizer({ optimizer: 'sgd', learningRate: 0.01 });
    assert.equal(model.countParams(), 1_070_000);
    // Best of 5: a single 4 MB allocation can stall for a page-faulting or GC pause.
    let bytes: Uint8Array = new Uint8Array();
    let encodeMs = Infinity;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      bytes = await encodeState(model, optimizer);
      encodeMs = Math.min(encodeMs, performance.now() - started);
    }
    const decodeStarted = performance.now();
    await decodeState(bytes, model, optimizer);
    const decodeMs = performance.now() - decodeStarted;
    process.stdout.write(`# 1.07 M params: ${(bytes.length / 2 ** 20).toFixed(2)} MiB, encode ${encodeMs.toFixed(1)} ms, decode ${decodeMs.toFixed(1)} ms\n`);
    assert.ok(bytes.length < 1_070_000 * 4 + 4096, `${bytes.length} bytes`);
    assert.ok(encodeMs < 100, `encode took ${encodeMs} ms`);
    model.dispose();
    optimizer.dispose();
  });
});

describe('data-parallel equivalence', () => {
  for (const name of OPTIMIZERS) {
    it(`${name}: 4 averaged slices train the same weights as the full batch over 10 steps`, async () => {
      const full = mlp('full', 5);
      const sliced = mlp('sliced', 5);
      assert.deepEqual(flatWeights(full), flatWeights(sliced));
      const fullOptimizer = createOptimizer({ optimizer: name, learningRate: RATES[name] });
      const slicedOptimizer = createOptimizer({ optimizer: name, learningRate: RATES[name] });
      const workers = 4;
      const perWorker = 8;
      for (let step = 0; step < 10; step++) {
        const { x, y } = data(workers * perWorker, 100 + step);
        applyGradient(full, fullOptimizer, (await computeGradients(full, CE_LOGITS, x, y)).gradient);

        const average = new Float32Array(flatWeightCount(sliced));
        for (let w = 0; w < workers; w++) {
          const xs = tf.slice(x, w * perWorker, perWorker);
          const ys = tf.slice(y, w * perWorker, perWorker);
          const { gradient } = await computeGradients(sliced, CE_LOGITS, xs, ys);
          for (let i = 0; i < gradient.length; i++) average[i] += gradient[i] / workers;
          tf.dispose([xs, ys]);
        }
        applyGradient(sliced, slicedOptimizer, average);
        tf.dispose([x, y]);
      }
      const diff = maxAbsDiff(flatWeights(full), flatWeights(sliced));
      close(diff, 0, 1e-5);
      // And training did move them.
      const moved = maxAbsDiff(flatWeights(full), flatWeights(mlp('start', 5)));
      assert.ok(moved > 1e-3, `weights moved only ${moved}`);
      for (const m of [full, sliced]) m.dispose();
      fullOptimizer.dispose();
      slicedOptimizer.dispose();
    });
  }
});

