// Dataset wire format, hash, seeded shuffle, holdout split and strided partitions.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  type Dataset,
  datasetHash,
  decodeDataset,
  encodeDataset,
  partition,
  shuffleDataset,
  splitHoldout,
} from '@smlt/shared/data/dataset';
import { isSmltError } from '@smlt/shared/errors';

/** Sample i has x = [i, i + 0.5] and y = [i % 3] so every row can be traced. */
function numbered(count: number, classes?: string[]): Dataset {
  const ds: Dataset = {
    count,
    xShape: [2],
    yShape: [1],
    x: Float32Array.from({ length: count * 2 }, (_, k) => Math.floor(k / 2) + (k % 2) * 0.5),
    y: Float32Array.from({ length: count }, (_, i) => i % 3),
  };
  if (classes) ds.classes = classes;
  return ds;
}

/** The sample ids a dataset holds, in order (read back from x). */
const ids = (ds: Dataset) => Array.from({ length: ds.count }, (_, i) => ds.x[i * 2]);

describe('encode / decode', () => {
  test('round-trips shapes, values and class names', () => {
    const ds: Dataset = {
      count: 3,
      xShape: [2, 2, 1],
      yShape: [2],
      x: Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5),
      y: Float32Array.from([1, 0, 0, 1, 1, 0]),
      classes: ['cat', 'chat é'],
    };
    assert.deepEqual(decodeDataset(encodeDataset(ds)), ds);
    const plain = numbered(5);
    assert.deepEqual(decodeDataset(encodeDataset(plain)), plain);
  });

  test('layout: magic, little-endian header length, JSON header, aligned float32 data', () => {
    const bytes = encodeDataset(numbered(2, ['a']));
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'SMDS');
    const headerLength = new DataView(bytes.buffer).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
    assert.deepEqual(header, { v: 1, count: 2, xShape: [2], yShape: [1], classes: ['a'] });
    const start = 8 + headerLength;
    assert.equal(start % 4, 0);
    assert.equal(bytes.length, start + (4 + 2) * 4);
    assert.equal(new DataView(bytes.buffer).getFloat32(start + 4, true), 0.5); // x[1]
  });

  test('decodes from bytes at an odd offset of a larger buffer', () => {
    const ds = numbered(4);
    const encoded = encodeDataset(ds);
    const carrier = new Uint8Array(encoded.length + 3);
    carrier.set(encoded, 1);
    assert.deepEqual(decodeDataset(carrier.subarray(1, 1 + encoded.length)), ds);
    // A Buffer read from a file or the store: `slice` on it is a view into a shared pool.
    const pooled = Buffer.concat([Buffer.alloc(1), Buffer.from(encoded)]).subarray(1);
    assert.deepEqual(decodeDataset(pooled), ds);
  });

  test('refuses bytes that are not a dataset or are truncated', () => {
    const encoded = encodeDataset(numbered(4));
    for (const bad of [new Uint8Array(3), new TextEncoder().encode('PK\u0003\u0004....'), encoded.subarray(0, encoded.length - 4)]) {
      assert.throws(() => decodeDataset(bad), (err: Error) => isSmltError(err, 'DATA_INVALID'));
    }
  });

  test('refuses to encode arrays that disagree with the shapes', () => {
    assert.throws(() => encodeDataset({ ...numbered(3), count: 4 }), (err: Error) => isSmltError(err, 'DATA_INVALID'));
  });

  test('the hash is the sha256 of the encoding and follows the content', () => {
    const bytes = encodeDataset(numbered(10));
    assert.equal(datasetHash(bytes), createHash('sha256').update(bytes).digest('hex'));
    assert.match(datasetHash(bytes), /^[0-9a-f]{64}$/);
    const changed = numbered(10);
    changed.y[3] = 2;
    assert.notEqual(datasetHash(encodeDataset(changed)), datasetHash(bytes));
  });
});

describe('shuffle', () => {
  test('is a seeded permutation that keeps each x with its y', () => {
    const ds = numbered(100, ['a', 'b', 'c']);
    const a = shuffleDataset(ds, 42);
    assert.deepEqual(a, shuffleDataset(ds, 42));
    assert.notDeepEqual(ids(a), ids(shuffleDataset(ds, 43)));
    assert.notDeepEqual(ids(a), ids(ds));
    assert.deepEqual([...ids(a)].sort((p, q) => p - q), ids(ds));
    ids(a).forEach((id, i) => {
      assert.equal(a.x[i * 2 + 1], id + 0.5);
      assert.equal(a.y[i], id % 3);
    });
    assert.deepEqual(a.classes, ['a', 'b', 'c']);
    assert.deepEqual(ids(ds), Array.from({ length: 100 }, (_, i) => i), 'input unchanged');
  });
});

describe('splitHoldout', () => {
  test('holds out the last round(count × fraction) samples', () => {
    const { train, holdout } = splitHoldout(numbered(10), 0.25);
    assert.equal(holdout.count, 3); // round(2.5)
    assert.deepEqual(ids(train), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(ids(holdout), [7, 8, 9]);
    assert.deepEqual(Array.from(holdout.y), [7 % 3, 8 % 3, 9 % 3]);
    assert.equal(splitHoldout(numbered(10), 0).holdout.count, 0);
  });
});

describe('partition', () => {
  test('is strided and cut to floor(count / workers) samples for every worker', () => {
    const ds = numbered(11);
    const parts = [0, 1, 2].map((w) => partition(ds, 3, w));
    assert.deepEqual(parts.map(ids), [
      [0, 3, 6],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    assert.deepEqual(Array.from(parts[1].y), [1, 1, 1]);
  });

  test("the workers' k-th local mini-batches together are the k-th contiguous global mini-batch", () => {
    const ds = numbered(103);
    const workers = 4;
    const local = 5; // per-worker batch; global batch = 20
    const parts = Array.from({ length: workers }, (_, w) => ids(partition(ds, workers, w)));
    const batches = Math.floor(parts[0].length / local);
    for (let k = 0; k < batches; k++) {
      const union = parts.flatMap((p) => p.slice(k * local, (k + 1) * local)).sort((a, b) => a - b);
      const global = Array.from({ length: local * workers }, (_, j) => k * local * workers + j);
      assert.deepEqual(union, global);
    }
  });

  test('refuses impossible splits', () => {
    for (const [workers, index] of [
      [0, 0],
      [3, 3],
      [2, -1],
      [20, 0],
    ]) {
      assert.throws(() => partition(numbered(10), workers, index), (err: Error) => isSmltError(err, 'OPTION_INVALID'));
    }
  });
});
