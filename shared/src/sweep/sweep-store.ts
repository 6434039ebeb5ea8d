/**
 * Where a sweep keeps itself: `$SMLT_HOME/sweeps/<id>/` holds its state (state.json, rewritten
 * whole after every change, through a rename) and its events (events.jsonl), so `smlt runs`,
 * `report`, `cancel` and `resume` find it from any folder and a crashed sweep resumes from its
 * last decision. Its trials are ordinary runs, kept where runs are.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SmltError } from '../errors.js';
import { smltHome } from '../home.js';
import { isProcessAlive } from '../processes.js';
import type { AshaState } from './asha.js';
import type { Values } from '../capture/search-space.js';
import type { SweepDefinition } from './sweep-cell.js';
import type { SweepEvent, SweepStatus } from './sweep-events.js';

export interface SweepState {
  v: 1;
  sweepId: string;
  name: string;
  /** The notebook the sweep was started from (a resume captures it again for trials not started). */
  notebook: string;
  /** Where the best model, the settings and the report go. */
  outDir: string;
  constraints: { budgetUsd?: number; deadlineS?: number };
  backend: 'local' | 'aws';
  /** The Python that captured a Keras notebook (a resume captures it with the same). */
  python?: string;
  pythonTimeoutS?: number;
  definition: SweepDefinition;
  values: Values[];
  asha: AshaState;
  /** Per trial: its run, once started, and what it has cost and trained. */
  trials: Array<{ runId?: string; costUsd: number; epochs: number }>;
  spentUsd: number;
  /** Time spent in earlier drives (a resumed sweep's deadline counts them). */
  elapsedS: number;
  status: SweepStatus;
  /** The process driving it and when it last said so: a resume refuses a live one. */
  driver?: { pid: number; heartbeatAt: string };
  createdAt: string;
}

export const sweepsRoot = (): string => join(smltHome(), 'sweeps');
const folderOf = (sweepId: string) => join(sweepsRoot(), sweepId);

export function newSweepId(now = new Date()): string {
  return `sweep-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

export function isSweepId(id: string): boolean {
  return id.startsWith('sweep-');
}

export async function saveSweep(state: SweepState): Promise<void> {
  const dir = folderOf(state.sweepId);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `state.json.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 2));
  await rename(tmp, join(dir, 'state.json'));
}

export async function readSweep(sweepId: string): Promise<SweepState> {
  try {
    return JSON.parse(await readFile(join(folderOf(sweepId), 'state.json'), 'utf8')) as SweepState;
  } catch {
    throw new SmltError('RUN_NOT_FOUND', `No sweep "${sweepId}" is known on this machine; list sweeps and runs with \`smlt runs\`.`);
  }
}

export async function listSweeps(): Promise<SweepState[]> {
  const ids = await readdir(sweepsRoot()).catch(() => [] as string[]);
  const states = await Promise.all(ids.filter(isSweepId).map((id) => readSweep(id).catch(() => undefined)));
  return states.filter((s): s is SweepState => s !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function appendSweepEvent(sweepId: string, event: SweepEvent): Promise<void> {
  await mkdir(folderOf(sweepId), { recursive: true });
  await appendFile(join(folderOf(sweepId), 'events.jsonl'), `${JSON.stringify(event)}\n`);
}

export async function readSweepEvents(sweepId: string): Promise<SweepEvent[]> {
  const text = await readFile(join(folderOf(sweepId), 'events.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SweepEvent);
}

/** A driver whose heartbeat is older than this is taken for dead. */
export const SWEEP_HEARTBEAT_STALE_MS = 15_000;

/** Whether a live process drives the sweep (it is running, its driver's process exists and beat recently). */
export function driverAlive(state: SweepState): boolean {
  const { status, driver } = state;
  return status === 'running' && driver !== undefined && isProcessAlive(driver.pid) && Date.now() - Date.parse(driver.heartbeatAt) < SWEEP_HEARTBEAT_STALE_MS;
}

/** Where a live sweep's driver looks for a cancel request from another process. */
export const cancelRequestPath = (sweepId: string): string => join(folderOf(sweepId), 'cancel-requested');
