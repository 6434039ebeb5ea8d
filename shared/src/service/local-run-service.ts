/**
 * The RunService on this machine: captures notebooks, drives runs on the local platform in
 * this process (in the background), and reads any run — started here or by another process —
 * from its folder store. `smlt serve`, the CLI and the editors all go through it.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ObjectStore } from '../backends/ports.js';
import { type JobSpec, jobSpecSchema } from '../spec/job-spec.js';
import { withFaults } from '../backends/fault-injection.js';
import { openStore } from '../backends/open-store.js';
import { waitForObject } from '../backends/store-utils.js';
import { type CaptureNotes, type Captured, captureNotebook, captureNotebookJson } from '../capture/capture.js';
import { costBreakdown } from '../cost/cost.js';
import { SmltError, isSmltError } from '../errors.js';
import { readEvents } from '../run/event-log.js';
import type { RunEvent } from '../run/events.js';
import { runKeys } from '../run/layout.js';
import { HEARTBEAT_STALE_MS, type PreparedRun, type RunResult, newRunId, prepareResume, prepareTrain, requestCancel, validateRunShape } from '../run/orchestrator.js';
import { isProcessAlive } from '../processes.js';
import { discardRun, removeCrashLeftovers } from './garbage.js';
import { type AdaptiveSettings, readManifest, readStatus } from '../run/run-state.js';
import { estimateFromPlanner, setupAdaptive, type AdaptiveSetup } from './estimate.js';
import type { AdaptivePlan } from '../run/adaptive-plan.js';
import { type IndexedRun, findIndexedRun, indexRun, listIndexedRuns } from './run-index.js';
import { type RunBackend, RunBackends, storeOfRun } from './run-backends.js';
import { Channels, plannedChannels } from './channels.js';
import { runRequestSchema } from './run-request-schema.js';
import type { Estimate, NotebookSource, RunArtifacts, RunRequest, RunService, RunSummary } from './run-service.js';

/**
 * Every run is planned by the adaptive scheduler (objective time unless given); these are only what
 * a resume without the planner falls back to: at most this many workers ...
 */
export const DEFAULT_WORKERS = 4;
/** ... of 1,769 MB, which buys one full vCPU on Lambda (a single-threaded wasm worker gains nothing above it). */
export const DEFAULT_MEMORY_MB = 1769;

export { LOCAL_MIN_MEMORY_MB } from './run-backends.js';

export interface LocalRunServiceOptions {
  /** Per-invocation time limit of the local platform (Lambda: 900 s). */
  timeLimitMs?: number;
  /** Told what capture is doing (running a Keras notebook's cells) and, once done, what it found. */
  onCapture?: { progress?: (message: string) => void; found?: (notes: CaptureNotes) => void };
}

export class LocalRunService implements RunService {
  private readonly backends: RunBackends;
  private readonly channels = new Channels();
  private readonly active = new Map<string, { abort: AbortController; done: Promise<RunResult> }>();
  /** Why a drive of this process failed when it could not record its own end. */
  private readonly failures = new Map<string, SmltError>();

  private readonly onCapture: LocalRunServiceOptions['onCapture'];

  constructor(options: LocalRunServiceOptions = {}) {
    this.backends = new RunBackends({ timeLimitMs: options.timeLimitMs });
    this.onCapture = options.onCapture;
  }

  /** Captures the request's notebook (a sweep captures once, then varies the job per trial). */
  async capture(request: RunRequest): Promise<Captured> {
    const captured = await capture(request, this.onCapture?.progress);
    if (captured.notes) this.onCapture?.found?.(captured.notes);
    return captured;
  }

  async estimate(request: RunRequest): Promise<Estimate> {
    checkRequestOptions(request);
    return this.estimateCaptured(await this.capture(request), request);
  }

  /** The planner's prediction for a job captured already (a sweep's trial). */
  async estimateCaptured(captured: Captured, request: RunRequest): Promise<Estimate> {
    validateRunShape(captured, request.workers);
    const backend = await this.backends.forNotebook(request.backend, notebookDirOf(request.source));
    const setup = await this.adaptive(backend, captured, request);
    const estimate = estimateFromPlanner(setup.adaptive.planner.estimate(), captured.spec.training.epochs, setup, backend.platform.name);
    return { ...estimate, ...(captured.notes ? { found: captured.notes } : {}) };
  }

