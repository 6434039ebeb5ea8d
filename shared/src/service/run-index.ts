/**
 * Where each run's store is, so `smlt runs`, `resume` and `cancel` work from any folder.
 * A small JSON file in the SMLT home folder ($SMLT_HOME, default ~/.smlt); it holds locations only
 * (paths, bucket names), never credentials.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { StoreLocation } from '../backends/ports.js';

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
  createdAt: string;
}

export const smltHome = (): string => process.env.SMLT_HOME ?? join(homedir(), '.smlt');
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

export function indexRun(run: IndexedRun): Promise<void> {
  const update = updates.then(async () => {
    const runs = (await listIndexedRuns()).filter((r) => r.runId !== run.runId);
    runs.push(run);
    await mkdir(smltHome(), { recursive: true });
    const tmp = `${indexFile()}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(runs, null, 2));
    await rename(tmp, indexFile());
  });
  updates = update.catch(() => undefined);
  return update;
}
