/**
 * What a warm container keeps between invocations: store clients, the built model, and the
 * data partition (in memory and in the container's temp folder, keyed by the content-addressed
 * partition key). A warm re-invocation downloads and builds nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ObjectStore, StoreLocation } from '@smlt/shared/backends/ports';
import { openStore } from '@smlt/shared/backends/open-store';
import { type Dataset, decodeDataset } from '@smlt/shared/data/dataset';
import { SmltError } from '@smlt/shared/errors';
import { buildModel } from '@smlt/shared/model/build';
import { type LossFn, lossFunction } from '@smlt/shared/model/training';
import { type JobSpec, jobSpecSchema } from '@smlt/shared/spec/job-spec';
import type { WorkerEvent } from '@smlt/shared/run/worker-protocol';

export class WarmCache {
  private readonly stores = new Map<string, ObjectStore>();
  private built?: { specHash: string; spec: JobSpec; model: tfl.LayersModel; loss: LossFn };
  private data?: { key: string; dataset: Dataset };

  /** The container's temp folder: Lambda's /tmp, or the local platform's per-container folder. */
  private readonly cacheDir = join(process.env.SMLT_TMP ?? tmpdir(), 'smlt-cache');

  store(location: StoreLocation): ObjectStore {
    const id = JSON.stringify(location);
    let store = this.stores.get(id);
    if (!store) {
      store = openStore(location);
      this.stores.set(id, store);
    }
    return store;
  }

  async model(
    store: ObjectStore,
    event: WorkerEvent,
  ): Promise<{ spec: JobSpec; model: tfl.LayersModel; loss: LossFn; built: boolean }> {
    if (this.built?.specHash === event.specHash) return { ...this.built, built: false };
    const bytes = await store.get(event.specKey);
    if (!bytes) throw new SmltError('RUN_FAILED', `The job spec ${event.specKey} is missing from ${store.url}.`);
    const spec = jobSpecSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
    this.built?.model.dispose();
    const model = await buildModel(spec.model.topology);
    this.built = { specHash: event.specHash, spec, model, loss: lossFunction(spec.training) };
    return { ...this.built, built: true };
  }

  /**
   * The disk copy only saves a download when a new process reuses this container's temp folder:
   * a full or unwritable temp folder (ENOSPC, EROFS, ENOTDIR) must not fail the invocation.
   * The first failure turns the disk copy off for this container and is reported once on stderr.
   */
  private diskCacheOff = false;

  private async keepOnDisk(file: string, bytes: Uint8Array): Promise<void> {
    if (this.diskCacheOff) return;
    const partial = `${file}.${process.pid}.tmp`;
    try {
      await mkdir(this.cacheDir, { recursive: true });
      await writeFile(partial, bytes);
      await rename(partial, file);
    } catch (err) {
      this.diskCacheOff = true;
      await rm(partial, { force: true }).catch(() => undefined);
      process.stderr.write(`smlt worker: cannot cache data in ${this.cacheDir} (${(err as Error).message}); continuing without a disk cache\n`);
    }
  }

  async partition(store: ObjectStore, key: string): Promise<{ dataset: Dataset; downloaded: boolean }> {
    if (this.data?.key === key) return { dataset: this.data.dataset, downloaded: false };
    const file = join(this.cacheDir, `${createHash('sha256').update(key).digest('hex')}.bin`);
    let bytes: Uint8Array | undefined = await readFile(file).catch(() => undefined);
    const downloaded = bytes === undefined;
    if (!bytes) {
      bytes = await store.get(key);
      if (!bytes) throw new SmltError('RUN_FAILED', `The data partition ${key} is missing from ${store.url}.`);
      await this.keepOnDisk(file, bytes);
    }
    this.data = { key, dataset: decodeDataset(bytes) };
    return { dataset: this.data.dataset, downloaded };
  }
}