  async start(request: RunRequest): Promise<{ runId: string }> {
    checkRequestOptions(request);
    return this.startCaptured(await this.capture(request), request);
  }

  /** Starts a run of a job captured already (a sweep's trial: the notebook with the trial's settings). */
  async startCaptured(captured: Captured, request: RunRequest, options: { sweepId?: string } = {}): Promise<{ runId: string }> {
    checkRequestOptions(request);
    validateRunShape(captured, request.workers);
    const notebookDir = notebookDirOf(request.source);
    const backend = await this.backends.forNotebook(request.backend, notebookDir);
    const location = backend.storeFor(notebookDir);
    const abort = new AbortController();
    const notebook = notebookPathOf(request.source);
    const { adaptive, backend: compute } = await this.adaptive(backend, captured, request);
    refuseHopeless(adaptive, request, captured.spec.training.epochs);
    // With `auto` the planner chose the channel along with the workers and memory.
    const channel = await this.channels.open(request.channel === 'auto' ? adaptive.channel.name : request.channel, backend.redis);
    // The manifest's settings: what a resume without the planner falls back to.
    const workers = request.workers ?? Math.max(...adaptive.workerCounts.filter((n) => n <= DEFAULT_WORKERS), 1);
    await removeCrashLeftovers();
    const runId = newRunId();
    const entry: IndexedRun = { runId, store: location, ...backend.indexFields, notebook, ...(options.sweepId ? { sweepId: options.sweepId } : {}), createdAt: new Date().toISOString() };
    const store = withFaults(openStore(location));
    const prepared = await createRun(entry, store, () => prepareTrain(captured, {
      runId,
      platform: backend.platform,
      store,
      storeLocation: location,
      ...(channel ? { channel } : {}),
      // The model and report come back next to the notebook, wherever the run's state lives.
      outRoot: join(notebookDir, '.smlt'),
      planEpoch: adaptive.planEpoch,
      compute: { name: compute.name, reason: compute.reason, pinned: compute.pinned },
      adaptive: adaptiveSettings(request),
      workers,
      memoryMb: request.memoryMb ?? DEFAULT_MEMORY_MB,
      sync: request.sync,
      notebook,
      ...(request.outDir ? { outDir: request.outDir } : {}),
      signal: abort.signal,
    }));
    return this.drive(prepared, abort);
  }

  /**
   * Probes the gradient step and creates the adaptive planner for `request`: its deadline, budget
   * and objective (default time); `workers`/`memoryMb`, when given, are fixed and it chooses the rest.
   */
  async plan(request: RunRequest): Promise<AdaptiveSetup & { captured: Captured; platform: string }> {
    const captured = await this.capture(request);
    validateRunShape(captured, request.workers);
    const backend = await this.backends.forNotebook(request.backend, notebookDirOf(request.source));
    return { ...(await this.adaptive(backend, captured, request)), captured, platform: backend.platform.name };
  }

  private adaptive(
    backend: RunBackend,
    captured: Captured,
    request: Pick<RunRequest, 'objective' | 'deadlineS' | 'budgetUsd' | 'workers' | 'memoryMb' | 'channel'>,
  ): Promise<AdaptiveSetup> {
    const { platform } = backend;
    const [low, high] = platform.memoryRangeMb;
    return setupAdaptive(captured, {
      platform: { name: platform.name, pricing: platform.pricing, timeLimitMs: platform.timeLimitMs, memoryRangeMb: [Math.max(low, backend.minMemoryMb), high] },
      constraints: {
        objective: request.objective ?? 'time',
        ...(request.deadlineS !== undefined ? { deadlineS: request.deadlineS } : {}),
        ...(request.budgetUsd !== undefined ? { budgetUsd: request.budgetUsd } : {}),
      },
      ...(request.workers !== undefined ? { workers: request.workers } : {}),
      ...(request.memoryMb !== undefined ? { memoryMb: request.memoryMb } : {}),
      channels: plannedChannels(request.channel, backend.redis !== undefined),
    });
  }

