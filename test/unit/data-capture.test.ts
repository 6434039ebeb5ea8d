// Data and config cells: sources, label encoding per loss, shape checks, and every rejection.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { dump } from 'npyjs';
import { type Captured, captureNotebook, captureNotebookJson } from '@smlt/shared/capture/capture';
import { isSmltError, type SmltErrorCode } from '@smlt/shared/errors';
import { initBackend } from '@smlt/shared/tf/backend';
import { IRIS_MLP, folderWith, notebook } from './notebook-helpers.js';

const BAD = new URL('../fixtures/bad/', import.meta.url).pathname;

const failsWith = (code: SmltErrorCode, ...patterns: RegExp[]) => (err: Error) => {
  assert.ok(isSmltError(err, code), `expected ${code}, got ${String((err as { code?: string }).code)}: ${err.message}`);
  for (const pattern of patterns) assert.match(err.message, pattern);
  return true;
};

/** A dense model from `inputShape` to `units` outputs, as a tfjs model cell. */
const denseModel = (inputShape: number[], units: number, activation = 'softmax') =>
  inputShape.length === 1
    ? `const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [${inputShape[0]}], units: ${units}, activation: '${activation}' })] });`
    : `const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: ${JSON.stringify(inputShape)} }), ` +
      `tf.layers.dense({ units: ${units}, activation: '${activation}' })] });`;

function capture(
  data: string,
  options: { config?: string; model?: string; files?: Record<string, string | Uint8Array>; dir?: string } = {},
): Promise<Captured> {
  const cells = [
    { source: options.model ?? IRIS_MLP, tags: ['smlt:model'] },
    { source: data, tags: ['smlt:data'] },
    ...(options.config === undefined ? [] : [{ source: options.config, tags: ['smlt:config'] }]),
  ];
  const notebookDir = options.dir ?? folderWith(options.files);
  return captureNotebookJson(notebook(...cells), { notebookDir, name: 'test' });
}

const npy = (data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: number[]) => new Uint8Array(dump(data, shape));

const CSV = 'a,b,kind\n1,2,x\n3,4,y\n5,6,x\n7,8,z\n';

before(async () => {
  await initBackend();
});

