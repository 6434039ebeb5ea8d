/** Reading a run's checkpoints back: checked against their checksum, and the newest intact one for a resume. */
import type { ObjectStore } from '../backends/ports.js';
import { SmltError, isSmltError } from '../errors.js';
import { decodeTensors } from '../model/training.js';
import { runKeys } from './layout.js';

/** Reads per checkpoint before giving up on one that fails its checksum (a re-read may be intact). */
const CORRUPT_READS = 3;

/** A checkpoint's bytes, checked against their checksum; throws STORE_CORRUPT naming the key. */
export async function readCheckpoint(store: ObjectStore, key: string): Promise<Uint8Array | undefined> {
  for (let read = 1; ; read++) {
    const bytes = await store.get(key);
    if (!bytes) return undefined;
    try {
      decodeTensors(bytes);
      return bytes;
    } catch (err) {
      if (!isSmltError(err, 'STORE_CORRUPT')) throw err;
      if (read >= CORRUPT_READS) {
        throw new SmltError('STORE_CORRUPT', `${key} in ${store.url} (read ${read} times): ${err.message}`, { cause: err });
      }
    }
  }
}

/** The newest checkpoint at or before `last` that reads intact: a resume starts from it. */
export async function lastIntactCheckpoint(store: ObjectStore, runId: string, last: number): Promise<number> {
  for (let epoch = last; epoch > 0; epoch--) {
    try {
      if (await readCheckpoint(store, runKeys(runId).checkpoint(epoch))) return epoch;
    } catch (err) {
      if (!isSmltError(err, 'STORE_CORRUPT')) throw err;
    }
  }
  return Math.min(last, 0);
}
