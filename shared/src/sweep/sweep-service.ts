/**
 * Sweeps as a service, beside the run service: start (checked and priced before anything starts,
 * then driven in the background), follow (events from the sweep's folder, so any process re-attaches
 * and replays its history), cancel, resume, list. The CLI and `smlt serve` (hence the editors) go
 * through it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SmltError, isSmltError } from '../errors.js';
import type { LocalRunService } from '../service/local-run-service.js';
import { type PreparedSweep, type SweepEstimate, type SweepRequest, type SweepResult, cancelSweep, estimateSweep, prepareSweep, prepareSweepResume, trialTable } from './run-sweep.js';
import type { SweepEvent, SweepStatus } from './sweep-events.js';
import type { Values } from '../capture/search-space.js';
import { SWEEP_HEARTBEAT_STALE_MS, type SweepState, driverAlive, listSweeps, readSweep, readSweepEvents } from './sweep-store.js';

export interface SweepSummary {
  sweepId: string;
  name: string;
  notebook: string;
  createdAt: string;
  status: SweepStatus;
  trials: number;
  objective: SweepState['definition']['objective'];
  constraints: SweepState['constraints'];
  spentUsd: number;
  elapsedS: number;
  best?: { trial: number; values: Values; metric: number; epochs: number; runId?: string };
}

const POLL_MS = 200;
/** A sweep whose driver is gone stops being followed after this long without an event. */
const ORPHAN_MS = SWEEP_HEARTBEAT_STALE_MS;

/** What `smlt serve` and its client offer for sweeps (LocalSweepService here; RunServiceClient over HTTP). */
export interface SweepService {
  /** The forecast of the whole sweep (feasible or not, with the fix); starts nothing. */
  estimate(request: SweepRequest): Promise<SweepEstimate>;
  start(request: SweepRequest): Promise<{ sweepId: string }>;
  resume(sweepId: string): Promise<{ sweepId: string; fromSeq: number }>;
  cancel(sweepId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }>;
  events(sweepId: string, options?: { fromSeq?: number; signal?: AbortSignal }): AsyncIterable<SweepEvent>;
  list(): Promise<SweepSummary[]>;
  get(sweepId: string): Promise<SweepSummary>;
}

export class LocalSweepService implements SweepService {
  private readonly active = new Map<string, { abort: AbortController; done: Promise<SweepResult | undefined> }>();

  constructor(private readonly runs: LocalRunService) {}

  estimate(request: SweepRequest): Promise<SweepEstimate> {
    return estimateSweep(this.runs, request);
  }

  async start(request: SweepRequest): Promise<{ sweepId: string }> {
    const abort = new AbortController();
    return this.drive(await prepareSweep(this.runs, request, { signal: abort.signal }), abort);
  }

  async resume(sweepId: string): Promise<{ sweepId: string; fromSeq: number }> {
    if (this.active.has(sweepId)) throw new SmltError('RUN_BUSY', `Sweep ${sweepId} is already running in this process.`);
    const fromSeq = (await readSweepEvents(sweepId)).at(-1)?.seq ?? 0;
    const abort = new AbortController();
    this.drive(await prepareSweepResume(this.runs, sweepId, { signal: abort.signal }), abort);
    return { sweepId, fromSeq };
  }

  async cancel(sweepId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }> {
    const local = this.active.get(sweepId);
    if (local) {
      local.abort.abort();
      return { outcome: 'requested' };
    }
    return { outcome: await cancelSweep(sweepId) };
  }

  /** Past events with seq > fromSeq, then live ones, ending after `sweep_finished` (or when the signal aborts). */
  async *events(sweepId: string, options: { fromSeq?: number; signal?: AbortSignal } = {}): AsyncIterable<SweepEvent> {
    await readSweep(sweepId);
    let seq = options.fromSeq ?? 0;
    let lastNewMs = Date.now();
    while (!options.signal?.aborted) {
      const fresh = (await readSweepEvents(sweepId)).filter((e) => e.seq > seq);
      for (const event of fresh) {
        seq = event.seq;
        yield event;
      }
      if (fresh.length > 0) lastNewMs = Date.now();
      // A sweep_finished ends the stream unless the sweep goes on (a resumed sweep's history has earlier ones).
      if (fresh.at(-1)?.type === 'sweep_finished') {
        await this.active.get(sweepId)?.done;
        if (!(await this.driven(sweepId)) && !(await readSweepEvents(sweepId)).some((e) => e.seq > seq)) return;
      } else if (fresh.length === 0 && Date.now() - lastNewMs > ORPHAN_MS && !(await this.driven(sweepId))) {
        return;
      }
      await sleep(POLL_MS, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  async list(): Promise<SweepSummary[]> {
    return (await listSweeps()).map(summarize);
  }

  async get(sweepId: string): Promise<SweepSummary> {
    return summarize(await readSweep(sweepId));
  }

  /** Stops the sweeps this process drives (their trials keep their checkpoints) and waits for them. */
  async close(): Promise<void> {
    for (const { abort } of this.active.values()) abort.abort();
    await Promise.all([...this.active.values()].map((s) => s.done));
  }

  /** Whether a process still drives the sweep (this one, or another whose heartbeat is fresh). */
  private async driven(sweepId: string): Promise<boolean> {
    return this.active.has(sweepId) || driverAlive(await readSweep(sweepId));
  }

  private drive(prepared: PreparedSweep, abort: AbortController): { sweepId: string } {
    const { sweepId } = prepared;
    // A failure the drive could not record (a full disk) ends it here; its state still says running, so a resume picks it up.
    const done = prepared
      .drive()
      .catch((err: unknown) => (isSmltError(err) ? undefined : Promise.reject(err)))
      .finally(() => this.active.delete(sweepId));
    this.active.set(sweepId, { abort, done: done.catch(() => undefined) });
    return { sweepId };
  }
}

function summarize(state: SweepState): SweepSummary {
  const best = trialTable(state).find((t) => t.status === 'best');
  return {
    sweepId: state.sweepId,
    name: state.name,
    notebook: state.notebook,
    createdAt: state.createdAt,
    status: state.status,
    trials: state.values.length,
    objective: state.definition.objective,
    constraints: state.constraints,
    spentUsd: state.spentUsd,
    elapsedS: state.elapsedS,
    ...(best?.metric !== undefined ? { best: { trial: best.trial, values: best.values, metric: best.metric, epochs: best.epochs, ...(best.runId ? { runId: best.runId } : {}) } } : {}),
  };
}
