/**
 * What crashes leave behind, found and removed. Two sweeps share one list of kinds:
 * `removeCrashLeftovers` (each new run and resume: runs whose creation was cut off, worker temp
 * folders and run-index temp files of dead processes) and `smlt gc` (also index entries of runs
 * that are gone, run folders that never started and no index names, finished runs' exchange keys
 * and partial writes, datasets no run uses).
 * Each item says what it is and why it goes before anything is removed.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore, StoreLocation } from '../backends/ports.js';
import { removeDeadPlatformFolders } from '../backends/local/local-platform.js';
import { isProcessAlive } from '../processes.js';
import { datasetKeys, runKeys, runPrefix } from '../run/layout.js';
import { readJson, readStatus } from '../run/run-state.js';
import { smltHome } from '../home.js';
import { type IndexedRun, forgetRuns, listIndexedRuns } from './run-index.js';
import { locationOfRun, storeOfRun } from './run-backends.js';

export interface Garbage {
  /** A path, key prefix or index entry. */
  what: string;
  why: string;
}

/** An unindexed run folder younger than this may be a run another process is creating right now. */
const UNINDEXED_GRACE_MS = 10 * 60_000;

/** Removes what crashed processes left; run at the start of every run and resume. */
export async function removeCrashLeftovers(): Promise<Garbage[]> {
  const removed = await removeUnfinishedCreations(await listIndexedRuns(), true);
  return [...removed, ...workerFolders(true), ...indexTemps(true)];
}

/** `smlt gc`: every kind of leftover; with `dryRun`, only lists them. */
export async function collectGarbage(options: { dryRun?: boolean } = {}): Promise<Garbage[]> {
  const remove = !options.dryRun;
  const indexed = await listIndexedRuns();
  const found: Garbage[] = [...(await removeUnfinishedCreations(indexed, remove)), ...workerFolders(remove), ...indexTemps(remove)];
  // A run a live process is creating is neither gone nor garbage yet.
  const created = indexed.filter((run) => !run.creating);
  const known = new Set(indexed.map((run) => run.runId));

  const gone: IndexedRun[] = [];
  for (const run of created) {
    if (!(await storeOfRun(run).has(runKeys(run.runId).manifest).catch(() => true))) gone.push(run);
  }
  found.push(...gone.map((run) => ({ what: `index entry ${run.runId}`, why: 'its run folder is gone from its store' })));
  if (remove && gone.length > 0) await forgetRuns(gone.map((r) => r.runId));

  for (const { location, runs } of byStore(created.filter((run) => !gone.includes(run)))) {
    found.push(...(await storeGarbage(location, runs, known, remove)));
  }
  return found;
}

function isDeadCreation(run: IndexedRun): boolean {
  return run.creating !== undefined && !isProcessAlive(run.creating.pid);
}

async function removeUnfinishedCreations(indexed: IndexedRun[], remove: boolean): Promise<Garbage[]> {
  const dead = indexed.filter(isDeadCreation);
  if (remove) {
    for (const run of dead) await removeRunFolder(storeOfRun(run), run.runId);
    if (dead.length > 0) await forgetRuns(dead.map((r) => r.runId));
  }
  return dead.map((run) => ({ what: `run ${run.runId} (${storeOfRun(run).url})`, why: 'its creation was cut off before it started' }));
}

/** Temp files of run-index updates whose process died between writing and renaming them. */
function indexTemps(remove: boolean): Garbage[] {
  const home = smltHome();
  const names = existsSync(home) ? readdirSync(home) : [];
  const dead = names.filter((name) => {
    const pid = /^runs\.json\.(\d+)-[0-9a-f]+\.tmp$/.exec(name)?.[1];
    return pid !== undefined && !isProcessAlive(Number(pid));
  });
  if (remove) for (const name of dead) rmSync(join(home, name), { force: true });
  return dead.map((name) => ({ what: join(home, name), why: 'a run-index update cut off by a crash' }));
}

function workerFolders(remove: boolean): Garbage[] {
  return removeDeadPlatformFolders(undefined, { dryRun: !remove }).map((path) => ({ what: path, why: 'worker temp folder of a process that is gone' }));
}

