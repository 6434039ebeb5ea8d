/** A trained model saved as a standard tfjs layers folder and loaded back. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isSmltError } from '@smlt/shared/errors';
import { loadLayersModelFromDir, saveLayersModel } from '@smlt/shared/model/save';
import { initBackend } from '@smlt/shared/tf/backend';

let dir: string;
before(async () => {
  await initBackend();
  dir = await mkdtemp(join(tmpdir(), 'smlt-save-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cnn(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
      tfl.layers.batchNormalization(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
}

function predict(model: tfl.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

describe('saveLayersModel', () => {
  it('writes model.json + weights.bin that tf.loadLayersModel reads back, predicting the same', async () => {
    const model = cnn();
    // Move the batch-norm statistics off their defaults so non-trainable weights are checked too.
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const x = tf.randomNormal([5, 8, 8, 1], 0, 1, 'float32', 3);
    await model.fit(x, tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0], 'int32'), 4), { epochs: 2, verbose: 0 });

    const out = join(dir, 'cnn');
    const saved = await saveLayersModel(model, out);
    assert.equal(saved.modelJsonPath, join(out, 'model.json'));
    assert.equal(saved.weightsPath, join(out, 'weights.bin'));
    const weightsBytes = (await readFile(saved.weightsPath)).length;
    assert.equal(weightsBytes, model.weights.reduce((n, w) => n + w.read().size * 4, 0));
    assert.equal(saved.bytes, weightsBytes + (await readFile(saved.modelJsonPath)).length);

    const json = JSON.parse(await readFile(saved.modelJsonPath, 'utf8')) as tf.io.ModelJSON;
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    assert.equal(json.format, 'layers-model');

    // The plain tfjs loader, given the two files, as any consumer of the folder would.
    const standard = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: new Uint8Array(await readFile(saved.weightsPath)).buffer,
      }),
    );
    const fromDir = await loadLayersModelFromDir(out);
    const expected = predict(model, x);
    assert.deepEqual(predict(standard, x), expected);
    assert.deepEqual(predict(fromDir, x), expected);
    for (const m of [model, standard, fromDir]) m.dispose();
    x.dispose();
  });

  it('refuses a manifest that points outside the folder, and a missing folder', async () => {
    const out = join(dir, 'evil');
    const model = cnn();
    const saved = await saveLayersModel(model, out);
    const json = JSON.parse(await readFile(saved.modelJsonPath, 'utf8')) as tf.io.ModelJSON;
    json.weightsManifest[0].paths = ['../cnn/weights.bin'];
    await writeFile(saved.modelJsonPath, JSON.stringify(json));
    await assert.rejects(loadLayersModelFromDir(out), (err) => isSmltError(err, 'MODEL_INVALID'));
    await assert.rejects(loadLayersModelFromDir(join(dir, 'nowhere')), (err) => isSmltError(err, 'MODEL_INVALID'));
    model.dispose();
  });
});
