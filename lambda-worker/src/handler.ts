/**
 * The one worker handler, for AWS Lambda and for the local platform alike. One invocation runs
 * iterations [fromIteration, iterations) of one epoch of synchronous data-parallel SGD for one
 * rank, exchanging gradients through the object store, and returns `continue` before the
 * platform's time limit so the orchestrator can re-invoke it where it stopped.
 *
 * Module scope is the warm cache: a re-invocation in the same container reuses the built model
 * and the data partition (and the partition also sits in the container's temp folder).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ObjectStore, RequestCounts, WorkerContext } from '@smlt/shared/backends/ports';
import type { Dataset } from '@smlt/shared/data/dataset';
import type { JobSpec } from '@smlt/shared/spec/job-spec';
import { requestCountsSince } from '@smlt/shared/cost/cost';
import { SmltError } from '@smlt/shared/errors';
import { runKeys, stateIteration } from '@smlt/shared/run/layout';
import type { WorkerEvent, WorkerResult } from '@smlt/shared/run/worker-protocol';
import { backendInfo, initBackend } from '@smlt/shared/tf/backend';
import type { GpuAdapterReport } from '@smlt/shared/tf/webgpu';
import { type LossFn, applyGradient, computeGradients, createOptimizer, decodeState, encodeState } from '@smlt/shared/model/training';
import { syncStrategy } from '@smlt/shared/sync/index';
import type { SyncContext } from '@smlt/shared/sync/strategy';
import { epochOrder } from '@smlt/shared/data/order';
import { BatchSampler } from './batch-sampler.js';
import { WarmCache } from './warm-cache.js';

const cache = new WarmCache();

export async function handler(event: WorkerEvent, context: WorkerContext): Promise<WorkerResult> {
  const backend = await initBackend(event.backend);
  if (event.backend && backend !== event.backend) {
    // Every worker of a run computes on the same backend: a silent fallback would split the run.
    const why = backendInfo().skipped.find((s) => s.name === event.backend)?.reason ?? 'it did not start';
    throw new SmltError('WORKER_FAILED', `This run's workers compute on ${event.backend}, which this worker cannot use: ${why}.`);
  }
  const store = cache.store(event.store);
  // Gradients go through the channel when the run has one (Redis), else through the store.
  const channel = event.channel ? cache.store(event.channel) : store;
  const requestsBefore = { ...store.requests };
  const channelBefore = { ...channel.requests };
  const { spec, model, loss, built } = await cache.model(store, event);
  const { dataset, downloaded } = await cache.partition(store, event.partitionKey);

  const optimizer = createOptimizer(spec.training);
  try {
    const { adapter } = backendInfo();
    return await train(event, context, { store, channel, spec, model, loss, optimizer, dataset, backend, ...(adapter ? { adapter } : {}), built, downloaded, requestsBefore, channelBefore });
  } finally {
    // The model stays warm for the next invocation; the optimizer's state is per invocation.
    optimizer.dispose();
  }
}

interface Prepared {
  store: ObjectStore;
  channel: ObjectStore;
  spec: JobSpec;
  model: LayersModel;
  loss: LossFn;
  optimizer: tf.Optimizer;
  dataset: Dataset;
  backend: string;
  adapter?: GpuAdapterReport;
  built: boolean;
  downloaded: boolean;
  requestsBefore: RequestCounts;
  channelBefore: RequestCounts;
}

/**
 * A fresh process runs its first steps several times slower while V8 compiles the hot paths of
 * tfjs and the worker (measured here: 4-5x for about 40 steps, then steady; 0.2-0.3 s in all for an
 * MLP): steps before this many in the process's life are its warm-up.
 */
const WARMUP_STEPS = 50;
/** How often a lone worker saves its state mid-epoch (at most; a tenth of its time limit when less): a crash redoes no more. */
const LONE_SAVE_INTERVAL_MS = 60_000;
/** Steps this process has run, over all its invocations (module scope: the warm container). */
let processSteps = 0;

/**
 * Compute and sync over the invocation's iterations at their steady pace: the warm-up steps (and
 * the first step after a model was built) are left out and the others stand in for them, so that
 * the scheduler reads the pace the next epoch will have; the warm-up still shows in the epoch's
 * duration, as start-up overhead. With no steady step, the raw sums (and `steadySteps` 0 says so).
 */
function steadyTimes(all: StepTimes, warmup: StepTimes & { steps: number }, steps: number) {
  const steadySteps = steps - warmup.steps;
  const scale = steadySteps > 0 ? steps / steadySteps : 1;
  const [c, s] = steadySteps > 0 ? [all.computeMs - warmup.computeMs, all.syncMs - warmup.syncMs] : [all.computeMs, all.syncMs];
  return { computeMs: Math.round(c * scale), syncMs: Math.round(s * scale), steadySteps };
}

interface StepTimes {
  computeMs: number;
  syncMs: number;
}