  /**
   * Trains a finished run further, to `epochs` in all, from its last checkpoint (a sweep promoting a
   * trial). `budgetUsd` and `deadlineS`, when given, bound the added epochs; the planner plans them.
   */
  async extend(runId: string, extension: { epochs: number; budgetUsd?: number; deadlineS?: number }): Promise<{ runId: string; fromSeq: number }> {
    const status = await readStatus(storeOfRun(await indexedRun(runId)), runId);
    const spentUsd = status ? costBreakdown(status.cost).totalUsd : 0;
    const elapsedS = status ? status.epochs.reduce((s, e) => s + e.durationS, 0) : 0;
    return this.resume(runId, {
      extendTo: extension.epochs,
      replan: {
        ...(extension.budgetUsd !== undefined ? { budgetUsd: spentUsd + extension.budgetUsd } : {}),
        ...(extension.deadlineS !== undefined ? { deadlineS: elapsedS + extension.deadlineS } : {}),
      },
    });
  }

  async resume(
    runId: string,
    options: { force?: boolean; extendTo?: number; replan?: Partial<AdaptiveSettings> } = {},
  ): Promise<{ runId: string; fromSeq: number }> {
    if (this.active.has(runId)) throw new SmltError('RUN_BUSY', `Run ${runId} is already running in this process.`);
    const run = await indexedRun(runId);
    if (run.creating && !isProcessAlive(run.creating.pid)) {
      throw new SmltError(
        'RUN_NOT_FOUND',
        `Run ${runId} never started: it was cut off while it was being created. Start it again with \`smlt train\`; ` +
          'the next run (or `smlt gc`) removes what it left.',
      );
    }
    await removeCrashLeftovers();
    const backend = await this.backends.forRun(run);
    const store = withFaults(storeOfRun(run));
    const abort = new AbortController();
    const prepared = await prepareResume(runId, {
      platform: backend.platform,
      store,
      signal: abort.signal,
      force: options.force,
      ...(options.extendTo !== undefined ? { extendTo: options.extendTo } : {}),
      ...(options.replan ? { replan: options.replan } : {}),
      // An adaptive run is planned again, with its deadline and budget, from the epochs it has done.
      planFor: async (captured, { adaptive }) => (adaptive ? (await this.adaptive(backend, captured, adaptive)).adaptive.planEpoch : undefined),
    });
    return this.drive(prepared, abort);
  }

  async *events(runId: string, options: { fromSeq?: number; signal?: AbortSignal } = {}): AsyncIterable<RunEvent> {
    const store = storeOfRun(await indexedRun(runId));
    await readManifest(store, runId);
    const keys = runKeys(runId);
    let seq = options.fromSeq ?? 0;
    for (;;) {
      let bytes: Uint8Array;
      try {
        bytes = await waitForObject(store, keys.event(seq + 1), { timeoutMs: 5_000, signal: options.signal });
      } catch (err) {
        if (!isSmltError(err, 'SYNC_TIMEOUT')) {
          if (options.signal?.aborted) return;
          throw err;
        }
        // A drive of this process that failed without its last event (a full disk): say why.
        const failure = this.failures.get(runId);
        if (failure) throw failure;
        // Nothing new for a while: stop following a run no process drives any more.
        const status = await readStatus(store, runId);
        const orphaned = !status || (!this.active.has(runId) && Date.now() - Date.parse(status.heartbeatAt) > HEARTBEAT_STALE_MS);
        if (orphaned || (status && status.status !== 'running' && !(await store.has(keys.event(seq + 1))))) return;
        continue;
      }
      const event = JSON.parse(Buffer.from(bytes).toString('utf8')) as RunEvent;
      seq = event.seq;
      yield event;
      if (event.type === 'run_finished') {
        // When this process drives the run, let it finish writing (outputs, status) first.
        await this.active.get(runId)?.done.catch(() => undefined);
        return;
      }
    }
  }

  /** The events stored so far, without following the run. */
  async history(runId: string): Promise<RunEvent[]> {
    const store = storeOfRun(await indexedRun(runId));
    await readManifest(store, runId);
    return readEvents(store, runId);
  }

