// buildModel: seeded initializers give identical weights; countParams.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelDocument } from '@smlt/shared/capture/keras';
import { buildModel, countParams, withInitializerSeeds } from '@smlt/shared/model/build';
import { initBackend } from '@smlt/shared/tf/backend';

const MODELS = new URL('../fixtures/models/', import.meta.url).pathname;
const topologyOf = (path: string) =>
  modelDocument(JSON.parse(readFileSync(MODELS + path, 'utf8')) as unknown, path).topology;

// Conv + Dense (GlorotUniform), and Embedding + GRU (RandomUniform, Orthogonal recurrent kernel).
const CNN = topologyOf('keras/k2_functional_toy_resnet_add_keras2.2.4-tf.json');
const GRU = topologyOf('tfjs/tfjs_embedding_gru_model.json');

function weights(model: LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

async function build(topology: Record<string, unknown>, seed?: number): Promise<Float32Array[]> {
  const model = await buildModel(topology, seed === undefined ? {} : { seed });
  try {
    return weights(model);
  } finally {
    model.dispose();
  }
}

const sameWeights = (a: Float32Array[], b: Float32Array[]) =>
  a.length === b.length && a.every((w, i) => w.length === b[i].length && w.every((v, j) => v === b[i][j]));

before(async () => {
  await initBackend();
});

test('two builds with the same seed have identical weights', async () => {
  for (const topology of [CNN, GRU]) {
    const a = await build(topology, 42);
    const b = await build(topology, 42);
    assert.ok(sameWeights(a, b));
    assert.ok(a.some((w) => w.some((v) => v !== 0)), 'weights are initialized, not all zero');
  }
});

test('a different seed, or none, gives different weights', async () => {
  for (const topology of [CNN, GRU]) {
    const seeded = await build(topology, 42);
    assert.ok(!sameWeights(seeded, await build(topology, 43)));
    assert.ok(!sameWeights(await build(topology), await build(topology)));
  }
});

test('each initializer gets its own seed, in document order, without changing the input', () => {
  const before = JSON.stringify(GRU);
  const seeded = JSON.stringify(withInitializerSeeds(GRU, 7));
  assert.equal(JSON.stringify(GRU), before);
  // Embedding (RandomUniform), GRU kernel (VarianceScaling), recurrent kernel (Orthogonal); Zeros takes none.
  const seeds = [...seeded.matchAll(/"seed":(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(seeds, [7, 8, 9]);
});

test('countParams counts every weight', async () => {
  const model = await buildModel(GRU);
  assert.equal(countParams(model), 2_300);
  assert.equal(countParams(model), weights(model).reduce((n, w) => n + w.length, 0));
  model.dispose();
});
