/**
 * Kernels that training needs and the wasm backend lacks (tfjs 4.22), found by comparing its kernel
 * registry with the cpu backend's and computing gradients of every common layer on wasm:
 *
 * - `Conv2DBackpropFilter`: Conv2D, Conv1D, Conv2DTranspose, SeparableConv2D (own module).
 * - `DepthwiseConv2dNativeBackpropFilter` / `...Input`: DepthwiseConv2D, SeparableConv2D.
 * - `UnsortedSegmentSum`: the gradient of gather, i.e. of Embedding.
 *
 * Each is composed from kernels the wasm backend has. Registration is skipped for any kernel the
 * backend already provides, so a later tfjs release with native kernels wins automatically.
 *
 * Two kernels it has are wrapped:
 * - `OneHot` writes int32 bits whatever the requested dtype, so `tf.oneHot(i, n, 1, 0, 'float32')`
 *   yields 1.4e-45 for "on": it is computed as int32 and cast.
 * - `BatchMatMul` takes XNNPACK's fast path only without transposes; with `transposeA` or
 *   `transposeB`, which every Dense layer's backward pass uses, it runs 6–26x slower (measured here:
 *   64×784×128 5.9 ms instead of 0.5 ms). Transposing the operand first is far cheaper.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  backend_util,
  type BatchMatMulAttrs,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type OneHotAttrs,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { asTensor, assertUnitDilations, conv2dBackpropFilterConfig } from './conv2d-backprop-filter-wasm.js';

type Shape4 = [number, number, number, number];

/**
 * dW[i,j,c,m] = Σ_{n,h,w} xPadded[n, h·s+i, w·s+j, c] · dy[n,h,w,c·M+m]: one depthwise conv whose
 * channels are (batch, channel) pairs and whose filter is dy, dilated by the forward stride; the
 * batch is summed out afterwards.
 */
const depthwiseBackpropFilter: KernelFunc = ({ inputs, attrs }) => {
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  assertUnitDilations(dilations, 'DepthwiseConv2dNativeBackpropFilter');
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const [batch, , , channels] = x.shape as Shape4;
  const [filterHeight, filterWidth, , multiplier] = filterShape;
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, true);
  const { top, bottom, left, right } = info.padInfo;
  return tf.tidy(() => {
    const padded = tf.pad(asTensor(x), [[0, 0], [top, bottom], [left, right], [0, 0]]);
    const [, height, width] = padded.shape;
    const input = tf.reshape(tf.transpose(padded, [1, 2, 0, 3]), [1, height, width, batch * channels]) as tf.Tensor4D;
    const filter = tf.reshape(tf.transpose(asTensor(dy), [1, 2, 0, 3]), [
      info.outHeight,
      info.outWidth,
      batch * channels,
      multiplier,
    ]) as tf.Tensor4D;
    const full = tf.depthwiseConv2d(input, filter, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    const window = tf.slice(full, [0, 0, 0, 0], [1, filterHeight, filterWidth, batch * channels * multiplier]);
    return tf.sum(tf.reshape(window, [filterHeight, filterWidth, batch, channels, multiplier]), 2);
  });
};

/**
 * dx = dy with zeros inserted between rows/columns (the forward stride), correlated with the
 * spatially flipped filter over a "full" padding; each (channel, multiplier) output of the
 * depthwise conv is then summed over the multiplier.
 */
const depthwiseBackpropInput: KernelFunc = ({ inputs, attrs }) => {
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  assertUnitDilations(dilations, 'DepthwiseConv2dNativeBackpropInput');
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const [batch, height, width, channels] = inputShape;
  const [filterHeight, filterWidth, , multiplier] = filter.shape as Shape4;
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, true);
  return tf.tidy(() => {
    const dilated = insertZeros(asTensor(dy) as tf.Tensor4D, info.strideHeight, info.strideWidth);
    const [, dilatedHeight, dilatedWidth] = dilated.shape;
    const padTop = filterHeight - 1 - info.padInfo.top;
    const padLeft = filterWidth - 1 - info.padInfo.left;
    const full = padOrCrop(dilated, [
      [padTop, height - dilatedHeight - padTop + filterHeight - 1],
      [padLeft, width - dilatedWidth - padLeft + filterWidth - 1],
    ]);
    const flipped = tf.reshape(tf.reverse(asTensor(filter), [0, 1]), [filterHeight, filterWidth, channels * multiplier, 1]);
    const perMultiplier = tf.depthwiseConv2d(full, flipped as tf.Tensor4D, 1, 'valid');
    return tf.sum(tf.reshape(perMultiplier, [batch, height, width, channels, multiplier]), 4);
  });
};

/**
 * Sums rows of x into the segments named by segmentIds (ids outside [0, numSegments) are dropped,
 * as in TensorFlow). A JS loop over the rows: O(size of x), where a one-hot matMul would cost
 * O(size of x · numSegments) for a large vocabulary.
 */
