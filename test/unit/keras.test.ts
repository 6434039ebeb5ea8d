// Model capture from JSON: every real topology in test/fixtures/models, the Keras 3 forms, and
// the tfjs converter's nesting.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { modelDocument, normalizeKerasTopology } from '@smlt/shared/capture/keras';
import { captureModelCell } from '@smlt/shared/capture/model-cell';
import { isSmltError } from '@smlt/shared/errors';
import { buildModel } from '@smlt/shared/model/build';
import { initBackend } from '@smlt/shared/tf/backend';
import { modelCell } from './notebook-helpers.js';

const MODELS = new URL('../fixtures/models/', import.meta.url).pathname;
const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const read = (path: string): string => readFileSync(join(MODELS, path), 'utf8');

/** The fixtures README's "loads as is" column. */
const LOADABLE: [path: string, params: number, input: number[], output: number[], origin: string][] = [
  ['keras/k2_mnist_mlp_dropout_keras2.2.4.json', 669_706, [784], [10], 'keras-json'],
  ['keras/k2_fashion_mnist_lenet_batchnorm_keras2.2.4-tf.json', 846_070, [28, 28, 1], [10], 'keras-json'],
  ['keras/k2_cifar10_cnn_keras2.5.0.json', 122_570, [32, 32, 3], [10], 'keras-json'],
  ['keras/k2_imdb_stacked_lstm_keras2.10.0.json', 2_745_217, [200], [1], 'keras-json'],
  ['keras/k2_functional_toy_resnet_add_keras2.2.4-tf.json', 222_666, [28, 28, 1], [10], 'keras-json'],
  ['tfjs/tfjs_abalone_mlp_regression_model.json', 3_051, [8], [1], 'tfjs-model-json'],
  ['tfjs/tfjs_embedding_gru_model.json', 2_300, [10], [4], 'tfjs-model-json'],
];

/** Keras 3 versions written for these tests (see keras3/README.md) and their Keras 2 sources. */
const KERAS3: [path: string, params: number][] = [
  ['keras3/k3_mnist_mlp_dropout.json', 669_706],
  ['keras3/k3_fashion_mnist_lenet_batchnorm.json', 846_070],
  ['keras3/k3_functional_toy_resnet_add.json', 222_666],
];

before(async () => {
  await initBackend();
});

describe('real topologies', () => {
  for (const [path, params, input, output, origin] of LOADABLE) {
    test(`${path} loads with ${params} parameters`, async () => {
      const spec = await captureModelCell(modelCell(read(path)), { notebookDir: MODELS });
      assert.equal(spec.paramCount, params);
      assert.deepEqual(spec.inputShape, input);
      assert.deepEqual(spec.outputShape, output);
      assert.equal(spec.origin, origin);
      // The stored topology is tfjs's own form, and a worker rebuilds it to the same size.
      const rebuilt = await buildModel(spec.topology);
      assert.equal(rebuilt.countParams(), params);
      rebuilt.dispose();
    });
  }

  test('EfficientNetB0 names its unsupported Normalization layer and says what to do', async () => {
    const cell = modelCell(read('keras/k2_functional_efficientnetb0_keras2.5.0_STRESS.json'));
    await assert.rejects(captureModelCell(cell, { notebookDir: MODELS }), (err: Error) => {
      assert.ok(isSmltError(err, 'MODEL_UNSUPPORTED_LAYER'), err.message);
      assert.match(err.message, /cell 2 \(smlt:model\)/);
      assert.match(err.message, /"normalization" \(Normalization\)/);
      assert.match(err.message, /Replace it with a supported layer|preprocessing/);
      return true;
    });
  });

  test('the two-input BiLSTM tagger fails with a clear MODEL_INVALID naming the cell and the layer', async () => {
    const cell = modelCell(read('keras/k2_functional_concat_bilstm_tagger_keras2.1.3.json'));
    await assert.rejects(captureModelCell(cell, { notebookDir: MODELS }), (err: Error) => {
      assert.ok(isSmltError(err, 'MODEL_INVALID'), err.message);
      assert.match(err.message, /^cell 2 \(smlt:model\): /);
      assert.match(err.message, /Concatenate/);
      return true;
    });
  });

  test('a model cell may hold the path of a JSON file beside the notebook', async () => {
    const spec = await captureModelCell(modelCell('models/tfjs/tfjs_abalone_mlp_regression_model.json\n'), {
      notebookDir: FIXTURES,
    });
    assert.equal(spec.origin, 'tfjs-model-json');
    assert.equal(spec.paramCount, 3_051);
    const keras = await captureModelCell(modelCell("'keras/k2_mnist_mlp_dropout_keras2.2.4.json'"), { notebookDir: MODELS });
    assert.equal(keras.origin, 'keras-json');
    assert.equal(keras.paramCount, 669_706);
  });

  test('a model path outside the notebook folder, or missing, is refused', async () => {
    for (const path of ['../models/keras/k2_mnist_mlp_dropout_keras2.2.4.json', join(MODELS, 'keras/x.json'), 'nope.json']) {
      await assert.rejects(captureModelCell(modelCell(path), { notebookDir: join(MODELS, 'tfjs') }), (err: Error) => {
        assert.ok(isSmltError(err, 'MODEL_INVALID'), err.message);
        assert.match(err.message, /cell 2 \(smlt:model\)/);
        return true;
      });
    }
  });
});