  async cancel(runId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }> {
    const local = this.active.get(runId);
    if (local) {
      local.abort.abort();
      return { outcome: 'requested' };
    }
    return { outcome: await requestCancel(storeOfRun(await indexedRun(runId)), runId) };
  }

  async list(): Promise<RunSummary[]> {
    const summaries = await Promise.all(
      (await listIndexedRuns())
        .filter((run) => !run.creating)
        .map((run) => summarize(storeOfRun(run), run).catch(() => undefined)),
    );
    return summaries.filter((s): s is RunSummary => s !== undefined).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async get(runId: string): Promise<RunSummary> {
    const run = await indexedRun(runId);
    return summarize(storeOfRun(run), run);
  }

  async artifacts(runId: string): Promise<RunArtifacts> {
    const manifest = await readManifest(storeOfRun(await indexedRun(runId)), runId);
    const modelPath = join(manifest.outDir, 'model', 'model.json');
    const reportPath = join(manifest.outDir, 'report.json');
    const spec = await readRunSpec(storeOfRun(await indexedRun(runId)), runId);
    return {
      runId,
      outDir: manifest.outDir,
      ...(existsSync(modelPath) ? { modelPath } : {}),
      ...(existsSync(reportPath) ? { reportPath } : {}),
      ...(spec?.origin.fit ? { modelVariable: spec.origin.fit.model } : {}),
    };
  }

  /** Waits for the runs this process drives, then stops the workers. */
  async close(): Promise<void> {
    for (const { abort } of this.active.values()) abort.abort();
    await Promise.all([...this.active.values()].map((r) => r.done.catch(() => undefined)));
    await this.backends.close();
    await this.channels.close();
  }

  private drive(prepared: PreparedRun, abort: AbortController): { runId: string; fromSeq: number } {
    const { runId } = prepared;
    this.failures.delete(runId);
    const done: Promise<RunResult> = prepared.run().finally(() => this.active.delete(runId));
    // A failure is recorded in the run's status and events, unless recording it is what failed.
    done.catch((err: unknown) => {
      const { code, message } = isSmltError(err) ? err : { code: 'RUN_FAILED' as const, message: String(err) };
      this.failures.set(runId, new SmltError(code, `${message} Run ${runId} stopped; once that is fixed, resume it with \`smlt resume ${runId}\`.`, { cause: err }));
    });
    this.active.set(runId, { abort, done });
    return { runId, fromSeq: prepared.fromSeq };
  }
}

/**
 * Creates a run as one step from the user's view: indexed as being created (by this process)
 * before its store is written, and as created after. Cut off in between, it never existed: it is
 * not listed, and the next run's sweep (or `smlt gc`) removes what it wrote.
 */
async function createRun(entry: IndexedRun, store: ObjectStore, prepare: () => Promise<PreparedRun>): Promise<PreparedRun> {
  await indexRun({ ...entry, creating: { pid: process.pid } });
  try {
    const prepared = await prepare();
    await indexRun(entry);
    return prepared;
  } catch (err) {
    // When even this fails (a full disk), the sweep removes what is left.
    await discardRun(store, entry.runId).catch(() => undefined);
    throw err;
  }
}

function adaptiveSettings(request: RunRequest): AdaptiveSettings {
  return {
    objective: request.objective ?? 'time',
    ...(request.deadlineS !== undefined ? { deadlineS: request.deadlineS } : {}),
    ...(request.budgetUsd !== undefined ? { budgetUsd: request.budgetUsd } : {}),
    ...(request.workers !== undefined ? { workers: request.workers } : {}),
    ...(request.memoryMb !== undefined ? { memoryMb: request.memoryMb } : {}),
  };
}

/**
 * The request's numbers and choices, checked as `smlt serve` checks them (the CLI and editors call
 * the service directly): a NaN deadline or a negative budget must not reach the planner.
 */
function checkRequestOptions(request: RunRequest): void {
  const { source: _source, outDir: _outDir, ...options } = request;
  const result = runRequestSchema.omit({ source: true, outDir: true }).safeParse(options);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join('.');
    throw new SmltError('OPTION_INVALID', `${field} is invalid (got ${String(valueAt(options, issue.path))}): ${issue.message}.`);
  }
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<PropertyKey, unknown> | undefined)?.[key], value);
}