const unsortedSegmentSum: KernelFunc = ({ inputs, attrs }) => {
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`UnsortedSegmentSum on wasm needs 1-D segmentIds as long as x's first axis; got ${segmentIds.shape} for x ${x.shape}.`);
  }
  const values = tf.engine().readSync(x.dataId) as Float32Array | Int32Array;
  const ids = tf.engine().readSync(segmentIds.dataId) as Int32Array;
  const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * rowSize) : new Float32Array(numSegments * rowSize);
  for (let row = 0; row < ids.length; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue;
    const from = row * rowSize;
    const to = segment * rowSize;
    for (let k = 0; k < rowSize; k++) out[to + k] += values[from + k];
  }
  return tf.tensor(out, [numSegments, ...x.shape.slice(1)], x.dtype);
};

const GAPS: KernelConfig[] = [
  conv2dBackpropFilterConfig,
  { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: 'wasm', kernelFunc: depthwiseBackpropFilter },
  { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: depthwiseBackpropInput },
  { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum },
];

/** Registers the missing kernels and the two wrappers once; safe to call again. */
export function registerWasmKernelGaps(): void {
  for (const config of GAPS) {
    if (!tf.getKernel(config.kernelName, config.backendName)) tf.registerKernel(config);
  }
  wrapKernel('OneHot', oneHotAnyDtype);
  wrapKernel('BatchMatMul', batchMatMulUntransposed);
}

const wrappers = new Set<KernelFunc>();

function wrapKernel(kernelName: string, wrap: (original: KernelFunc) => KernelFunc): void {
  const current = tf.getKernel(kernelName, 'wasm');
  if (!current || wrappers.has(current.kernelFunc)) return;
  const kernelFunc = wrap(current.kernelFunc);
  wrappers.add(kernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  // The original's setupFunc ran when the backend initialized (before this); the wrapper reuses it.
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

const oneHotAnyDtype = (original: KernelFunc): KernelFunc => (args) => {
  const { dtype } = args.attrs as unknown as OneHotAttrs;
  if (dtype === 'int32') return original(args);
  const ints = original({ ...args, attrs: { ...args.attrs, dtype: 'int32' } }) as TensorInfo;
  return tf.tidy(() => tf.cast(tf.engine().makeTensorFromTensorInfo(ints), dtype));
};

/**
 * Below this many rows (for transposeB) or columns (for transposeA) of output, transposing the
 * operand costs about what it saves.
 */
const MIN_OUTER_FOR_TRANSPOSE = 8;

const batchMatMulUntransposed = (original: KernelFunc): KernelFunc => (args) => {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
  // Batched products take the slow path either way: only single matrices gain.
  const single = tf.util.sizeFromShape(a.shape.slice(0, -2)) * tf.util.sizeFromShape(b.shape.slice(0, -2)) === 1;
  const rows = a.shape[a.shape.length - (transposeA ? 1 : 2)];
  const columns = b.shape[b.shape.length - (transposeB ? 2 : 1)];
  const flipA = transposeA && single && columns >= MIN_OUTER_FOR_TRANSPOSE;
  const flipB = transposeB && single && rows >= MIN_OUTER_FOR_TRANSPOSE;
  if (!flipA && !flipB) return original(args);
  const made: tf.Tensor[] = [];
  const swapLastTwo = (t: TensorInfo): tf.Tensor => {
    const perm = t.shape.map((_, i) => i);
    perm.splice(-2, 2, perm.length - 1, perm.length - 2);
    const swapped = tf.tidy(() => tf.transpose(asTensor(t), perm));
    made.push(swapped);
    return swapped;
  };
  try {
    return original({
      ...args,
      inputs: { a: flipA ? swapLastTwo(a) : a, b: flipB ? swapLastTwo(b) : b },
      attrs: { ...args.attrs, transposeA: transposeA && !flipA, transposeB: transposeB && !flipB },
    });
  } finally {
    tf.dispose(made);
  }
};

/** [N,H,W,C] → [N,(H-1)·sh+1,(W-1)·sw+1,C] with sh-1 / sw-1 zero rows / columns between. */
function insertZeros(t: tf.Tensor4D, strideHeight: number, strideWidth: number): tf.Tensor4D {
  if (strideHeight === 1 && strideWidth === 1) return t;
  const [n, h, w, c] = t.shape;
  const spread = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, strideHeight - 1],
    [0, 0],
    [0, strideWidth - 1],
    [0, 0],
  ]);
  const grid = tf.reshape(spread, [n, h * strideHeight, w * strideWidth, c]) as tf.Tensor4D;
  return tf.slice(grid, [0, 0, 0, 0], [n, (h - 1) * strideHeight + 1, (w - 1) * strideWidth + 1, c]);
}

/** Pads the spatial axes of an NHWC tensor; a negative amount crops instead. */
function padOrCrop(t: tf.Tensor4D, [[top, bottom], [left, right]]: [[number, number], [number, number]]): tf.Tensor4D {
  const padded = tf.pad(t, [
    [0, 0],
    [Math.max(top, 0), Math.max(bottom, 0)],
    [Math.max(left, 0), Math.max(right, 0)],
    [0, 0],
  ]);
  const [n, h, w, c] = padded.shape;
  const cropTop = Math.max(-top, 0);
  const cropLeft = Math.max(-left, 0);
  return tf.slice(padded, [0, cropTop, cropLeft, 0], [n, h - cropTop - Math.max(-bottom, 0), w - cropLeft - Math.max(-right, 0), c]);
}
