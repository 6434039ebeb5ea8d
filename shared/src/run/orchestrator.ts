/**
 * Drives a run from the orchestrator's side: uploads the artifacts once, then for each epoch
 * chooses the configuration, runs the epoch on the platform, checkpoints, evaluates on the
 * held-out split and records everything in the store, so another process can follow the run
 * or resume it after a crash (losing at most the epoch in progress). The steps of a drive live
 * in their own modules: run-context (what they share), start-run, epoch-attempts, record-epoch,
 * finish-run.
 */
import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../backends/ports.js';
import type { Captured } from '../capture/capture.js';
import { CostMeter } from '../cost/cost.js';
import { decodeDataset, encodeDataset } from '../data/dataset.js';
import { SmltError } from '../errors.js';
import { buildModel } from '../model/build.js';
import { createOptimizer, encodeState } from '../model/training.js';
import { jobSpecSchema } from '../spec/job-spec.js';
import { initBackend } from '../tf/backend.js';
import { lastIntactCheckpoint } from './checkpoints.js';
import { runEpochAttempts } from './epoch-attempts.js';
import type { EpochMetrics, RunEvent } from './events.js';
import { endOf, finishRun, type RunEnd } from './finish-run.js';
import { datasetKeys, runKeys } from './layout.js';
import { evaluateEpoch, recordEpoch } from './record-epoch.js';
import { type DriveInput, loadTrainingData, RunContext } from './run-context.js';
import type { PreparedRun, ResumeOptions, RunOptions, RunResult } from './run-options.js';
import { defaultOutDir, settingsFrom, validateBatch, validateRunShape } from './run-shape.js';
import { type RunManifest, type RunStatusRecord, readJson, readManifest, readStatus, writeStatus } from './run-state.js';
import { startRun } from './start-run.js';
import { HEARTBEAT_STALE_MS } from './watch.js';

export type { Captured };
export type { EpochConfig, EpochFailure, PreparedRun, ResumeOptions, RunOptions, RunResult } from './run-options.js';
export { HEARTBEAT_STALE_MS } from './watch.js';
export { validateRunShape } from './run-shape.js';

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Starts a new run of a captured notebook and drives it to the end. */
export async function train(captured: Captured, options: RunOptions): Promise<RunResult> {
  return (await prepareTrain(captured, options)).run();
}

/** Continues a run whose orchestrator stopped (crash, kill, failure) from its last checkpoint. */
export async function resume(runId: string, options: ResumeOptions): Promise<RunResult> {
  return (await prepareResume(runId, options)).run();
}

/** Validates the options and uploads what workers need; bad input rejects here, before any launch. */
export async function prepareTrain(captured: Captured, options: RunOptions): Promise<PreparedRun> {
  const { spec, dataset } = captured;
  const runId = options.runId ?? newRunId();
  const keys = runKeys(runId);
  const settings = settingsFrom(options);
  validateRunShape(captured, settings.workers);
  const outDir = options.outDir ?? defaultOutDir(options.storeLocation, runId, options.outRoot);

  const fullKey = datasetKeys(spec.data.hash).full;
  if (!(await options.store.has(fullKey))) await options.store.put(fullKey, encodeDataset(dataset));
  await options.store.put(keys.spec, JSON.stringify(spec));
  const manifest: RunManifest = {
    v: 1,
    runId,
    name: spec.name,
    notebook: options.notebook,
    createdAt: new Date().toISOString(),
    store: options.storeLocation,
    platform: options.platform.name,
    outDir,
    settings,
  };
  await options.store.put(keys.manifest, JSON.stringify(manifest, null, 2));

  await initBackend();
  const model = await buildModel(spec.model.topology, { seed: spec.training.seed });
  const optimizer = createOptimizer(spec.training);
  await options.store.put(keys.checkpoint(0), await encodeState(model, optimizer));
  model.dispose();
  optimizer.dispose();

  const status = freshStatus();
  await writeStatus(options.store, runId, status);
  return { runId, fromSeq: 0, run: () => drive({ manifest, spec, dataset, status, seq: 0, options }) };
}

/** A run's spec and dataset as stored with it (the notebook may have changed since). */
export async function readRunInputs(store: ObjectStore, runId: string): Promise<Captured> {
  const spec = jobSpecSchema.parse(await readJson(store, runKeys(runId).spec));
  const bytes = await store.get(datasetKeys(spec.data.hash).full);
  if (!bytes) throw new SmltError('RUN_NOT_FOUND', `The dataset of run ${runId} is missing from ${store.url}.`);
  return { spec, dataset: decodeDataset(bytes) };
}

