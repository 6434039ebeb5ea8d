/**
 * Drives a run from the orchestrator's side: uploads the artifacts once, then for each epoch
 * chooses the configuration, runs the epoch on the platform, checkpoints, evaluates on the
 * held-out split and records everything in the store, so another process can follow the run
 * or resume it after a crash (losing at most the epoch in progress).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import pLimit from 'p-limit';
import type { ObjectStore, Platform, StoreLocation } from '../backends/ports.js';
import type { Captured } from '../capture/capture.js';
import { CostMeter, requestCountsSince } from '../cost/cost.js';
import { channelCostUsd } from '../cost/epoch-cost.js';
import { PRICE_TABLES, REDIS_CHANNEL_PRICES } from '../cost/prices.js';
import { type Dataset, datasetHash, decodeDataset, encodeDataset, partition, splitHoldout } from '../data/dataset.js';
import { SmltError, errorMessage, isSmltError } from '../errors.js';
import { buildModel } from '../model/build.js';
import { createOptimizer, decodeState, decodeTensors, encodeState, evaluate } from '../model/training.js';
import { type JobSpec, jobSpecSchema } from '../spec/job-spec.js';
import { initBackend } from '../tf/backend.js';
import { summarizeWorkers } from './observations.js';
import { type EpochPlan, runEpoch } from './epoch-runner.js';

export type { Captured };
import { EventLog } from './event-log.js';
import type { EpochMetrics, FinalStatus, RunEvent, SyncName } from './events.js';
import { datasetKeys, runKeys } from './layout.js';
import { writeRunOutputs } from './outputs.js';
import {
  type AdaptiveSettings,
  type EpochRecord,
  type RunManifest,
  type RunSettings,
  type RunStatusRecord,
  readJson,
  readManifest,
  readStatus,
  writeStatus,
} from './run-state.js';
import type { WorkerEvent } from './worker-protocol.js';

/** The configuration of one epoch, and why (the scheduler plugs in here). */
export interface EpochConfig {
  workers: number;
  memoryMb: number;
  reason: string;
}

/** Why an epoch is planned again: its workers ran out of memory at this configuration. */
export interface EpochFailure {
  outOfMemory: { workers: number; memoryMb: number };
}

export interface RunOptions {
  platform: Platform;
  store: ObjectStore;
  /** How workers open the same store. */
  storeLocation: StoreLocation;
  /**
   * Where workers exchange gradients, when not through `store`: an in-memory channel (Redis).
   * Run state (checkpoints, markers, events) stays in `store`.
   */
  channel?: { store: ObjectStore; location: StoreLocation };
  workers: number;
  memoryMb: number;
  sync?: SyncName;
  /** Where model files and report.json go; default `<outRoot>/runs/<id>`. */
  outDir?: string;
  /** The local folder under which `runs/<id>` holds the outputs; default the folder store's root. */
  outRoot?: string;
  maxRetries?: number;
  syncTimeoutMs?: number;
  /** A worker returns `continue` when less than this is left of the platform's time limit. */
  safetyMarginMs?: number;
  /** Chooses each epoch's configuration; default: the fixed `workers` and `memoryMb`. */
  planEpoch?: (epoch: number, previous: EpochRecord[], failure?: EpochFailure) => EpochConfig;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  notebook?: string;
  /** Recorded with the run when `planEpoch` comes from the adaptive scheduler, so a resume can re-plan. */
  adaptive?: AdaptiveSettings;
  /** Id for the new run (default: a fresh time-stamped id), so a caller can follow it at once. */
  runId?: string;
}

export interface RunResult {
  runId: string;
  status: FinalStatus;
  metrics?: EpochMetrics;
  durationS: number;
  costUsd: number;
  modelPath?: string;
  reportPath?: string;
  error?: { code: string; message: string };
}