describe('sources', () => {
  test('builtin:iris as a single line, a YAML field, or JSON', async () => {
    for (const data of ['builtin:iris', 'source: builtin:iris', '{"source": "builtin:IRIS"}']) {
      const { spec } = await capture(data);
      assert.equal(spec.data.count, 150);
      assert.deepEqual(spec.data.xShape, [4]);
      assert.deepEqual(spec.data.classes, ['setosa', 'versicolor', 'virginica']);
    }
  });

  test('CSV: label column chosen by name, the rest are features, class names sorted', async () => {
    const { spec, dataset } = await capture('source: t.csv\nlabel: kind', {
      files: { 't.csv': CSV },
      model: denseModel([2], 3),
      config: 'loss: sparse_categorical_crossentropy',
    });
    assert.deepEqual(spec.data.classes, ['x', 'y', 'z']);
    assert.deepEqual(spec.data.xShape, [2]);
    const rows = Array.from({ length: 4 }, (_, i) => [dataset.x[i * 2], dataset.x[i * 2 + 1], dataset.y[i]]);
    assert.deepEqual(rows.sort((p, q) => p[0] - q[0]), [
      [1, 2, 0],
      [3, 4, 1],
      [5, 6, 0],
      [7, 8, 2],
    ]);
  });

  test('JSON rows, like CSV rows', async () => {
    const rows = [
      { f1: 0.5, f2: 1, label: 'no' },
      { f1: 1.5, f2: 0, label: 'yes' },
      { f1: 2.5, f2: 1, label: 'yes' },
    ];
    const { spec } = await capture('source: rows.json\nlabel: label', {
      files: { 'rows.json': JSON.stringify(rows) },
      model: denseModel([2], 1, 'sigmoid'),
      config: 'loss: binaryCrossentropy',
    });
    assert.deepEqual(spec.data.classes, ['no', 'yes']);
    assert.deepEqual(spec.data.yShape, [1]);
  });

  test('.npy x and y (float32 images, int32 labels), reshaped to the model input', async () => {
    const x = Float32Array.from({ length: 6 * 16 }, (_, i) => (i % 16) / 16);
    const y = Int32Array.from([0, 1, 2, 3, 4, 0]);
    const { spec, dataset } = await capture('x: x.npy\ny: y.npy', {
      files: { 'x.npy': npy(x, [6, 16]), 'y.npy': npy(y, [6]) },
      model: denseModel([4, 4, 1], 5),
    });
    assert.equal(spec.data.source, 'x.npy + y.npy');
    assert.deepEqual(spec.data.xShape, [4, 4, 1]);
    assert.deepEqual(spec.data.yShape, [5]);
    assert.deepEqual(spec.data.classes, ['0', '1', '2', '3', '4']);
    assert.equal(dataset.y.reduce((a, b) => a + b, 0), 6, 'one-hot rows');
  });

  test('regression: numeric labels stay values; {x, y} JSON with vector targets is used as is', async () => {
    const x = Array.from({ length: 20 }, (_, i) => [i, i / 2]);
    const y = x.map(([a, b]) => a * 0.37 + b);
    const { spec, dataset } = await capture('source: reg.json', {
      files: { 'reg.json': JSON.stringify({ x, y }) },
      model: denseModel([2], 1, 'linear'),
      config: 'loss: mse',
    });
    assert.equal(spec.training.loss, 'meanSquaredError');
    assert.equal(spec.data.classes, undefined);
    const sorted = (values: ArrayLike<number>) => Array.from(Float32Array.from(values)).sort((a, b) => a - b);
    assert.deepEqual(sorted(dataset.y), sorted(y));
    const vectors = await capture('source: vec.json', {
      files: { 'vec.json': JSON.stringify({ x, y: x.map(([a, b]) => [a, b, a + b]) }) },
      model: denseModel([2], 3, 'linear'),
      config: 'loss: meanAbsoluteError',
    });
    assert.deepEqual(vectors.spec.data.yShape, [3]);
  });

  test('integer labels are class ids 0..max; binary labels are 0/1', async () => {
    const csv = 'v,label\n1,2\n2,0\n3,2\n4,0\n';
    const { spec } = await capture('source: c.csv\nlabel: label', {
      files: { 'c.csv': csv },
      model: denseModel([1], 3),
    });
    assert.deepEqual(spec.data.classes, ['0', '1', '2']);
    const binary = await capture('source: c.csv\nlabel: label', {
      files: { 'c.csv': 'v,label\n1,2\n2,1\n3,2\n' },
      model: denseModel([1], 1, 'sigmoid'),
      config: 'loss: binaryCrossentropy',
    });
    assert.deepEqual(binary.spec.data.classes, ['1', '2']);
    assert.deepEqual(new Set(binary.dataset.y), new Set([0, 1]));
  });
});

