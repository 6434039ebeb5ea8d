import { createHash } from 'node:crypto';
import { SmltError } from '../errors.js';
import { permutation } from './order.js';

/**
 * A dataset in memory: `count` samples, features `x` (row-major, `xShape` per sample) and
 * targets `y` (`yShape` per sample, already encoded for the loss: one-hot for categorical
 * cross-entropy, class index for sparse, raw values for regression).
 */
export interface Dataset {
  count: number;
  xShape: number[];
  yShape: number[];
  x: Float32Array;
  y: Float32Array;
  /** Class names, index = class id, when labels are categorical. */
  classes?: string[];
}

/**
 * Wire format of a dataset (stored once per content hash, and per worker partition):
 *   "SMDS" | uint32 LE header length | JSON header, space-padded to a multiple of 4 bytes |
 *   x as float32 LE | y as float32 LE
 * The header holds count, shapes and class names. The padding keeps the float data 4-byte
 * aligned in the encoded bytes.
 */
const MAGIC = 'SMDS';

interface DatasetHeader {
  v: 1;
  count: number;
  xShape: number[];
  yShape: number[];
  classes?: string[];
}

// Float32Array views use the host's byte order; the format is little-endian, as are the x64
// and arm64 hosts SMLT runs on. Refuse to run elsewhere rather than write unreadable data.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('SMLT datasets are little-endian and this host is big-endian.');
}

export function encodeDataset(ds: Dataset): Uint8Array {
  checkSizes(ds);
  const header: DatasetHeader = { v: 1, count: ds.count, xShape: ds.xShape, yShape: ds.yShape };
  if (ds.classes) header.classes = ds.classes;
  let json = JSON.stringify(header);
  json += ' '.repeat((4 - ((8 + Buffer.byteLength(json)) % 4)) % 4);
  const headerBytes = new TextEncoder().encode(json);
  const dataStart = 8 + headerBytes.length;
  const out = new Uint8Array(dataStart + (ds.x.length + ds.y.length) * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, headerBytes.length, true);
  out.set(headerBytes, 8);
  out.set(bytesOf(ds.x), dataStart);
  out.set(bytesOf(ds.y), dataStart + ds.x.length * 4);
  return out;
}

export function decodeDataset(bytes: Uint8Array): Dataset {
  const corrupt = (why: string) => new SmltError('DATA_INVALID', `Not an SMLT dataset: ${why}.`);
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) throw corrupt('bad magic');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  let header: DatasetHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as DatasetHeader;
  } catch {
    throw corrupt('unreadable header');
  }
  const xLength = header.count * product(header.xShape);
  const yLength = header.count * product(header.yShape);
  const dataStart = 8 + headerLength;
  if (bytes.length !== dataStart + (xLength + yLength) * 4) throw corrupt('length does not match the header');
  // Copy into a fresh, aligned buffer: the input may sit at any offset of a pooled Buffer (and
  // `Buffer#slice` would be a view, not a copy).
  const data = new Float32Array(new Uint8Array(bytes.subarray(dataStart)).buffer);
  const ds: Dataset = {
    count: header.count,
    xShape: header.xShape,
    yShape: header.yShape,
    x: data.subarray(0, xLength),
    y: data.subarray(xLength),
  };
  if (header.classes) ds.classes = header.classes;
  return ds;
}

/** Content address of an encoded dataset. */
export function datasetHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The samples in a seeded random order (Fisher–Yates, same order on every platform). */
export function shuffleDataset(ds: Dataset, seed: number): Dataset {
  return pick(ds, permutation(ds.count, seed));
}

/**
 * Shuffles the first `trainCount` samples and the rest each on their own, so a holdout given at
 * the end (Keras' validation_data or validation_split) stays the holdout `splitHoldout` takes.
 */
export function shuffleKeepingHoldout(ds: Dataset, trainCount: number, seed: number): Dataset {
  const train = permutation(trainCount, seed);
  const holdout = permutation(ds.count - trainCount, seed).map((i) => i + trainCount);
  const order = new Uint32Array(ds.count);
  order.set(train, 0);
  order.set(holdout, trainCount);
  return pick(ds, order);
}

/** Holds out the last `round(count × fraction)` samples, for evaluation never trained on. */
export function splitHoldout(ds: Dataset, fraction: number): { train: Dataset; holdout: Dataset } {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new SmltError('OPTION_INVALID', `The holdout fraction must be in [0, 1), not ${fraction}.`);
  }
  const trainCount = ds.count - Math.round(ds.count * fraction);
  return { train: range(ds, 0, trainCount), holdout: range(ds, trainCount, ds.count) };
}

/**
 * Worker `index`'s share of `workers`: samples index, index + workers, index + 2·workers, ...
 * (strided), each share cut to floor(count / workers) samples.
 *
 * Why strided and equal: worker w's k-th local mini-batch of b samples then holds global
 * samples w + workers·j for j in [k·b, (k+1)·b), so the union over all workers is exactly the
 * contiguous global samples [k·b·workers, (k+1)·b·workers) — the k-th mini-batch of a single
 * worker with batch b·workers. Data-parallel training then sees the same batches, and so the same
 * averaged gradients, whatever the worker count. Equal sizes keep every worker on the same
 * iteration count, which synchronous aggregation needs; the dropped tail is < workers samples.
 */
export function partition(ds: Dataset, workers: number, index: number): Dataset {
  if (!Number.isInteger(workers) || workers < 1 || !Number.isInteger(index) || index < 0 || index >= workers) {
    throw new SmltError('OPTION_INVALID', `Cannot take partition ${index} of ${workers}.`);
  }
  const size = Math.floor(ds.count / workers);
  if (size < 1) {
    throw new SmltError('OPTION_INVALID', `Cannot split ${ds.count} samples across ${workers} workers.`);
  }
  return pick(
    ds,
    Uint32Array.from({ length: size }, (_, i) => index + i * workers),
  );
}

/** A new dataset of the samples at `indexes`, in that order. */
function pick(ds: Dataset, indexes: Uint32Array): Dataset {
  const xSize = product(ds.xShape);
  const ySize = product(ds.yShape);
  const x = new Float32Array(indexes.length * xSize);
  const y = new Float32Array(indexes.length * ySize);
  indexes.forEach((from, to) => {
    x.set(ds.x.subarray(from * xSize, (from + 1) * xSize), to * xSize);
    y.set(ds.y.subarray(from * ySize, (from + 1) * ySize), to * ySize);
  });
  return withSamples(ds, indexes.length, x, y);
}

/** A copy of samples [start, end). */
function range(ds: Dataset, start: number, end: number): Dataset {
  const xSize = product(ds.xShape);
  const ySize = product(ds.yShape);
  return withSamples(ds, end - start, ds.x.slice(start * xSize, end * xSize), ds.y.slice(start * ySize, end * ySize));
}

function withSamples(ds: Dataset, count: number, x: Float32Array, y: Float32Array): Dataset {
  const out: Dataset = { count, xShape: [...ds.xShape], yShape: [...ds.yShape], x, y };
  if (ds.classes) out.classes = [...ds.classes];
  return out;
}

function checkSizes(ds: Dataset): void {
  if (ds.x.length !== ds.count * product(ds.xShape) || ds.y.length !== ds.count * product(ds.yShape)) {
    throw new SmltError(
      'DATA_INVALID',
      `Dataset sizes disagree: ${ds.count} samples of x [${ds.xShape}] and y [${ds.yShape}] ` +
        `need ${ds.count * product(ds.xShape)} and ${ds.count * product(ds.yShape)} values, ` +
        `found ${ds.x.length} and ${ds.y.length}.`,
    );
  }
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