/** Checks that a run can be resumed and loads what driving it needs. */
export async function prepareResume(runId: string, options: ResumeOptions): Promise<PreparedRun> {
  const { store } = options;
  const manifest = await readManifest(store, runId);
  const status = await readStatus(store, runId);
  if (!status) throw new SmltError('RUN_NOT_FOUND', `Run ${runId} has no status in ${store.url}.`);
  const keys = runKeys(runId);
  const eventKeys = await store.list(keys.eventsPrefix);
  const last = eventKeys.length > 0 ? await readJson<RunEvent>(store, eventKeys.at(-1)!) : undefined;
  const captured = await readRunInputs(store, runId);
  const { spec, dataset } = captured;
  if (options.extendTo !== undefined && options.extendTo <= spec.training.epochs) {
    throw new SmltError('OPTION_INVALID', `Run ${runId} trains ${spec.training.epochs} epochs already; extend it to more (got ${options.extendTo}).`);
  }
  // A succeeded run resumes only to train further, or when it was killed while finishing (its final status but no run_finished).
  if (options.extendTo === undefined && status.status === 'succeeded' && last?.type === 'run_finished') {
    throw new SmltError('RUN_BUSY', `Run ${runId} already succeeded; its model is in ${manifest.outDir}.`);
  }
  if (!options.force && status.status === 'running' && Date.now() - Date.parse(status.heartbeatAt) < HEARTBEAT_STALE_MS) {
    throw new SmltError(
      'RUN_BUSY',
      `Run ${runId} is still being driven by another process (heartbeat ${status.heartbeatAt}); ` +
        `cancel it with \`smlt cancel ${runId}\`, or pass --force if that process is dead.`,
    );
  }
  if (options.extendTo !== undefined) {
    spec.training.epochs = options.extendTo;
    await store.put(keys.spec, JSON.stringify(spec));
  }
  const lastCheckpoint = await lastIntactCheckpoint(store, runId, (await store.list(runKeys(runId).checkpointsPrefix)).length - 1);
  // Epochs past the last checkpoint are redone; forget their records.
  status.epochsDone = Math.min(status.epochsDone, lastCheckpoint);
  status.epochs = status.epochs.filter((e) => e.epoch < status.epochsDone);
  status.error = undefined;
  await clearLeftovers(store, runId);
  // The next event follows the last one stored, so no number is used twice.
  const seq = last?.seq ?? 0;
  manifest.settings = {
    ...manifest.settings,
    workers: options.workers ?? manifest.settings.workers,
    memoryMb: options.memoryMb ?? manifest.settings.memoryMb,
    ...(manifest.settings.adaptive && options.replan ? { adaptive: { ...manifest.settings.adaptive, ...options.replan } } : {}),
  };
  validateBatch(spec, manifest.settings.workers);
  const planEpoch = await options.planFor?.(captured, manifest.settings);
  const resumedFrom = status.epochsDone;
  return {
    runId,
    fromSeq: seq,
    run: () =>
      drive({
        manifest,
        spec,
        dataset,
        status,
        seq,
        resumedFrom,
        options: { ...options, ...manifest.settings, storeLocation: manifest.store, ...(planEpoch ? { planEpoch } : {}) },
      }),
  };
}

/**
 * What a crashed drive of the run left: a cancel request, every epoch's exchange keys (the epoch in
 * progress is redone from its checkpoint), and the store's partial writes under the run's folder.
 */
async function clearLeftovers(store: ObjectStore, runId: string): Promise<void> {
  const keys = runKeys(runId);
  await store.delete([keys.cancelRequest, ...(await store.list(keys.syncRoot))]);
  await store.removePartialWrites?.(keys.root);
}

/** Asks the orchestrator driving a run to stop; marks it cancelled when no one drives it. */
export async function requestCancel(store: ObjectStore, runId: string): Promise<'requested' | 'cancelled' | 'finished'> {
  await readManifest(store, runId);
  const status = await readStatus(store, runId);
  if (!status || status.status !== 'running') return 'finished';
  await store.put(runKeys(runId).cancelRequest, new Date().toISOString());
  if (Date.now() - Date.parse(status.heartbeatAt) >= HEARTBEAT_STALE_MS) {
    await writeStatus(store, runId, { ...status, status: 'cancelled', updatedAt: new Date().toISOString() });
    return 'cancelled';
  }
  return 'requested';
}

/**
 * A drive, top-down: start (`run_started`); for each epoch plan it (the scheduler's budget guard
 * stops the run from there), run it (`plan`, `epoch_started`, the workers' events), evaluate its
 * checkpoint (`checkpoint`) and record it (`epoch_finished`, `cost`); then finish, whatever
 * happened (`run_finished`).
 */
async function drive(input: DriveInput): Promise<RunResult> {
  const run = new RunContext(input);
  const { spec, status, options, settings } = run;
  const data = await loadTrainingData(spec, input.dataset);
  const watcher = await startRun(run, data);
  let metrics: EpochMetrics | undefined = status.epochs.at(-1);
  let end: RunEnd = { status: 'succeeded' };
  try {
    for (let epoch = status.epochsDone; epoch < spec.training.epochs; epoch++) {
      // Deciding the epoch is part of its time.
      const start = { atMs: Date.now(), costUsd: run.meter.breakdown().totalUsd };
      const planned = options.planEpoch?.(epoch, status.epochs) ?? {
        workers: settings.workers,
        memoryMb: settings.memoryMb,
        reason: 'fixed configuration (--workers, --memory)',
      };
      const ran = await runEpochAttempts(run, data, watcher, epoch, planned);
      metrics = await evaluateEpoch(run, data, epoch);
      await recordEpoch(run, epoch, ran, start, metrics);
    }
  } catch (err) {
    end = endOf(err, run.abort.signal.aborted);
  } finally {
    await watcher.stop();
    run.close();
  }
  return finishRun(run, data, end, metrics);
}

function freshStatus(): RunStatusRecord {
  const now = new Date().toISOString();
  return {
    status: 'running',
    epochsDone: 0,
    epochs: [],
    elapsedS: 0,
    cost: new CostMeter().toJSON(),
    updatedAt: now,
    heartbeatAt: now,
  };
}
