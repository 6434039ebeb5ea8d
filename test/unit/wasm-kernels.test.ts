/**
 * The kernels SMLT adds to the wasm backend (tf/conv2d-backprop-filter-wasm.ts,
 * tf/wasm-kernel-gaps.ts), checked against the cpu backend's own kernels on random inputs, and
 * whole-model gradients on wasm against cpu.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { computeGradients, lossFunction } from '@smlt/shared/model/training';
import { initBackend } from '@smlt/shared/tf/backend';

type Pad = 'valid' | 'same' | [[0, 0], [number, number], [number, number], [0, 0]];
type Stride = number | [number, number];

before(async () => {
  // Registers the kernels; the tests then switch between the two backends.
  assert.equal(await initBackend('wasm'), 'wasm');
});

/** Runs a kernel on cpu and on wasm with the same inputs; returns the largest absolute difference. */
async function cpuVersusWasm(kernel: string, inputs: Record<string, tf.Tensor>, attrs: object): Promise<number> {
  await initBackend('cpu');
  const expected = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  const reference = expected.dataSync().slice();
  await initBackend('wasm');
  const actual = tf.engine().runKernel(kernel, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  assert.deepEqual(actual.shape, expected.shape, `${kernel} output shape`);
  assert.equal(actual.dtype, expected.dtype, `${kernel} output dtype`);
  const values = actual.dataSync();
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i] - reference[i]));
  tf.dispose([expected, actual]);
  return max;
}

function assertSmall(diff: number, tolerance: number, what: string): void {
  assert.ok(diff < tolerance, `${what}: wasm differs from cpu by ${diff}`);
}

const CASES: { x: [number, number, number, number]; filter: [number, number, number, number]; strides: Stride; pad: Pad }[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [3, 9, 8, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'same' },
  { x: [2, 10, 9, 2], filter: [4, 2, 2, 2], strides: [3, 2], pad: 'valid' },
  { x: [2, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
  // Explicit padding wider than the filter: the input gradient must crop instead of pad.
  { x: [1, 6, 6, 2], filter: [2, 2, 2, 3], strides: 1, pad: [[0, 0], [3, 0], [0, 2], [0, 0]] },
  { x: [2, 6, 6, 3], filter: [5, 5, 3, 2], strides: 1, pad: 'valid' },
  { x: [1, 5, 5, 1], filter: [5, 5, 1, 1], strides: 3, pad: 'same' },
];

function outputSize(c: (typeof CASES)[number], depthwise: boolean): [number, number] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, depthwise);
  return [info.outHeight, info.outWidth];
}

describe('Conv2DBackpropFilter on wasm', () => {
  for (const c of CASES) {
    it(`x ${c.x}, filter ${c.filter}, strides ${c.strides}, pad ${JSON.stringify(c.pad)}`, async () => {
      const [h, w] = outputSize(c, false);
      const x = tf.randomUniform(c.x, -1, 1);
      const dy = tf.randomUniform([c.x[0], h, w, c.filter[3]], -1, 1);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
      assertSmall(await cpuVersusWasm('Conv2DBackpropFilter', { x, dy }, attrs), 1e-4, 'filter gradient');
      tf.dispose([x, dy]);
    });
  }

  it('refuses NCHW and dilations with a clear message', async () => {
    await initBackend('wasm');
    const x = tf.zeros([1, 4, 4, 1]);
    const dy = tf.zeros([1, 2, 2, 1]);
    const run = (attrs: object) => () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as tf.NamedAttrMap);
    const base = { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [3, 3, 1, 1] };
    assert.throws(run({ ...base, dataFormat: 'NCHW' }), /NHWC only/);
    assert.throws(run({ ...base, dilations: 2 }), /dilations of 1 only/);
    tf.dispose([x, dy]);
  });
});

