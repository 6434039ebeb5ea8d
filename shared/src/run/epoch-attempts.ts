/**
 * Running one epoch until it has run: plan it (`plan`), upload the partitions, start it
 * (`epoch_started`) and drive its workers (epoch-runner.ts); when a worker runs out of memory
 * the scheduler re-plans it, and when an in-memory channel fails it starts over from its checkpoint.
 */
import pLimit from 'p-limit';
import type { ObjectStore } from '../backends/ports.js';
import { type Dataset, encodeDataset, partition } from '../data/dataset.js';
import { SmltError, errorMessage, isSmltError } from '../errors.js';
import { type EpochOutcome, type EpochPlan, runEpoch } from './epoch-runner.js';
import { datasetKeys } from './layout.js';
import type { RunContext, TrainingData } from './run-context.js';
import type { EpochConfig } from './run-options.js';
import { validateBatch } from './run-shape.js';
import type { RunWatcher } from './watch.js';
import type { WorkerEvent } from './worker-protocol.js';

export interface EpochRun {
  outcome: EpochOutcome;
  iterations: number;
  /** The configuration the epoch ran with (after any re-plan). */
  config: EpochConfig;
}

/** Runs `epoch` to its end; throws when it cannot (cancelled, a worker failed for good). Emits `plan` and `epoch_started` per try. */
export async function runEpochAttempts(run: RunContext, data: TrainingData, watcher: RunWatcher, epoch: number, planned: EpochConfig): Promise<EpochRun> {
  const { options, status } = run;
  let config = planned;
  for (let outOfMemory = 0, channelRestarts = 0; ; ) {
    try {
      const attempt = await attemptEpoch(run, data, watcher, epoch, config);
      watcher.follow(undefined, 0);
      return { ...attempt, config };
    } catch (err) {
      if (run.abort.signal.aborted) throw err;
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
}

/** One try at an epoch with one configuration; throws when a worker fails for good. */
async function attemptEpoch(run: RunContext, data: TrainingData, watcher: RunWatcher, epoch: number, config: EpochConfig) {
  const { spec, settings, options, store, keys, log } = run;
  const { platform } = options;
  const { trainSet, trainHash } = data;
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
  log.emit({
    type: 'plan',
    ...plan,
    sync: settings.sync,
    perWorkerBatch,
    reason: config.reason,
    ...(settings.compute ? { backend: { name: settings.compute.name, reason: settings.compute.reason } } : {}),
  });
  await uploadPartitions(store, trainSet, trainHash, config.workers);
  // Leftovers of an interrupted attempt at this epoch (before a resume) must not be mistaken for this one's.
  await run.deleteExchange(epoch);

  log.emit({ type: 'epoch_started', epoch, workers: config.workers, memoryMb: config.memoryMb });
  watcher.follow(epoch, iterations);
  const outcome = await runEpoch(plan, {
    platform,
    store,
    log,
    meter: run.meter,
    maxRetries: settings.maxRetries,
    signal: run.abort.signal,
    eventFor: (rank): WorkerEvent => ({
      v: 1,
      runId: run.runId,
      store: run.manifest.store,
      specKey: keys.spec,
      specHash: run.specHash,
      partitionKey: datasetKeys(trainHash).partition(config.workers, rank),
      drive: run.drive,
      epoch,
      rank,
      workers: config.workers,
      fromIteration: 0,
      iterations,
      perWorkerBatch,
      startStateKey: keys.checkpoint(epoch),
      ...(rank === 0 ? { endStateKey: keys.checkpoint(epoch + 1) } : {}),
      sync: settings.sync,
      ...(settings.compute?.pinned ? { backend: settings.compute.name } : {}),
      ...(options.channel ? { channel: options.channel.location } : {}),
      syncTimeoutMs: settings.syncTimeoutMs,
      attempt: 0,
      safetyMarginMs: options.safetyMarginMs ?? Math.min(30_000, platform.timeLimitMs / 10),
    }),
  });
  return { outcome, iterations };
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