/** Runs this invocation's iterations: gradient step, all-reduce through the store, marker. */
async function train(event: WorkerEvent, context: WorkerContext, prepared: Prepared): Promise<WorkerResult> {
  const { store, channel, spec, model, loss, optimizer, dataset, backend, built, downloaded, requestsBefore, channelBefore } = prepared;
  await restoreState(store, channel, event, model, optimizer);

  const keys = runKeys(event.runId, event.drive);
  const sync = syncStrategy(event.sync);
  const syncContext: SyncContext = {
    store: channel,
    prefix: keys.syncPrefix(event.epoch),
    workers: event.workers,
    rank: event.rank,
    timeoutMs: event.syncTimeoutMs,
    skipExisting: event.attempt > 0,
  };
  const sampler = new BatchSampler(dataset, epochOrder(dataset.count, spec.training.seed, event.epoch), event.perWorkerBatch);

  const all: StepTimes = { computeMs: 0, syncMs: 0 };
  const warmup = { computeMs: 0, syncMs: 0, steps: 0 };
  let exchangedBytes = 0;
  let lastIterationMs = 0;
  let iteration = event.fromIteration;
  let marker: Promise<void> = Promise.resolve();
  let savedAtMs = performance.now();
  const saveEveryMs = Math.min(LONE_SAVE_INTERVAL_MS, context.getRemainingTimeInMillis() / 10);
  for (; iteration < event.iterations; iteration++) {
    const mustStop = context.getRemainingTimeInMillis() < event.safetyMarginMs + 2 * lastIterationMs;
    if (mustStop && iteration > event.fromIteration) {
      await putOnce(store, keys.midEpochState(event.epoch, iteration), () => encodeState(model, optimizer), true);
      break;
    }
    // A lone worker publishes no averages to replay: its saved states bound what a crash loses.
    if (event.workers === 1 && iteration > event.fromIteration && performance.now() - savedAtMs > saveEveryMs) {
      await putOnce(store, keys.midEpochState(event.epoch, iteration), () => encodeState(model, optimizer), true);
      savedAtMs = performance.now();
    }
    const started = performance.now();
    const { x, y } = sampler.batch(iteration);
    let step: { loss: number; gradient: Float32Array };
    try {
      step = await computeGradients(model, loss, x, y);
    } finally {
      x.dispose();
      y.dispose();
    }
    const computed = performance.now();
    const { average, stats } = await sync.allReduce(syncContext, iteration, step.gradient);
    exchangedBytes += stats.bytesWritten + stats.bytesRead;
    const synced = performance.now();
    applyGradient(model, optimizer, average);
    // The marker is written while the next iteration computes; at most one is in flight.
    await marker;
    marker = store.put(
      keys.marker(event.epoch, event.rank, iteration),
      JSON.stringify({ loss: step.loss, samples: event.perWorkerBatch }),
    );
    const stepComputeMs = computed - started + (performance.now() - synced);
    // A freshly built model's first step compiles kernels and allocates buffers.
    if (processSteps++ < WARMUP_STEPS || (iteration === event.fromIteration && built)) {
      warmup.computeMs += stepComputeMs;
      warmup.syncMs += synced - computed;
      warmup.steps++;
    }
    all.computeMs += stepComputeMs;
    all.syncMs += synced - computed;
    lastIterationMs = performance.now() - started;
  }

  await marker;
  const done = iteration >= event.iterations;
  if (done && event.endStateKey) {
    await store.put(event.endStateKey, await encodeState(model, optimizer));
  }
  return {
    status: done ? 'done' : 'continue',
    nextIteration: iteration,
    iterationsRun: iteration - event.fromIteration,
    ...steadyTimes(all, warmup, iteration - event.fromIteration),
    backend,
    ...(prepared.adapter ? { adapter: prepared.adapter } : {}),
    warmCache: !built && !downloaded,
    dataDownloads: downloaded ? 1 : 0,
    modelBuilds: built ? 1 : 0,
    requests: requestCountsSince(store.requests, requestsBefore),
    ...(channel !== store ? { channelRequests: requestCountsSince(channel.requests, channelBefore), channelBytes: exchangedBytes } : {}),
  };
}

/**
 * Brings the model and optimizer to the state before `fromIteration`: the epoch's start state,
 * or the latest mid-epoch state at or before it, then replays the averaged gradients that all
 * workers already applied (they are still in the store until the epoch ends). Replaying is exact:
 * every worker applies the same averages in the same order.
 */
async function restoreState(
  store: ObjectStore,
  channel: ObjectStore,
  event: WorkerEvent,
  model: LayersModel,
  optimizer: tf.Optimizer,
): Promise<void> {
  const keys = runKeys(event.runId, event.drive);
  let from = 0;
  let stateKey = event.startStateKey;
  if (event.fromIteration > 0) {
    const saved = (await store.list(keys.statesPrefix(event.epoch)))
      .map((key) => ({ key, iteration: stateIteration(key) }))
      .filter((s) => s.iteration <= event.fromIteration)
      .sort((a, b) => b.iteration - a.iteration)[0];
    if (saved) ({ key: stateKey, iteration: from } = saved);
  }
  const state = await store.get(stateKey);
  if (!state) {
    throw new SmltError('RUN_FAILED', `The state ${stateKey} is missing from ${store.url}; resume the run from its last checkpoint.`);
  }
  await decodeState(state, model, optimizer, stateKey);
  const sync = syncStrategy(event.sync);
  for (let i = from; i < event.fromIteration; i++) {
    const average = await sync.readAverage(
      { store: channel, prefix: keys.syncPrefix(event.epoch), workers: event.workers, rank: event.rank, timeoutMs: event.syncTimeoutMs },
      i,
    );
    applyGradient(model, optimizer, average);
  }
}

async function putOnce(
  store: ObjectStore,
  key: string,
  body: () => Promise<Uint8Array>,
  skipExisting: boolean,
): Promise<void> {
  if (skipExisting && (await store.has(key))) return;
  await store.put(key, await body());
}