/**
 * Refuses, before anything is written, a deadline or budget too small for even one epoch in the
 * planner's most optimistic case: such a run could only stop at once. (A budget for part of the
 * job is allowed: the run stops cleanly, with a checkpoint, before passing it.)
 */
function refuseHopeless(adaptive: AdaptivePlan, request: RunRequest, epochs: number): void {
  const estimate = adaptive.planner.estimate();
  const oneEpochS = estimate.timeS.low / epochs;
  const oneEpochUsd = estimate.costUsd.low / epochs;
  if (request.deadlineS !== undefined && request.deadlineS < oneEpochS) {
    throw new SmltError(
      'OPTION_INVALID',
      `The deadline of ${request.deadlineS} s is shorter than one epoch takes at best (${oneEpochS.toPrecision(2)} s); ` +
        `give a deadline of at least ${Math.ceil(estimate.timeS.high)} s for the whole job (\`smlt plan\` shows the options).`,
    );
  }
  if (request.budgetUsd !== undefined && request.budgetUsd < oneEpochUsd) {
    throw new SmltError(
      'OPTION_INVALID',
      `The budget of $${request.budgetUsd} is less than one epoch costs at best ($${oneEpochUsd.toPrecision(2)}); ` +
        `give a budget of at least $${estimate.costUsd.high.toPrecision(2)} for the whole job (\`smlt plan\` shows the options).`,
    );
  }
}

async function capture(request: RunRequest, onProgress?: (message: string) => void): Promise<Captured> {
  const { source } = request;
  const overrides = request.overrides ?? {};
  const python = {
    ...(request.python ? { python: request.python } : {}),
    ...(request.pythonTimeoutS ? { pythonTimeoutS: request.pythonTimeoutS } : {}),
    ...(onProgress ? { onProgress } : {}),
  };
  if ('path' in source) return captureNotebook(source.path, overrides, python);
  return captureNotebookJson(source.notebook, {
    notebookDir: source.notebookDir,
    name: source.name,
    ...(source.notebookPath ? { notebookPath: source.notebookPath } : {}),
    overrides,
    ...python,
  });
}

function notebookDirOf(source: NotebookSource): string {
  return 'path' in source ? dirname(source.path) : source.notebookDir;
}

function notebookPathOf(source: NotebookSource): string | undefined {
  return 'path' in source ? source.path : source.notebookPath;
}

/** The run's stored spec, or undefined when it is missing or unreadable (an old or damaged run). */
async function readRunSpec(store: ObjectStore, runId: string): Promise<JobSpec | undefined> {
  const bytes = await store.get(runKeys(runId).spec);
  if (!bytes) return undefined;
  const parsed = jobSpecSchema.safeParse(JSON.parse(Buffer.from(bytes).toString('utf8')));
  return parsed.success ? parsed.data : undefined;
}

async function indexedRun(runId: string): Promise<IndexedRun> {
  const indexed = await findIndexedRun(runId);
  if (!indexed) throw new SmltError('RUN_NOT_FOUND', `No run "${runId}" is known on this machine; list runs with \`smlt runs\`.`);
  return indexed;
}

async function summarize(store: ObjectStore, { runId, sweepId }: IndexedRun): Promise<RunSummary> {
  const manifest = await readManifest(store, runId);
  const status = await readStatus(store, runId);
  if (!status) throw new SmltError('RUN_NOT_FOUND', `Run ${runId} has no status yet.`);
  const spec = await store.get(runKeys(runId).spec);
  const epochs = spec ? (JSON.parse(Buffer.from(spec).toString('utf8')) as { training: { epochs: number } }).training.epochs : 0;
  const last = status.epochs.at(-1);
  return {
    runId,
    name: manifest.name,
    ...(manifest.notebook ? { notebook: manifest.notebook } : {}),
    ...(sweepId ? { sweepId } : {}),
    createdAt: manifest.createdAt,
    status: status.status,
    epochsDone: status.epochsDone,
    epochs,
    costUsd: costBreakdown(status.cost).totalUsd,
    elapsedS: status.elapsedS,
    ...(last ? { metrics: { loss: last.loss, valLoss: last.valLoss, valAccuracy: last.valAccuracy } } : {}),
  };
}

