// Notebook capture: finding cells, tfjs model code in the vm, the examples end to end.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { captureNotebook, captureNotebookJson } from '@smlt/shared/capture/capture';
import { captureModelCell } from '@smlt/shared/capture/model-cell';
import { findRoleCells } from '@smlt/shared/capture/notebook';
import { datasetHash, encodeDataset } from '@smlt/shared/data/dataset';
import { isSmltError, type SmltErrorCode } from '@smlt/shared/errors';
import { jobSpecSchema } from '@smlt/shared/spec/job-spec';
import { initBackend } from '@smlt/shared/tf/backend';
import { IRIS_MLP, folderWith, modelCell, notebook } from './notebook-helpers.js';

const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;

const failsWith = (code: SmltErrorCode, ...patterns: RegExp[]) => (err: Error) => {
  assert.ok(isSmltError(err, code), `expected ${code}, got ${String((err as { code?: string }).code)}: ${err.message}`);
  for (const pattern of patterns) assert.match(err.message, pattern);
  return true;
};

before(async () => {
  await initBackend();
});

describe('finding cells', () => {
  test('by tag, with source as a list of lines', () => {
    const cells = findRoleCells(
      notebook(
        { type: 'markdown', source: ['# Title\n'] },
        { source: ['const model = 1;\n', 'model'], tags: ['smlt:model'] },
        { source: 'source: builtin:iris', tags: ['other', 'SMLT:data'] },
      ),
    );
    assert.equal(cells.model.index, 1);
    assert.equal(cells.model.source, 'const model = 1;\nmodel');
    assert.equal(cells.model.label, 'cell 2 (smlt:model)');
    assert.equal(cells.data.label, 'cell 3 (smlt:data)');
    assert.equal(cells.config, undefined);
  });

  test('by first-line marker, in any case and spacing, which is stripped', () => {
    const cells = findRoleCells(
      notebook(
        { source: '\n//smlt:MODEL\nconst model = 1;' },
        { source: '#  SMLT : data\nsource: builtin:iris' },
        { source: '# smlt:config\nepochs: 3' },
      ),
    );
    assert.equal(cells.model.source, 'const model = 1;');
    assert.equal(cells.model.firstLine, 3);
    assert.equal(cells.data.source, 'source: builtin:iris');
    assert.equal(cells.config?.source, 'epochs: 3');
  });

  test('a Markdown heading is not a marker, and a marker later in a cell does not count', () => {
    assert.throws(
      () => findRoleCells(notebook({ type: 'markdown', source: '# smlt: model' }, { source: 'x = 1\n# smlt: data' })),
      failsWith('MODEL_CELL_MISSING', /smlt:model/),
    );
  });

  test('a missing data cell is DATA_CELL_MISSING', () => {
    assert.throws(() => findRoleCells(notebook({ source: '// smlt: model\n' })), failsWith('DATA_CELL_MISSING', /smlt:data/));
  });

  test('two cells with one role are NOTEBOOK_INVALID naming both', () => {
    assert.throws(
      () =>
        findRoleCells(
          notebook(
            { type: 'markdown', source: 'intro' },
            { source: 'a', tags: ['smlt:model'] },
            { source: 'source: builtin:iris', tags: ['smlt:data'] },
            { source: '// smlt: model\nb' },
          ),
        ),
      failsWith('NOTEBOOK_INVALID', /cell 2 \(smlt:model\)/, /cell 4 \(smlt:model\)/),
    );
  });

  test('one cell with two roles is NOTEBOOK_INVALID', () => {
    assert.throws(
      () => findRoleCells(notebook({ source: '# smlt: data\nx', tags: ['smlt:model'] })),
      failsWith('NOTEBOOK_INVALID', /Cell 1/),
    );
  });

  test('not nbformat 4, or not a notebook, is NOTEBOOK_INVALID', () => {
    for (const doc of [{ nbformat: 3, worksheets: [] }, [], 'text', { nbformat: 4 }, { nbformat: 4, cells: [{ source: 7 }] }]) {
      assert.throws(() => findRoleCells(doc), failsWith('NOTEBOOK_INVALID'));
    }
  });

  test('a file that is not JSON is NOTEBOOK_INVALID; a missing file NOTEBOOK_UNREADABLE', async () => {
    const dir = folderWith({ 'broken.ipynb': '{"cells": [' });
    await assert.rejects(captureNotebook(join(dir, 'broken.ipynb')), failsWith('NOTEBOOK_INVALID', /broken\.ipynb/));
    await assert.rejects(captureNotebook(join(dir, 'missing.ipynb')), failsWith('NOTEBOOK_UNREADABLE', /missing\.ipynb/));
  });
});