const HEARTBEAT_MS = 2_000;
/** An orchestrator silent for longer than this is presumed dead (resume may take over). */
export const HEARTBEAT_STALE_MS = 15_000;

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** A run that is validated and recorded in the store, ready to be driven. */
export interface PreparedRun {
  runId: string;
  /** The run's last event so far (0 for a new run); its next events follow it. */
  fromSeq: number;
  run(): Promise<RunResult>;
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

export type ResumeOptions = Omit<RunOptions, 'workers' | 'memoryMb' | 'storeLocation' | 'planEpoch'> &
  Partial<Pick<RunOptions, 'workers' | 'memoryMb'>> & {
    /** Take over even if the run's orchestrator sent a heartbeat recently (it is known to be dead). */
    force?: boolean;
    /** Chooses each epoch's configuration from the run's stored inputs (an adaptive run re-plans). */
    planFor?: (captured: Captured, settings: RunSettings) => Promise<RunOptions['planEpoch']>;
  };

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
  if (status.status === 'succeeded') {
    throw new SmltError('RUN_BUSY', `Run ${runId} already succeeded; its model is in ${manifest.outDir}.`);
  }
  if (!options.force && status.status === 'running' && Date.now() - Date.parse(status.heartbeatAt) < HEARTBEAT_STALE_MS) {
    throw new SmltError(
      'RUN_BUSY',
      `Run ${runId} is still being driven by another process (heartbeat ${status.heartbeatAt}); ` +
        `cancel it with \`smlt cancel ${runId}\`, or pass --force if that process is dead.`,
    );
  }
  const captured = await readRunInputs(store, runId);
  const { spec, dataset } = captured;
  const lastCheckpoint = await lastIntactCheckpoint(store, runId, (await store.list(runKeys(runId).checkpointsPrefix)).length - 1);
  // Epochs past the last checkpoint are redone; forget their records.
  status.epochsDone = Math.min(status.epochsDone, lastCheckpoint);
  status.epochs = status.epochs.filter((e) => e.epoch < status.epochsDone);
  status.error = undefined;
  await store.delete([runKeys(runId).cancelRequest]);
  const seq = (await store.list(runKeys(runId).eventsPrefix)).length;
  manifest.settings = {
    ...manifest.settings,
    workers: options.workers ?? manifest.settings.workers,
    memoryMb: options.memoryMb ?? manifest.settings.memoryMb,
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

interface DriveInput {
  manifest: RunManifest;
  spec: JobSpec;
  dataset: Dataset;
  status: RunStatusRecord;
  seq: number;
  resumedFrom?: number;
  options: RunOptions;
}

async function drive(input: DriveInput): Promise<RunResult> {
  const { manifest, spec, status, options } = input;
  const { runId } = manifest;
  const { store, platform } = options;
  const keys = runKeys(runId);
  const listeners = options.onEvent ? [options.onEvent] : [];
  const log = new EventLog(store, runId, input.seq, listeners);
  const meter = new CostMeter(PRICE_TABLES[platform.pricing], status.cost);
  const abort = new AbortController();
  const onUserAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onUserAbort, { once: true });
  const startedAt = Date.now();
  const elapsedBefore = status.elapsedS;
  const elapsedS = () => elapsedBefore + (Date.now() - startedAt) / 1000;
  const requestsSeen = { ...store.requests };
  const chargeOrchestratorRequests = () => {
    meter.addRequests(requestCountsSince(store.requests, requestsSeen));
    Object.assign(requestsSeen, store.requests);
  };
  const saveStatus = async (patch: Partial<RunStatusRecord> = {}) => {
    Object.assign(status, patch, {
      elapsedS: elapsedS(),
      cost: meter.toJSON(),
      updatedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
    });
    await writeStatus(store, runId, status);
  };

  await initBackend();
  const { train: trainSet, holdout } = splitHoldout(input.dataset, spec.training.validationSplit);
  const trainHash = datasetHash(encodeDataset(trainSet));
  const evaluator = await Evaluator.create(spec, holdout);
  const settings = manifest.settings;
  log.emit({
    type: 'run_started',
    name: spec.name,
    paramCount: spec.model.paramCount,
    trainSamples: trainSet.count,
    holdoutSamples: holdout.count,
    epochs: spec.training.epochs,
    platform: platform.name,
    store: store.url,
    ...(input.resumedFrom !== undefined ? { resumedFromEpoch: input.resumedFrom } : {}),
  });
  await saveStatus({ status: 'running' });

  let metrics: EpochMetrics | undefined = status.epochs.at(-1);
  let final: { status: FinalStatus; error?: { code: string; message: string } } = { status: 'succeeded' };
  const watcher = watchRun(store, runId, () => abort.abort(), () => saveStatus(), log);
  try {
    const specHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    /** An epoch's exchange keys (and its mid-epoch states) are not needed once it ended or restarts. */
    const deleteExchange = async (epoch: number) => {
      const prefix = `${keys.syncPrefix(epoch)}/`;
      await store.delete(await store.list(prefix));
      if (options.channel) await options.channel.store.delete(await options.channel.store.list(prefix));
    };

    /** One try at an epoch with one configuration; throws when a worker fails for good. */
    const attemptEpoch = async (epoch: number, config: EpochConfig) => {
      validateBatch(spec, config.workers);
      const perWorkerBatch = spec.training.batchSize / config.workers;
      const partitionSize = Math.floor(trainSet.count / config.workers);
      const iterations = Math.floor(partitionSize / perWorkerBatch);
      if (iterations < 1) {
        throw new SmltError(
          'OPTION_INVALID',
          `The batch size ${spec.training.batchSize} is larger than the ${trainSet.count} training samples; choose a smaller batchSize.`,
        );
      }
      const plan: EpochPlan = { epoch, workers: config.workers, memoryMb: config.memoryMb, iterations };
      log.emit({ type: 'plan', ...plan, sync: settings.sync, perWorkerBatch, reason: config.reason });
      await uploadPartitions(store, trainSet, trainHash, config.workers);
      // Leftovers of an interrupted attempt at this epoch (before a resume) must not be mistaken for this one's.
      await deleteExchange(epoch);

      log.emit({ type: 'epoch_started', epoch, workers: config.workers, memoryMb: config.memoryMb });
      watcher.follow(epoch, iterations);
      const outcome = await runEpoch(plan, {
        platform,
        store,
        log,
        meter,
        maxRetries: settings.maxRetries,
        signal: abort.signal,
        eventFor: (rank): WorkerEvent => ({
          v: 1,
          runId,
          store: manifest.store,
          specKey: keys.spec,
          specHash,
          partitionKey: datasetKeys(trainHash).partition(config.workers, rank),
          epoch,
          rank,
          workers: config.workers,
          fromIteration: 0,
          iterations,
          perWorkerBatch,
          startStateKey: keys.checkpoint(epoch),
          ...(rank === 0 ? { endStateKey: keys.checkpoint(epoch + 1) } : {}),
          sync: settings.sync,
          ...(options.channel ? { channel: options.channel.location } : {}),
          syncTimeoutMs: settings.syncTimeoutMs,
          attempt: 0,
          safetyMarginMs: options.safetyMarginMs ?? Math.min(30_000, platform.timeLimitMs / 10),
        }),
      });
      return { outcome, iterations };
    };

    for (let epoch = status.epochsDone; epoch < spec.training.epochs; epoch++) {
      let config = options.planEpoch?.(epoch, status.epochs) ?? {
        workers: settings.workers,
        memoryMb: settings.memoryMb,
        reason: 'fixed configuration (--workers, --memory)',
      };
      const epochStart = Date.now();
      const costBefore = meter.breakdown().totalUsd;
      let attempt: Awaited<ReturnType<typeof attemptEpoch>>;
      for (let outOfMemory = 0, channelRestarts = 0; ; ) {
        try {
          attempt = await attemptEpoch(epoch, config);
          break;
        } catch (err) {
          if (abort.signal.aborted) throw err;
          // The scheduler sizes up after a worker ran out of memory; a fixed configuration cannot.
          if (options.planEpoch && isSmltError(err, 'WORKER_OUT_OF_MEMORY') && outOfMemory++ < 2) {
            config = options.planEpoch(epoch, status.epochs, { outOfMemory: { workers: config.workers, memoryMb: config.memoryMb } });
            continue;
          }
          // An in-memory channel can lose what it held (a restarted Redis): the epoch's exchange
          // cannot be replayed, so the epoch starts over from its checkpoint, once.
          if (options.channel && !isSmltError(err, 'WORKER_OUT_OF_MEMORY') && !isSmltError(err, 'CANCELLED') && channelRestarts++ < 1) {
            config = { ...config, reason: `Restarting epoch ${epoch + 1} from its checkpoint: the gradient exchange through ${options.channel.store.url} failed (${errorMessage(err)}).` };
            continue;
          }
          throw err;
        }
      }
      const { outcome, iterations } = attempt;
      watcher.follow(undefined, 0);
      log.emit({ type: 'checkpoint', epoch, key: keys.checkpoint(epoch + 1) });

      const loss = await meanTrainingLoss(store, runId, epoch);
      const state = await readCheckpoint(store, keys.checkpoint(epoch + 1));
      if (!state) throw new SmltError('RUN_FAILED', `Worker 0 did not write the checkpoint of epoch ${epoch + 1}.`);
      metrics = { loss, ...(await evaluator.evaluate(state)) };
      await deleteExchange(epoch);
      chargeOrchestratorRequests();
      const durationS = (Date.now() - epochStart) / 1000;
      if (options.channel) {
        // The channel bills bytes moved and time held (ElastiCache Serverless prices).
        meter.addChannel(channelCostUsd(outcome.channelBytes, durationS, REDIS_CHANNEL_PRICES));
      }
      const record: EpochRecord = {
        epoch,
        workers: config.workers,
        memoryMb: config.memoryMb,
        sync: settings.sync,
        iterations,
        durationS,
        costUsd: meter.breakdown().totalUsd - costBefore,
        invocations: outcome.invocations,
        relaunches: outcome.relaunches,
        ...summarizeWorkers(outcome.workerTimes),
        ...metrics,
      };
      log.emit({ type: 'epoch_finished', epoch, durationS, ...metrics });
      log.emit({ type: 'cost', spentUsd: meter.breakdown().totalUsd, breakdown: meter.breakdown() });
      await saveStatus({ epochsDone: epoch + 1, epochs: [...status.epochs, record] });
    }
  } catch (err) {
    const error = isSmltError(err) ? err.toJSON() : { code: 'RUN_FAILED', message: String(err) };
    final = abort.signal.aborted
      ? { status: 'cancelled' }
      : { status: isSmltError(err, 'BUDGET_EXHAUSTED') ? 'stopped-budget' : 'failed', error };
  } finally {
    await watcher.stop();
    options.signal?.removeEventListener('abort', onUserAbort);
  }

  chargeOrchestratorRequests();
  const costUsd = meter.breakdown().totalUsd;
  let outputs: { modelPath?: string; reportPath?: string } = {};
  try {
    // A corrupt last checkpoint leaves the run without a model, but with its report and its own error.
    const checkpoint = await readCheckpoint(store, keys.checkpoint(status.epochsDone)).catch((err: unknown) => {
      if (!isSmltError(err, 'STORE_CORRUPT')) throw err;
      if (final.status === 'succeeded') final = { status: 'failed', error: err.toJSON() };
      return undefined;
    });
    outputs = await writeRunOutputs({
      manifest,
      status: { ...status, status: final.status, error: final.error, elapsedS: elapsedS(), cost: meter.toJSON() },
      spec,
      checkpoint,
      withModel: status.epochsDone > 0,
    });
  } catch (err) {
    final = { status: 'failed', error: final.error ?? { code: 'RUN_FAILED', message: `Could not write the run's outputs: ${String(err)}` } };
  }
  evaluator.dispose();
  await saveStatus({ status: final.status, error: final.error });
  log.emit({
    type: 'run_finished',
    status: final.status,
    durationS: elapsedS(),
    costUsd,
    ...(metrics ? { metrics } : {}),
    ...outputs,
    ...(final.error ? { error: final.error } : {}),
  });
  await log.flush();
  return { runId, status: final.status, metrics, durationS: elapsedS(), costUsd, ...outputs, ...(final.error ? { error: final.error } : {}) };
}

function settingsFrom(options: RunOptions): RunSettings {
  const settings: RunSettings = {
    workers: options.workers,
    memoryMb: options.memoryMb,
    sync: options.sync ?? 'hierarchical',
    maxRetries: options.maxRetries ?? 3,
    ...(options.adaptive ? { adaptive: options.adaptive } : {}),
    syncTimeoutMs: options.syncTimeoutMs ?? 120_000,
  };
  if (!Number.isInteger(settings.workers) || settings.workers < 1 || settings.workers > 1000) {
    throw new SmltError('OPTION_INVALID', `--workers must be a whole number from 1 to 1000 (got ${settings.workers}).`);
  }
  const [low, high] = options.platform.memoryRangeMb;
  if (!Number.isInteger(settings.memoryMb) || settings.memoryMb < low || settings.memoryMb > high) {
    throw new SmltError('OPTION_INVALID', `--memory must be a whole number of MB from ${low} to ${high} (got ${settings.memoryMb}).`);
  }
  return settings;
}

/** The batch fits the training split and, with a worker count, splits evenly over it: checked before a run is planned or written. */
export function validateRunShape({ spec, dataset }: Pick<Captured, 'spec' | 'dataset'>, workers?: number): void {
  validateBatchFitsData(spec, dataset);
  if (workers !== undefined) validateBatch(spec, workers);
}

function validateBatch(spec: JobSpec, workers: number): void {
  const batch = spec.training.batchSize;
  if (batch % workers !== 0) {
    const fits = [1, 2, 4, 8, 16, 32].filter((n) => batch % n === 0 && n <= batch).join(', ');
    throw new SmltError(
      'OPTION_INVALID',
      `The batch size ${batch} does not split evenly over ${workers} workers; choose --workers among ${fits}, ` +
        `or a batch size that is a multiple of ${workers} (e.g. --batch-size ${Math.ceil(batch / workers) * workers}).`,
    );
  }
}

/** A batch larger than the training split would give epochs of no iteration: refuse before anything is written. */
function validateBatchFitsData(spec: JobSpec, dataset: Dataset): void {
  const trainSamples = dataset.count - Math.round(dataset.count * spec.training.validationSplit);
  if (spec.training.batchSize > trainSamples) {
    throw new SmltError(
      'CONFIG_INVALID',
      `The batch size ${spec.training.batchSize} is larger than the ${trainSamples} training samples ` +
        `(${dataset.count} samples less the validationSplit of ${spec.training.validationSplit}); set batchSize to ${trainSamples} or less.`,
    );
  }
}

function defaultOutDir(location: StoreLocation, runId: string, outRoot: string | undefined): string {
  if (outRoot !== undefined) return `${outRoot}/runs/${runId}`;
  if (location.kind !== 'folder') {
    throw new SmltError('OPTION_INVALID', 'Choose an output folder (--out) for runs whose store is not a local folder.');
  }
  return `${location.root}/runs/${runId}`;
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

/** Reads per checkpoint before giving up on one that fails its checksum (a re-read may be intact). */
const CORRUPT_READS = 3;

/** A checkpoint's bytes, checked against their checksum; throws STORE_CORRUPT naming the key. */
async function readCheckpoint(store: ObjectStore, key: string): Promise<Uint8Array | undefined> {
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
async function lastIntactCheckpoint(store: ObjectStore, runId: string, last: number): Promise<number> {
  for (let epoch = last; epoch > 0; epoch--) {
    try {
      if (await readCheckpoint(store, runKeys(runId).checkpoint(epoch))) return epoch;
    } catch (err) {
      if (!isSmltError(err, 'STORE_CORRUPT')) throw err;
    }
  }
  return Math.min(last, 0);
}

/** Uploads each rank's partition once; the key is content-addressed, so re-runs skip it. */
async function uploadPartitions(store: ObjectStore, trainSet: Dataset, trainHash: string, workers: number): Promise<void> {
  const limit = pLimit(8);
  await Promise.all(
    Array.from({ length: workers }, (_, rank) =>
      limit(async () => {
        const key = datasetKeys(trainHash).partition(workers, rank);
        if (!(await store.has(key))) await store.put(key, encodeDataset(partition(trainSet, workers, rank)));
      }),
    ),
  );
}

/** Mean of every rank's per-iteration loss (the markers hold them). */
async function meanTrainingLoss(store: ObjectStore, runId: string, epoch: number): Promise<number> {
  const limit = pLimit(16);
  const markers = await store.list(runKeys(runId).markersPrefix(epoch));
  const losses = await Promise.all(
    markers.map((key) => limit(async () => (await readJson<{ loss: number }>(store, key))?.loss ?? NaN)),
  );
  return losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length);
}

/**
 * Heartbeat, cancel requests from other processes, and progress from rank 0's markers,
 * on one timer.
 */
function watchRun(store: ObjectStore, runId: string, cancel: () => void, heartbeat: () => Promise<void>, log: EventLog) {
  const keys = runKeys(runId);
  let epoch: number | undefined;
  let iterations = 0;
  let reported = 0;
  let lastBeat = Date.now();
  let ticking: Promise<void> = Promise.resolve();
  const tick = async () => {
    if (await store.has(keys.cancelRequest)) cancel();
    if (Date.now() - lastBeat >= HEARTBEAT_MS) {
      lastBeat = Date.now();
      await heartbeat();
    }
    if (epoch === undefined) return;
    const markers = await store.list(keys.markersOf(epoch, 0));
    if (markers.length > reported && epoch !== undefined) {
      reported = markers.length;
      const marker = await readJson<{ loss: number }>(store, markers[markers.length - 1]);
      if (marker) log.emit({ type: 'progress', epoch, iteration: reported, iterations, loss: marker.loss });
    }
  };
  const timer = setInterval(() => {
    ticking = ticking.then(tick).catch(() => undefined);
  }, 1000);
  return {
    follow(nextEpoch: number | undefined, nextIterations: number) {
      epoch = nextEpoch;
      iterations = nextIterations;
      reported = 0;
    },
    async stop() {
      clearInterval(timer);
      await ticking;
    },
  };
}

/** Evaluates checkpoints on the held-out split in the orchestrator's process. */
class Evaluator {
  private constructor(
    private readonly spec: JobSpec,
    private readonly model: Awaited<ReturnType<typeof buildModel>> | undefined,
    private readonly x: tf.Tensor | undefined,
    private readonly y: tf.Tensor | undefined,
  ) {}

  static async create(spec: JobSpec, holdout: Dataset): Promise<Evaluator> {
    if (holdout.count === 0) return new Evaluator(spec, undefined, undefined, undefined);
    const model = await buildModel(spec.model.topology);
    const x = tf.tensor(holdout.x, [holdout.count, ...holdout.xShape]);
    const y = tf.tensor(holdout.y, [holdout.count, ...holdout.yShape]);
    return new Evaluator(spec, model, x, y);
  }

  async evaluate(state: Uint8Array): Promise<Omit<EpochMetrics, 'loss'>> {
    if (!this.model || !this.x || !this.y) return {};
    const optimizer = createOptimizer(this.spec.training);
    await decodeState(state, this.model, optimizer);
    optimizer.dispose();
    const result = evaluate(this.model, this.spec.training, this.x, this.y);
    return { valLoss: result.loss, ...(result.accuracy !== undefined ? { valAccuracy: result.accuracy } : {}) };
  }

  dispose(): void {
    this.model?.dispose();
    this.x?.dispose();
    this.y?.dispose();
  }
}