describe('depthwise gradients on wasm', () => {
  for (const c of CASES) {
    const filter: [number, number, number, number] = [c.filter[0], c.filter[1], c.x[3], 2];
    it(`x ${c.x}, filter ${filter}, strides ${c.strides}, pad ${JSON.stringify(c.pad)}`, async () => {
      const [h, w] = outputSize({ ...c, filter }, true);
      const x = tf.randomUniform(c.x, -1, 1);
      const f = tf.randomUniform(filter, -1, 1);
      const dy = tf.randomUniform([c.x[0], h, w, c.x[3] * 2], -1, 1);
      const attrs = { strides: c.strides, dilations: 1, pad: c.pad };
      assertSmall(
        await cpuVersusWasm('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: filter }),
        1e-4,
        'depthwise filter gradient',
      );
      assertSmall(
        await cpuVersusWasm('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: c.x }),
        1e-4,
        'depthwise input gradient',
      );
      tf.dispose([x, f, dy]);
    });
  }
});

describe('other wasm kernels', () => {
  it('UnsortedSegmentSum matches cpu, dropping out-of-range ids', async () => {
    const x = tf.randomUniform([7, 3, 2], -1, 1);
    const segmentIds = tf.tensor1d([0, 4, 4, -1, 2, 9, 0], 'int32');
    assertSmall(await cpuVersusWasm('UnsortedSegmentSum', { x, segmentIds }, { numSegments: 5 }), 1e-6, 'segment sum');
    tf.dispose([x, segmentIds]);
  });

  it('OneHot honours a float32 dtype', async () => {
    const indices = tf.tensor1d([0, 2, 1, 5], 'int32');
    const attrs = { depth: 3, onValue: 1, offValue: 0, dtype: 'float32' };
    assertSmall(await cpuVersusWasm('OneHot', { indices }, attrs), 1e-9, 'one-hot');
    indices.dispose();
  });

  it('BatchMatMul with transposes matches cpu, single and batched', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[40, 30], [40, 20], true, false],
      [[30, 40], [20, 40], false, true],
      [[40, 30], [20, 40], true, true],
      [[1, 40, 3], [1, 40, 20], true, false], // too few output columns to bother transposing
      [[2, 3, 40], [2, 20, 40], false, true], // batched
    ];
    for (const [aShape, bShape, transposeA, transposeB] of cases) {
      const a = tf.randomUniform(aShape, -1, 1);
      const b = tf.randomUniform(bShape, -1, 1);
      const before = tf.memory().numTensors;
      const diff = await cpuVersusWasm('BatchMatMul', { a, b }, { transposeA, transposeB });
      assert.equal(tf.memory().numTensors, before, 'BatchMatMul leaks');
      assertSmall(diff, 1e-5, `matMul ${aShape}${transposeA ? 'ᵀ' : ''} · ${bShape}${transposeB ? 'ᵀ' : ''}`);
      tf.dispose([a, b]);
    }
  });

  it('the wasm backend has MaxPoolGrad, AvgPoolGrad and Conv2DBackpropInput of its own', () => {
    for (const kernel of ['MaxPoolGrad', 'AvgPoolGrad', 'Conv2DBackpropInput', 'FusedBatchNorm', 'ResizeNearestNeighborGrad']) {
      assert.ok(tf.getKernel(kernel, 'wasm'), `${kernel} missing on wasm`);
    }
  });
});

describe('model gradients: wasm equals cpu', () => {
  const models: Record<string, { layers: () => tfl.layers.Layer[]; input: number[]; integers?: number }> = {
    'conv2d → maxPooling2d → flatten → dense': {
      input: [12, 12, 2],
      layers: () => [
        tfl.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    },
    'separable, depthwise, transposed and 1-D convolutions': {
      input: [8, 8, 2],
      layers: () => [
        tfl.layers.separableConv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, padding: 'same' }),
        tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2 }),
        tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2 }),
        tfl.layers.averagePooling2d({ poolSize: 2 }),
        tfl.layers.reshape({ targetShape: [9, 2] }),
        tfl.layers.conv1d({ filters: 2, kernelSize: 3 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    },
    'embedding → flatten → dense': {
      input: [5],
      integers: 20,
      layers: () => [
        tfl.layers.embedding({ inputShape: [5], inputDim: 20, outputDim: 4 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3 }),
      ],
    },
  };
  const loss = lossFunction({ loss: 'categoricalCrossentropy', fromLogits: true });

  for (const [name, spec] of Object.entries(models)) {
    it(name, async () => {
      await initBackend('cpu');
      const model = tfl.sequential({ layers: spec.layers() });
      const x = spec.integers
        ? tf.randomUniform([6, ...spec.input], 0, spec.integers, 'int32')
        : tf.randomUniform([6, ...spec.input], -1, 1);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
      const cpu = await computeGradients(model, loss, x, y);
      await initBackend('wasm');
      const wasm = await computeGradients(model, loss, x, y);
      assert.ok(Math.abs(cpu.loss - wasm.loss) < 1e-5, `loss ${wasm.loss} on wasm, ${cpu.loss} on cpu`);
      let diff = 0;
      for (let i = 0; i < cpu.gradient.length; i++) diff = Math.max(diff, Math.abs(cpu.gradient[i] - wasm.gradient[i]));
      assertSmall(diff, 1e-5, 'gradient');
      model.dispose();
      tf.dispose([x, y]);
    });
  }
});