describe('tfjs model code', () => {
  const capture = (source: string, timeoutMs?: number) =>
    captureModelCell(modelCell(source), { notebookDir: EXAMPLES, ...(timeoutMs ? { timeoutMs } : {}) });

  test('a top-level const model, with the notebook-style tfjs import removed', async () => {
    const spec = await capture(`import * as tf from '@tensorflow/tfjs';\n${IRIS_MLP}`);
    assert.equal(spec.origin, 'tfjs-code');
    assert.equal(spec.paramCount, 4 * 8 + 8 + 8 * 3 + 3);
    assert.deepEqual(spec.inputShape, [4]);
    assert.deepEqual(spec.outputShape, [3]);
    assert.equal(spec.topology.class_name, 'Sequential');
  });

  test("the completion value when there is no 'model' variable; the functional API and tf ops", async () => {
    const spec = await capture(`
      const input = tf.input({ shape: [6] });
      const scale = tf.tensor([1, 2, 3]);   // tfjs-core is there too
      if (scale.shape[0] !== 3) throw new Error('no tensor');
      const hidden = tf.layers.dense({ units: 5, activation: 'relu' }).apply(input);
      const out = tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([input, hidden]));
      tf.model({ inputs: input, outputs: out });`);
    assert.equal(spec.paramCount, 6 * 5 + 5 + 11 * 2 + 2);
    assert.equal(spec.topology.class_name, 'Model');
  });

  // JavaScript's own built-ins (Math, JSON, and V8's inspector-only console) are there as in any realm.
  test('the only globals are tf and hp: no require, process, fetch, Buffer or timers', async () => {
    const spec = await capture(`
      for (const name of ['require', 'process', 'fetch', 'module', 'Buffer', 'setTimeout', 'globalThis.global']) {
        if (eval('typeof ' + name) !== 'undefined') throw new Error(name + ' is visible');
      }
      const own = Object.keys(globalThis).filter((key) => key !== 'model'); // the hoisted var below
      if (own.join() !== 'tf,hp') throw new Error(own.join());
      var model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });`);
    assert.equal(spec.paramCount, 3);
  });

  test('code that throws is MODEL_CODE_FAILED with the message, the cell and the line', async () => {
    await assert.rejects(
      capture('const model = tf.sequential();\nmodel.add(tf.layers.dense({ units: 3, inputShape: [2] }));\nmodel.add(tf.layers.nope());'),
      failsWith('MODEL_CODE_FAILED', /^cell 2 \(smlt:model\) failed at line 3: TypeError: tf\.layers\.nope is not a function/),
    );
    await assert.rejects(capture('const model = ;'), failsWith('MODEL_CODE_FAILED', /cell 2 \(smlt:model\)/, /SyntaxError/));
    await assert.rejects(capture('require("fs")'), failsWith('MODEL_CODE_FAILED', /require is not defined/));
  });

  test('line numbers count the stripped marker line', async () => {
    const { model: cell } = findRoleCells(
      notebook({ source: '// smlt: model\nconst a = 1;\nundefinedThing();' }, { source: 'builtin:iris', tags: ['smlt:data'] }),
    );
    await assert.rejects(captureModelCell(cell, { notebookDir: EXAMPLES }), failsWith('MODEL_CODE_FAILED', /at line 3: ReferenceError/));
  });

  test('an endless loop is MODEL_CODE_TIMEOUT', async () => {
    await assert.rejects(capture('while (true) {}', 100), failsWith('MODEL_CODE_TIMEOUT', /cell 2 \(smlt:model\)/, /100 ms/));
  });

  test('code that makes no model is MODEL_NOT_RETURNED', async () => {
    await assert.rejects(capture('const model = 42;\n"done"'), failsWith('MODEL_NOT_RETURNED', /cell 2 \(smlt:model\)/, /model/));
  });

  test('a model no worker could hold is MODEL_TOO_LARGE, counted without allocating its weights', async () => {
    const huge = `const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 100000 }), tf.layers.dense({ units: 100000 }), tf.layers.dense({ units: 10 })] });`;
    const spec = await capture(huge);
    assert.equal(spec.paramCount, 784 * 1e5 + 1e5 + 1e5 * 1e5 + 1e5 + 1e5 * 10 + 10);
    const cells = [
      { source: huge, tags: ['smlt:model'] },
      { source: 'builtin:mnist', tags: ['smlt:data'] },
    ];
    await assert.rejects(
      captureNotebookJson(notebook(...cells), { notebookDir: EXAMPLES, name: 'huge' }),
      failsWith('MODEL_TOO_LARGE', /^cell 1 \(smlt:model\) has 10,079,600,010 parameters \(40\.3 GB of float32 weights\)/, /the largest model a worker can train holds [\d,]+ parameters \(10,240 MB/),
    );
  });

  test('several inputs, or a shape that is not fixed per sample, are MODEL_INVALID saying so', async () => {
    await assert.rejects(
      capture(`
        const a = tf.input({ shape: [3], name: 'a' });
        const b = tf.input({ shape: [2], name: 'b' });
        const model = tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 1 }).apply(tf.layers.concatenate().apply([a, b])) });`),
      failsWith('MODEL_INVALID', /2 inputs/, /one input and one output/),
    );
    await assert.rejects(
      capture(`const model = tf.sequential({ layers: [tf.layers.lstm({ units: 4, inputShape: [null, 3] })] });`),
      failsWith('MODEL_INVALID', /input shape \[null,3\]/, /not fixed/),
    );
  });
});

describe('examples', () => {
  test('mnist.ipynb: tfjs MLP on builtin:mnist', async () => {
    const { spec, dataset } = await captureNotebook(join(EXAMPLES, 'mnist.ipynb'));
    assert.equal(spec.name, 'mnist');
    assert.deepEqual(spec.origin.cells, { model: 1, data: 2, config: 3 });
    assert.equal(spec.model.origin, 'tfjs-code');
    assert.equal(spec.model.paramCount, 784 * 128 + 128 + 128 * 10 + 10);
    assert.deepEqual(spec.data, {
      source: 'builtin:mnist',
      hash: datasetHash(encodeDataset(dataset)),
      count: 10_000,
      xShape: [784],
      yShape: [10],
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    });
    assert.deepEqual(spec.training, {
      epochs: 2,
      batchSize: 64,
      optimizer: 'adam',
      learningRate: 0.001,
      loss: 'categoricalCrossentropy',
      fromLogits: false,
      metrics: ['accuracy'],
      validationSplit: 0.2,
      seed: 42,
    });
    assert.ok(dataset.x.every((v) => v >= 0 && v <= 1));
    // One-hot rows, and shuffled: the first 100 samples are not all one digit.
    const labels = Array.from({ length: 100 }, (_, i) => dataset.y.subarray(i * 10, i * 10 + 10).indexOf(1));
    assert.ok(labels.every((l) => l >= 0));
    assert.ok(new Set(labels).size > 5);
    jobSpecSchema.parse(spec);
  });

  test('keras-mlp.ipynb: Keras 2 JSON in a raw cell on builtin:iris', async () => {
    const { spec, dataset } = await captureNotebook(join(EXAMPLES, 'keras-mlp.ipynb'));
    assert.equal(spec.model.origin, 'keras-json');
    assert.equal(spec.model.paramCount, 4 * 16 + 16 + 16 * 3 + 3);
    assert.deepEqual(spec.data.classes, ['setosa', 'versicolor', 'virginica']);
    assert.equal(spec.training.loss, 'categoricalCrossentropy');
    assert.equal(spec.training.batchSize, 16);
    assert.equal(dataset.count, 150);
  });

  test('iris-csv.ipynb: iris.csv with a species label, sparse labels; overrides win', async () => {
    const { spec, dataset } = await captureNotebook(join(EXAMPLES, 'iris-csv.ipynb'), { epochs: 5 });
    assert.equal(spec.data.source, 'iris.csv');
    assert.deepEqual(spec.data.classes, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(spec.data.yShape, [1]);
    assert.deepEqual(new Set(dataset.y), new Set([0, 1, 2]));
    assert.equal(spec.training.epochs, 5);
    assert.equal(spec.training.loss, 'sparseCategoricalCrossentropy');
  });

  test('the order is fixed per seed: same seed, same hash; another seed, another order', async () => {
    const nb = notebook(
      { source: IRIS_MLP },
      { source: '# smlt: data\nbuiltin:iris' },
      { source: '# smlt: config\nseed: 1' },
    );
    const options = { notebookDir: EXAMPLES, name: 'iris' };
    const a = await captureNotebookJson(nb, options);
    const b = await captureNotebookJson(nb, options);
    const c = await captureNotebookJson(nb, { ...options, overrides: { seed: 2 } });
    assert.equal(a.spec.data.hash, b.spec.data.hash);
    assert.notEqual(a.spec.data.hash, c.spec.data.hash);
    assert.equal(a.spec.origin.notebook, undefined);
  });

  test('unsaved content from an editor captures relative to the given folder', async () => {
    const dir = folderWith({ 'points.json': JSON.stringify({ x: [[0, 1], [1, 0], [1, 1], [0, 0]], y: [1, 1, 0, 0] }) });
    const { spec } = await captureNotebookJson(
      notebook(
        { source: 'const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: "sigmoid" })] });', tags: ['smlt:model'] },
        { source: 'source: points.json', tags: ['smlt:data'] },
        { source: '{ "loss": "binary_crossentropy", "batch_size": 2 }', tags: ['smlt:config'] },
      ),
      { notebookDir: dir, name: 'xor', notebookPath: 'xor.ipynb' },
    );
    assert.equal(spec.origin.notebook, 'xor.ipynb');
    assert.equal(spec.training.loss, 'binaryCrossentropy');
    assert.deepEqual(spec.data.classes, ['0', '1']);
  });
});