describe('rejected data', () => {
  test('CSV without a label field, or naming a missing column', async () => {
    await assert.rejects(capture('source: t.csv', { files: { 't.csv': CSV } }), failsWith('DATA_INVALID', /label: <column>/));
    await assert.rejects(
      capture('source: t.csv\nlabel: species', { files: { 't.csv': CSV } }),
      failsWith('DATA_INVALID', /no column "species"/, /a, b, kind/),
    );
  });

  test('a non-numeric feature names its column and line', async () => {
    await assert.rejects(
      capture('source: t.csv\nlabel: kind', { files: { 't.csv': 'a,b,kind\n1,2,x\n3,four,y\n' } }),
      failsWith('DATA_INVALID', /t\.csv line 3, column "b"/, /"four" is not a number/),
    );
  });

  test('NaN or Infinity in features or labels names where', async () => {
    await assert.rejects(
      capture('source: t.csv\nlabel: kind', { files: { 't.csv': 'a,b,kind\n1,NaN,x\n3,4,y\n' } }),
      failsWith('DATA_INVALID', /line 2, column "b"/, /not a finite number/),
    );
    await assert.rejects(
      capture('source: t.csv\nlabel: v', { files: { 't.csv': 'a,v\n1,2.5\n3,Infinity\n' }, config: 'loss: mse', model: denseModel([1], 1, 'linear') }),
      failsWith('DATA_INVALID', /line 3, label column "v"/),
    );
    const x = Float64Array.from([1, 2, 3, Number.NaN, 5, 6]);
    await assert.rejects(
      capture('x: x.npy\ny: y.npy', { files: { 'x.npy': npy(x, [3, 2]), 'y.npy': npy(Int32Array.from([0, 1, 0]), [3]) }, model: denseModel([2], 2) }),
      failsWith('DATA_INVALID', /sample 2, feature 2/),
    );
    await assert.rejects(
      capture('x: x.npy\ny: y.npy', {
        files: { 'x.npy': npy(Float32Array.from([1, 2, 3]), [3, 1]), 'y.npy': npy(Float64Array.from([1, Number.POSITIVE_INFINITY, 0]), [3]) },
        model: denseModel([1], 1, 'linear'),
        config: 'loss: mse',
      }),
      failsWith('DATA_INVALID', /label of sample 2 in x\.npy \+ y\.npy is Infinity/),
    );
  });

  test('an unreadable file is DATA_UNREADABLE with its path', async () => {
    const dir = folderWith();
    await assert.rejects(capture('source: gone.csv\nlabel: y', { dir }), failsWith('DATA_UNREADABLE', /gone\.csv/, new RegExp(dir)));
  });

  test('a cell with several problems names the missing file first, then every other problem, in one error', async () => {
    const dir = folderWith();
    await assert.rejects(
      capture('source: gone.csv\nlabels: y', { dir }),
      failsWith('DATA_UNREADABLE', /^cell 2 \(smlt:data\): \(1\) "source" names gone\.csv, which does not exist in /, /\(2\) unknown field "labels"/, /\(3\) a CSV source needs "label: <column>"/),
    );
    await assert.rejects(
      capture('x: features.csv\ny: labels.npy', { dir }),
      failsWith('DATA_UNREADABLE', /\(1\) "x" names features\.csv, which does not exist/, /\(2\) "y" names labels\.npy, which does not exist/, /\(3\) "x" and "y" name \.npy files; features\.csv is not one/),
    );
  });

  test('paths outside the notebook folder are refused', async () => {
    for (const source of ['../iris.csv', 'sub/../../iris.csv', join(BAD, 'x.csv')]) {
      await assert.rejects(capture(`source: ${source}\nlabel: y`), failsWith('DATA_INVALID', /outside the notebook's folder/));
    }
  });

  test('unknown sources, builtins and fields', async () => {
    await assert.rejects(capture('source: builtin:cifar'), failsWith('DATA_INVALID', /builtin:mnist, builtin:iris/));
    await assert.rejects(capture('source: data.parquet', { files: { 'data.parquet': 'PAR1' } }), failsWith('DATA_INVALID', /unknown data source/));
    await assert.rejects(capture('source: builtin:iris\nlabels: y'), failsWith('DATA_INVALID', /unknown field "labels"/, /source, label, x, y/));
    await assert.rejects(capture('x: only.npy', { files: { 'only.npy': npy(new Float32Array(4), [2, 2]) } }), failsWith('DATA_INVALID', /both/));
    await assert.rejects(capture('source: [1, 2'), failsWith('DATA_INVALID', /cell 2 \(smlt:data\) is not valid YAML/));
  });

  test('fewer than 2 samples', async () => {
    await assert.rejects(
      capture('source: one.csv\nlabel: y', { files: { 'one.csv': 'a,y\n1,0\n' }, model: denseModel([1], 1, 'sigmoid'), config: 'loss: binaryCrossentropy' }),
      failsWith('DATA_INVALID', /at least 2/),
    );
  });

  test('class names with a regression loss, or 3 classes with binary cross-entropy', async () => {
    await assert.rejects(capture('builtin:iris', { config: 'loss: mse', model: denseModel([4], 1, 'linear') }), failsWith('DATA_INVALID', /regression/));
    await assert.rejects(capture('builtin:iris', { config: 'loss: binary_crossentropy', model: denseModel([4], 1, 'sigmoid') }), failsWith('DATA_INVALID', /two classes/));
    await assert.rejects(
      capture('source: t.csv\nlabel: v', { files: { 't.csv': 'a,v\n1,0.5\n2,1.5\n' }, model: denseModel([1], 2) }),
      failsWith('DATA_INVALID', /0\.5, which is not a class number/),
    );
  });

  test('bad notebooks on disk', async () => {
    await assert.rejects(captureNotebook(join(BAD, 'escape-path.ipynb')), failsWith('DATA_INVALID', /outside the notebook's folder/));
    await assert.rejects(captureNotebook(join(BAD, 'two-model-cells.ipynb')), failsWith('NOTEBOOK_INVALID', /cell 1 \(smlt:model\)/, /cell 3 \(smlt:model\)/));
    await assert.rejects(captureNotebook(join(BAD, 'nbformat3.ipynb')), failsWith('NOTEBOOK_INVALID', /nbformat/));
  });
});

describe('shape checks', () => {
  test('features that do not fit the model input: SHAPE_MISMATCH naming both shapes', async () => {
    await assert.rejects(
      capture('builtin:iris', { model: denseModel([28, 28, 1], 3) }),
      failsWith('SHAPE_MISMATCH', /\[28, 28, 1\] \(784 values per sample\)/, /\[4\] \(4 values per sample\)/),
    );
  });

  test('class count must equal the output units', async () => {
    await assert.rejects(
      capture('builtin:iris', { model: denseModel([4], 5) }),
      failsWith('SHAPE_MISMATCH', /cell 2 \(smlt:data\): The model \(cell 1 \(smlt:model\)\) outputs 5 values but builtin:iris has 3 classes/),
    );
    await assert.rejects(
      capture('builtin:iris', { model: denseModel([4], 5), config: 'loss: sparseCategoricalCrossentropy' }),
      failsWith('SHAPE_MISMATCH', /outputs 5 values/),
    );
  });

  test('binary and regression need as many outputs as targets', async () => {
    const csv = 'a,y\n1,0\n2,1\n3,1\n';
    await assert.rejects(
      capture('source: b.csv\nlabel: y', { files: { 'b.csv': csv }, model: denseModel([1], 2), config: 'loss: binaryCrossentropy' }),
      failsWith('SHAPE_MISMATCH', /one probability per sample/),
    );
    await assert.rejects(
      capture('source: b.csv\nlabel: y', { files: { 'b.csv': csv }, model: denseModel([1], 3, 'linear'), config: 'loss: mae' }),
      failsWith('SHAPE_MISMATCH', /\[3\]/),
    );
  });
});

describe('config cell', () => {
  test('Keras spellings and YAML or JSON-like objects are accepted', async () => {
    const { spec } = await capture('builtin:iris', {
      config: '{ batch_size: 8, learning_rate: 0.01, validation_split: 0.1, from_logits: false, optimizer: RMSprop, metrics: acc, loss: categorical_crossentropy }',
    });
    assert.equal(spec.training.batchSize, 8);
    assert.equal(spec.training.learningRate, 0.01);
    assert.equal(spec.training.validationSplit, 0.1);
    assert.equal(spec.training.optimizer, 'rmsprop');
    assert.deepEqual(spec.training.metrics, ['accuracy']);
    assert.equal(spec.training.epochs, 2, 'defaults fill the rest');
  });

  test('unknown field, loss, optimizer, metric; an out-of-range value', async () => {
    await assert.rejects(capture('builtin:iris', { config: 'epochz: 3' }), failsWith('CONFIG_INVALID', /cell 3 \(smlt:config\)/, /"epochz"/, /epochs, batchSize/));
    await assert.rejects(
      capture('builtin:iris', { config: 'loss: hinge' }),
      failsWith('UNKNOWN_LOSS', /"hinge"/, /categoricalCrossentropy, sparseCategoricalCrossentropy/),
    );
    await assert.rejects(capture('builtin:iris', { config: 'optimizer: lion' }), failsWith('UNKNOWN_OPTIMIZER', /sgd, momentum, adam/));
    await assert.rejects(capture('builtin:iris', { config: 'metrics: [accuracy, auc]' }), failsWith('UNKNOWN_METRIC', /"auc"/));
    await assert.rejects(capture('builtin:iris', { config: 'epochs: 0' }), failsWith('CONFIG_INVALID', /field epochs/));
    await assert.rejects(capture('builtin:iris', { config: 'just text' }), failsWith('CONFIG_INVALID', /field: value/));
  });
});
