/**
 * Where each run's store is, so `smlt runs`, `resume` and `cancel` work from any folder.
 * A small JSON file in the SMLT home folder ($SMLT_HOME, default ~/.smlt); it holds locations only
 * (paths, bucket names), never credentials.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { faultPoint } from '../backends/fault-injection.js';
import type { StoreLocation } from '../backends/ports.js';
import { SmltError, errorMessage } from '../errors.js';
import { smltHome } from '../home.js';

export interface IndexedRun {
  runId: string;
  /** Where the run's state is (folder or S3). */
  store?: StoreLocation;
  /** Runs indexed before `store` existed: the folder store's root. */
  storeRoot?: string;
  backend?: 'local' | 'aws';
  /** For `aws`: the smlt.config.json the run's backend came from. */
  configFile?: string;
  notebook?: string;
  /** The sweep this run is a trial of (`smlt runs` lists it under its sweep). */
  sweepId?: string;
  createdAt: string;
  /**
   * Set while the run is being created (its store written), by the process creating it: a run
   * still marked so when that process is gone never started, and is removed with what it wrote.
   */
  creating?: { pid: number };
}

const indexFile = () => join(smltHome(), 'runs.json');

export async function listIndexedRuns(): Promise<IndexedRun[]> {
  try {
    return JSON.parse(await readFile(indexFile(), 'utf8')) as IndexedRun[];
  } catch {
    return [];
  }
}

export async function findIndexedRun(runId: string): Promise<IndexedRun | undefined> {
  return (await listIndexedRuns()).find((r) => r.runId === runId);
}

/**
 * Index updates of this process, one at a time: concurrent read-modify-writes (20 runs started
 * at once through `smlt serve`) would lose entries or collide on the temp file. Two processes
 * writing at the same instant can still lose one entry (see SECURITY.md / README: not locked).
 */
let updates: Promise<void> = Promise.resolve();

/** Records the run (replacing an entry with its id). */
export function indexRun(run: IndexedRun): Promise<void> {
  return updateIndex(`record run ${run.runId}`, (runs) => [...runs.filter((r) => r.runId !== run.runId), run]);
}

/** Drops the runs' entries (their stores are not touched). */
export function forgetRuns(runIds: readonly string[]): Promise<void> {
  return updateIndex(`forget ${runIds.join(', ')}`, (runs) => runs.filter((r) => !runIds.includes(r.runId)));
}

function updateIndex(what: string, change: (runs: IndexedRun[]) => IndexedRun[]): Promise<void> {
  const update = updates.then(async () => {
    const runs = change(await listIndexedRuns());
    const tmp = `${indexFile()}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await faultPoint(`write ${indexFile()}`, async () => {
        await mkdir(smltHome(), { recursive: true });
        await writeFile(tmp, JSON.stringify(runs, null, 2));
        await rename(tmp, indexFile());
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw new SmltError('STORE_ERROR', `Could not ${what} in the run index ${indexFile()}: ${errorMessage(err)}. Free some space there (or set SMLT_HOME to a writable folder) and try again.`, { cause: err });
    }
  });
  updates = update.catch(() => undefined);
  return update;
}
