/**
 * What a sweep searches, read from the notebook: `hp` in a tfjs model cell, the sweep cell's space
 * (training settings, layer settings by name), and each trial's job built from them. Bad spaces
 * are refused with the field named, before any trial starts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { captureNotebookJson } from '@smlt/shared/capture/capture';
import { roleCellsOf } from '@smlt/shared/capture/notebook';
import { type SmltErrorCode, isSmltError } from '@smlt/shared/errors';
import { sweepDefinition } from '@smlt/shared/sweep/sweep-cell';
import { Variants } from '@smlt/shared/sweep/variants';
import { folderWith, notebook } from './notebook-helpers.js';

const IRIS_CSV = ['sepal,petal,species', ...Array.from({ length: 60 }, (_, i) => `${(i % 7) + 1},${(i % 5) + 0.5},${['a', 'b', 'c'][i % 3]}`)].join('\n');
const DATA = { source: '// smlt: data\nsource: iris.csv\nlabel: species' };
const CONFIG = { source: '// smlt: config\nepochs: 9\nbatchSize: 8\nloss: sparseCategoricalCrossentropy\nvalidationSplit: 0.2' };

const HP_MODEL = `// smlt: model
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [2], units: hp.choice('units', [4, 16, 64]), activation: hp.choice('activation', ['relu', 'tanh']) }),
  tf.layers.dropout({ rate: hp.float('dropout', 0, 0.5) }),
  tf.layers.dense({ units: 3, activation: 'softmax' }),
] });`;

/** A Keras-style JSON model cell: layers named as Keras names them, so the space can address them. */
const JSON_MODEL = `// smlt: model
${JSON.stringify({
  class_name: 'Sequential',
  config: {
    name: 'sequential',
    layers: [
      { class_name: 'Dense', config: { name: 'hidden', units: 8, activation: 'relu', batch_input_shape: [null, 2] } },
      { class_name: 'Dense', config: { name: 'out', units: 3, activation: 'softmax' } },
    ],
  },
})}`;

async function captured(model: string, sweep?: string) {
  const dir = folderWith({ 'iris.csv': IRIS_CSV });
  const nb = notebook({ source: model }, DATA, CONFIG, ...(sweep ? [{ source: `// smlt: sweep\n${sweep}` }] : []));
  const base = await captureNotebookJson(nb, { notebookDir: dir, name: 'sweep-test' });
  return { base, roles: roleCellsOf(nb), dir };
}

async function rejects(promise: Promise<unknown> | (() => unknown), code: SmltErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof promise === 'function' ? promise() : promise), (err: unknown) => {
    assert.ok(isSmltError(err, code), String(err));
    assert.match((err as Error).message, pattern);
    return true;
  });
}

describe('hp in a tfjs model cell', () => {
  test('declares the parameters and builds with their defaults outside a sweep', async () => {
    const { base } = await captured(HP_MODEL);
    assert.deepEqual(
      base.hyperParameters?.map((p) => [p.name, p.domain.kind]),
      [['units', 'choice'], ['activation', 'choice'], ['dropout', 'float']],
    );
    // units 4 (the first choice): 2×4+4 + 4×3+3 parameters.
    assert.equal(base.spec.model.paramCount, 27);
  });

  test('a bad declaration names the parameter', async () => {
    await rejects(captured(HP_MODEL.replace("hp.float('dropout', 0, 0.5)", "hp.float('dropout', 0.5, 0)")), 'SWEEP_INVALID', /hp 'dropout'.*range 0.5 to 0 is empty/);
    await rejects(captured(HP_MODEL.replace("[4, 16, 64]", '[]')), 'SWEEP_INVALID', /hp 'units'.*at least one value/);
  });
});

