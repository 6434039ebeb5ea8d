/**
 * Checkpoints and mid-epoch states carry a SHA-256 of their tensor bytes in the state header:
 * a corrupted byte is a STORE_CORRUPT error (retryable: a re-read may be intact) naming the key,
 * never a silently wrong model.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isSmltError } from '@smlt/shared/errors';
import { createOptimizer, decodeState, decodeTensors, encodeState, encodeTensors } from '@smlt/shared/model/training';
import { initBackend } from '@smlt/shared/tf/backend';

function mlp(): tfl.Sequential {
  return tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 4 }), tfl.layers.dense({ units: 2 })] });
}

/** Where the tensor bytes start: after "SMLT", the header length and the header, 8-aligned. */
function bodyStart(bytes: Uint8Array): number {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  return Math.ceil((8 + headerLength) / 8) * 8;
}

describe('state checksums', () => {
  it('detect one flipped bit anywhere in the tensor bytes, naming the key', async () => {
    await initBackend('cpu');
    const model = mlp();
    const optimizer = createOptimizer({ optimizer: 'adam', learningRate: 0.01 });
    const bytes = await encodeState(model, optimizer);
    const start = bodyStart(bytes);
    for (const at of [start, start + Math.floor((bytes.length - start) / 2), bytes.length - 1]) {
      const corrupted = new Uint8Array(bytes);
      corrupted[at] ^= 0x01;
      assert.throws(() => decodeTensors(corrupted), (err) => isSmltError(err, 'STORE_CORRUPT') && /checksum/.test(err.message), `byte ${at}`);
      await assert.rejects(
        decodeState(corrupted, mlp(), createOptimizer({ optimizer: 'adam', learningRate: 0.01 }), 'runs/r1/checkpoints/e0001.state'),
        (err) => isSmltError(err, 'STORE_CORRUPT') && err.message.startsWith('runs/r1/checkpoints/e0001.state: ') && /Reading it again/.test(err.message),
      );
    }
    // The intact bytes still decode.
    await decodeState(bytes, mlp(), createOptimizer({ optimizer: 'adam', learningRate: 0.01 }));
    model.dispose();
    optimizer.dispose();
  });

  it('are in the header of every state, and a state written without one (older runs) still reads', async () => {
    const t = tf.tensor1d([1, 2, 3]);
    const bytes = await encodeTensors([{ name: 't', tensor: t }], { kind: 'x' });
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as { sha256?: string };
    assert.match(header.sha256 ?? '', /^[0-9a-f]{64}$/, 'the header carries a SHA-256');

    // Rewrite the header without the checksum, as states were written before it existed.
    delete header.sha256;
    const json = new TextEncoder().encode(JSON.stringify(header));
    const start = Math.ceil((8 + json.length) / 8) * 8;
    const old = new Uint8Array(start + 12);
    old.set(bytes.subarray(0, 4));
    new DataView(old.buffer).setUint32(4, json.length, true);
    old.set(json, 8);
    old.set(bytes.subarray(bodyStart(bytes)), start);
    assert.deepEqual(Array.from(decodeTensors(old).tensors[0].values), [1, 2, 3]);
    t.dispose();
  });
});