/** The indexed runs grouped by the store they live in. */
function byStore(runs: IndexedRun[]): Array<{ location: StoreLocation; runs: IndexedRun[] }> {
  const groups = new Map<string, { location: StoreLocation; runs: IndexedRun[] }>();
  for (const run of runs) {
    const location = locationOfRun(run);
    const key = JSON.stringify(location);
    groups.set(key, { location, runs: [...(groups.get(key)?.runs ?? []), run] });
  }
  return [...groups.values()];
}

/**
 * Inside one store: finished runs' exchange keys and partial writes; and, in a folder store (this
 * machine's alone; an S3 bucket may hold other machines' runs), run folders that never started and
 * no index names, and datasets no remaining run uses.
 */
async function storeGarbage(location: StoreLocation, runs: IndexedRun[], known: Set<string>, remove: boolean): Promise<Garbage[]> {
  const store = storeOfRun(runs[0]!);
  const found: Garbage[] = [];
  for (const run of runs) {
    const status = await readStatus(store, run.runId).catch(() => undefined);
    if (!status || status.status === 'running') continue;
    const keys = runKeys(run.runId);
    const exchange = await store.list(keys.syncRoot);
    if (exchange.length > 0) found.push({ what: `${store.url}/${keys.syncRoot}`, why: `exchange keys of run ${run.runId}, which has ${status.status}` });
    const partial = await store.removePartialWrites?.(keys.root, { dryRun: !remove });
    if (partial) found.push({ what: `${partial} partial write${partial === 1 ? '' : 's'} in ${store.url}/${keys.root}`, why: 'writes cut off by a crash' });
    if (remove) await store.delete(exchange);
  }
  if (location.kind !== 'folder') return found;

  const kept = new Set<string>();
  for (const runId of await runIdsIn(store)) {
    if (known.has(runId) || (await keepUnindexed(store, runId))) {
      kept.add(runId);
      continue;
    }
    found.push({ what: `${store.url}/${runPrefix(runId)}`, why: 'a run folder that never started, which no run index names' });
    if (remove) await removeRunFolder(store, runId);
  }
  const used = new Set<string>();
  for (const runId of kept) {
    const spec = await readJson<{ data?: { hash?: string } }>(store, runKeys(runId).spec).catch(() => undefined);
    if (spec?.data?.hash) used.add(spec.data.hash);
  }
  const datasets = new Map<string, string[]>();
  for (const key of await store.list('artifacts/data/')) {
    const hash = key.split('/')[2]!;
    datasets.set(hash, [...(datasets.get(hash) ?? []), key]);
  }
  for (const [hash, keys] of datasets) {
    if (used.has(hash)) continue;
    found.push({ what: `${store.url}/${datasetKeys(hash).full.replace(/full\.bin$/, '')}`, why: 'a dataset no run in this store uses' });
    if (remove) await store.delete(keys);
  }
  return found;
}

async function runIdsIn(store: ObjectStore): Promise<string[]> {
  const ids = new Set((await store.list('runs/')).map((key) => key.split('/')[1]!));
  return [...ids];
}

/**
 * Whether a run folder no index names stays. A run that started (it has a status) is never
 * garbage: another run index (another SMLT_HOME) or the library API may have started it, and it
 * holds its outputs. One that never started stays while it is young enough to be starting now.
 */
async function keepUnindexed(store: ObjectStore, runId: string): Promise<boolean> {
  if (await readStatus(store, runId).catch(() => undefined)) return true;
  const stamp = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-/.exec(runId);
  if (!stamp) return false;
  const [, y, mo, d, h, mi, s] = stamp;
  return Date.now() - Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`) < UNINDEXED_GRACE_MS;
}

/** Removes a run that did not get to start: its folder and its index entry. */
export async function discardRun(store: ObjectStore, runId: string): Promise<void> {
  await removeRunFolder(store, runId);
  await forgetRuns([runId]);
}

async function removeRunFolder(store: ObjectStore, runId: string): Promise<void> {
  await store.delete(await store.list(runPrefix(runId)));
  await store.removePartialWrites?.(runPrefix(runId));
}