describe('Keras 3', () => {
  for (const [path, params] of KERAS3) {
    test(`${path} does not load as is, and loads normalized with ${params} parameters`, async () => {
      const doc = JSON.parse(read(path)) as Record<string, unknown>;
      await assert.rejects(buildModel(doc), /batchInputShape|InputLayer/);
      const spec = await captureModelCell(modelCell(read(path)), { notebookDir: MODELS });
      assert.equal(spec.paramCount, params);
      assert.equal(spec.origin, 'keras-json');
      const rebuilt = await buildModel(spec.topology);
      assert.equal(rebuilt.countParams(), params);
      rebuilt.dispose();
    });
  }

  test('normalization rewrites what Keras 3 changed', () => {
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const tensor = (layer: string) => ({
      class_name: '__keras_tensor__',
      config: { shape: [null, 4], dtype: 'float32', keras_history: [layer, 0, 0] },
    });
    const k3 = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      registered_name: 'Functional',
      build_config: { input_shape: null },
      compile_config: { loss: 'mse' },
      config: {
        name: 'f',
        layers: [
          { class_name: 'InputLayer', name: 'in', config: { batch_shape: [null, 4], dtype: 'float32', name: 'in' }, inbound_nodes: [] },
          { class_name: 'Dense', name: 'a', config: { name: 'a', units: 4, dtype: policy }, inbound_nodes: [{ args: [tensor('in')], kwargs: {} }] },
          { class_name: 'Dense', name: 'b', config: { name: 'b', units: 4, dtype: policy }, inbound_nodes: [{ args: [tensor('in')], kwargs: {} }] },
          {
            class_name: 'Add',
            name: 'sum',
            config: { name: 'sum', dtype: policy },
            inbound_nodes: [{ args: [[tensor('a'), tensor('b')]], kwargs: {} }],
          },
        ],
        input_layers: ['in', 0, 0],
        output_layers: [['sum', 0, 0]],
      },
    };
    const k2 = normalizeKerasTopology(k3) as { config: { layers: Record<string, unknown>[]; input_layers: unknown } };
    const json = JSON.stringify(k2);
    for (const gone of ['"module"', 'registered_name', 'build_config', 'compile_config', 'batch_shape', '__keras_tensor__']) {
      assert.ok(!json.includes(gone), `${gone} should be gone`);
    }
    const [input, dense, , add] = k2.config.layers;
    assert.deepEqual(input.config, { batch_input_shape: [null, 4], dtype: 'float32', name: 'in' });
    assert.equal((dense.config as { dtype: unknown }).dtype, 'float32');
    assert.deepEqual(dense.inbound_nodes, [[['in', 0, 0, {}]]]);
    assert.deepEqual(add.inbound_nodes, [[['a', 0, 0, {}], ['b', 0, 0, {}]]]);
    assert.deepEqual(k2.config.input_layers, [['in', 0, 0]]);
  });

  test('Keras class names and regularizers tfjs spells differently are mapped, and the model builds', async () => {
    const topology = normalizeKerasTopology({
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [
          { class_name: 'InputLayer', config: { batch_shape: [null, 3], name: 'in' } },
          {
            class_name: 'Dense',
            config: {
              name: 'd',
              units: 2,
              kernel_initializer: { module: 'keras.initializers', class_name: 'LecunNormal', config: { seed: null } },
              kernel_regularizer: { module: 'keras.regularizers', class_name: 'L2', config: { l2: 0.01 } },
              dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'mixed_float16' } },
            },
          },
        ],
      },
    });
    const layer = (topology.config as { layers: { config: Record<string, unknown> }[] }).layers[1].config;
    assert.deepEqual(layer.kernel_regularizer, { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } });
    assert.equal((layer.kernel_initializer as { class_name: string }).class_name, 'LeCunNormal');
    assert.equal(layer.dtype, 'float32');
    const model = await buildModel(topology);
    assert.equal(model.countParams(), 8);
    model.dispose();
  });

  test('a grouped convolution is refused rather than built wrong', () => {
    assert.throws(
      () =>
        normalizeKerasTopology({
          class_name: 'Sequential',
          config: { layers: [{ class_name: 'Conv2D', config: { name: 'conv', filters: 8, groups: 2 } }] },
        }),
      (err: Error) => isSmltError(err, 'MODEL_UNSUPPORTED_LAYER') && /"conv" \(Conv2D\)/.test(err.message),
    );
  });
});

describe('document forms', () => {
  const k2 = JSON.parse(read('keras/k2_mnist_mlp_dropout_keras2.2.4.json')) as Record<string, unknown>;

  test('converter form nests the topology as modelTopology.model_config', async () => {
    const converted = {
      format: 'layers-model',
      generatedBy: 'keras v2.2.4',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: { keras_version: '2.2.4', backend: 'tensorflow', model_config: k2, training_config: {} },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }],
    };
    const spec = await captureModelCell(modelCell(JSON.stringify(converted)), { notebookDir: MODELS });
    assert.equal(spec.origin, 'tfjs-model-json');
    assert.equal(spec.paramCount, 669_706);
  });

  test('h5-style model_config held as a JSON string is read', () => {
    const doc = modelDocument({ model_config: JSON.stringify(k2) }, 'x');
    assert.equal(doc.topology.class_name, 'Sequential');
    assert.equal(doc.isTfjsModelJson, false);
  });

  test('JSON that is not a model, or does not parse, is MODEL_INVALID', async () => {
    for (const source of ['{"hello": 1}', '{"class_name": "Sequential", "config": ']) {
      await assert.rejects(captureModelCell(modelCell(source), { notebookDir: MODELS }), (err: Error) => {
        assert.ok(isSmltError(err, 'MODEL_INVALID'), err.message);
        assert.match(err.message, /cell 2 \(smlt:model\)/);
        return true;
      });
    }
  });
});
