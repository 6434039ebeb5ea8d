/**
 * After an epoch has run: its checkpoint (`checkpoint`) evaluated (training loss, held-out
 * metrics), then its time and cost recorded in the run's status (`epoch_finished`, `cost`).
 */
import pLimit from 'p-limit';
import type { ObjectStore } from '../backends/ports.js';
import { channelCostUsd } from '../cost/epoch-cost.js';
import { REDIS_CHANNEL_PRICES } from '../cost/prices.js';
import { SmltError } from '../errors.js';
import { readCheckpoint } from './checkpoints.js';
import type { EpochRun } from './epoch-attempts.js';
import type { EpochMetrics } from './events.js';
import { summarizeWorkers } from './observations.js';
import type { RunContext, TrainingData } from './run-context.js';
import { type EpochRecord, readJson } from './run-state.js';

/** When the epoch began to be planned: its time and cost count from here. */
export interface EpochStart {
  atMs: number;
  costUsd: number;
}

/**
 * Emits `checkpoint`, then reads it back: the mean training loss and the held-out metrics of its
 * weights, with the loss of the epoch's first iteration (to tell whether the epoch learnt).
 */
export async function evaluateEpoch(run: RunContext, data: TrainingData, epoch: number): Promise<EpochMetrics> {
  const { store, keys } = run;
  run.log.emit({ type: 'checkpoint', epoch, key: keys.checkpoint(epoch + 1) });
  const losses = await iterationLosses(store, run.keys, epoch);
  const loss = losses.reduce((a, b) => a + b, 0) / Math.max(1, losses.length);
  const state = await readCheckpoint(store, keys.checkpoint(epoch + 1));
  if (!state) throw new SmltError('RUN_FAILED', `Worker 0 did not write the checkpoint of epoch ${epoch + 1}.`);
  return { loss, ...(await data.evaluator.evaluate(state)), ...(losses.length > 0 ? { firstLoss: losses[0]! } : {}) };
}

/** Clears the epoch's exchange, bills it, and saves its record in the status; emits `epoch_finished` and `cost`. */
export async function recordEpoch(run: RunContext, epoch: number, ran: EpochRun, start: EpochStart, metrics: EpochMetrics): Promise<void> {
  const { log, meter, options, status } = run;
  const { outcome, iterations, config } = ran;
  await run.deleteExchange(epoch);
  run.chargeOrchestratorRequests();
  const durationS = (Date.now() - start.atMs) / 1000;
  if (options.channel) {
    // The channel bills bytes moved and time held (ElastiCache Serverless prices).
    meter.addChannel(channelCostUsd(outcome.channelBytes, durationS, REDIS_CHANNEL_PRICES));
  }
  const record: EpochRecord = {
    epoch,
    workers: config.workers,
    memoryMb: config.memoryMb,
    sync: run.settings.sync,
    iterations,
    durationS,
    costUsd: meter.breakdown().totalUsd - start.costUsd,
    invocations: outcome.invocations,
    relaunches: outcome.relaunches,
    ...summarizeWorkers(outcome.workerTimes),
    ...metrics,
  };
  log.emit({ type: 'epoch_finished', epoch, durationS, ...metrics });
  log.emit({ type: 'cost', spentUsd: meter.breakdown().totalUsd, breakdown: meter.breakdown() });
  await run.saveStatus({ epochsDone: epoch + 1, epochs: [...status.epochs, record] });
}

/** Every rank's per-iteration loss (the markers hold them), worker 0's first iteration first. */
async function iterationLosses(store: ObjectStore, keys: RunContext['keys'], epoch: number): Promise<number[]> {
  const limit = pLimit(16);
  const markers = await store.list(keys.markersPrefix(epoch));
  return Promise.all(markers.map((key) => limit(async () => (await readJson<{ loss: number }>(store, key))?.loss ?? NaN)));
}