describe('the sweep cell', () => {
  test('searches the model cell’s hp parameters, narrowed by the space, and training settings by their Keras names too', async () => {
    const { base, roles } = await captured(HP_MODEL, 'trials: 6\nepochs: 9\nspace:\n  lr: {log: [0.0001, 0.01]}\n  units: [16, 64]');
    const definition = sweepDefinition(roles.sweep, base);
    assert.deepEqual(definition.rungs, [1, 3, 9]);
    assert.deepEqual(definition.objective, { metric: 'accuracy', direction: 'maximize' });
    const byName = Object.fromEntries(definition.params.map((p) => [p.name, p]));
    assert.deepEqual(byName.learningRate?.target, { kind: 'training', field: 'learningRate' });
    assert.deepEqual(byName.units?.domain, { kind: 'choice', values: [16, 64] });
    assert.ok(byName.activation && byName.dropout, 'the hp parameters the space leaves out are searched as declared');
  });

  test('names layer settings of a JSON model by layer.key, in either spelling', async () => {
    const { base, roles } = await captured(JSON_MODEL, 'space:\n  hidden.units: [4, 32]\n  hidden.activation: [relu, tanh]');
    const definition = sweepDefinition(roles.sweep, base);
    assert.deepEqual(definition.params.map((p) => p.target), [
      { kind: 'layer', layer: 'hidden', key: 'units' },
      { kind: 'layer', layer: 'hidden', key: 'activation' },
    ]);
    const variants = new Variants({ base, notebookDir: '.' }, definition);
    const wide = await variants.trial({ 'hidden.units': 32, 'hidden.activation': 'tanh' }, 3);
    // 2×32+32 + 32×3+3 parameters, trained 3 epochs; the notebook's own model is untouched.
    assert.equal(wide.spec.model.paramCount, 195);
    assert.equal(wide.spec.training.epochs, 3);
    assert.equal(base.spec.model.paramCount, 51);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an unknown name', 'space:\n  momentum: [0.9]', /space.momentum: unknown name.*layers: hidden, out/],
    ['an unknown layer', 'space:\n  dense_9.units: [4]', /no layer named "dense_9".*hidden, out/],
    ['an unknown layer setting', 'space:\n  hidden.width: [4]', /has no setting "width".*units/],
    ['an empty range', 'space:\n  learningRate: {log: [0.1, 0.001]}', /space.learningRate: the range 0.1 to 0.001 is empty/],
    ['a log range at 0', 'space:\n  learningRate: {log: [0, 0.1]}', /log-scale range must be above 0/],
    ['a shape that is not a range', 'space:\n  batchSize: 32', /space.batchSize: 32 is not a search range/],
    ['an unknown setting', 'trails: 3\nspace:\n  batchSize: [8, 16]', /unknown setting "trails"/],
    ['trials out of bounds', 'trials: 0\nspace:\n  batchSize: [8, 16]', /trials must be a whole number from 1 to 200/],
    ['an objective SMLT does not measure', 'objective: maximize f1\nspace:\n  batchSize: [8, 16]', /objective "maximize f1"/],
    ['nothing to search', 'trials: 3', /nothing to search/],
  ];
  for (const [what, sweep, pattern] of bad) {
    test(`refuses ${what}, naming the field`, async () => {
      const { base, roles } = await captured(JSON_MODEL, sweep);
      await rejects(() => sweepDefinition(roles.sweep, base), 'SWEEP_INVALID', pattern);
    });
  }

  test('refuses a choice the model cannot build before any trial starts, naming the trial’s settings', async () => {
    const { base, roles } = await captured(JSON_MODEL, 'space:\n  hidden.activation: [relu, wobbly]');
    const variants = new Variants({ base, notebookDir: '.' }, sweepDefinition(roles.sweep, base));
    await rejects(variants.trial({ 'hidden.activation': 'wobbly' }, 1), 'SWEEP_INVALID', /trial with hidden.activation=wobbly/);
  });

  test('refuses a batch size the data cannot fill, naming it', async () => {
    const { base, roles } = await captured(JSON_MODEL, 'space:\n  batchSize: [8, 4096]');
    const variants = new Variants({ base, notebookDir: '.' }, sweepDefinition(roles.sweep, base));
    await variants.trial({ batchSize: 8 }, 1);
    await rejects(variants.trial({ batchSize: 4096 }, 1), 'SWEEP_INVALID', /batchSize=4096/);
  });
});
