/**
 * What was observed: every epoch the planner was told of, in order, with the sync strategy and
 * batch size filled in, which of them a drift made stale, and the triggers they raise for the
 * next decision.
 */
import type { SyncName } from '../spec/job-spec.js';
import { type AnalyticalModel, type Config, configKey, type IterationParts } from './analytical.js';
import type { EpochObservation, ObservationView, Progress, Trigger } from './types.js';

export interface StoredObservation extends EpochObservation {
  sync: SyncName;
  batchSize: number;
  /** What the model predicted for it just before it was recorded. */
  predictedIterationS?: number;
}

export class History {
  readonly all: StoredObservation[] = [];
  /** Observations before this index were made before a detected drift. */
  staleBefore = 0;
  private pendingTriggers: Trigger[] = [];

  /** Iteration times drifted from prediction: what was seen so far informs only weakly from now on. */
  markDrift(): void {
    this.staleBefore = this.all.length;
    this.pendingTriggers.push('drift');
  }

  add(observation: StoredObservation): void {
    if (observation.outOfMemory) this.pendingTriggers.push('out-of-memory');
    this.all.push(observation);
  }

  /** The next epoch to run: one that ran out of memory did not happen and is run again. */
  nextEpoch(): number {
    return this.all.reduce((next, o) => (o.outOfMemory ? next : Math.max(next, o.epoch + 1)), 0);
  }

  /** Time and money spent so far, as the observations tell it. */
  progress(): Progress {
    return this.all.reduce((p, o) => ({ elapsedS: p.elapsedS + o.durationS, spentUsd: p.spentUsd + o.costUsd }), { elapsedS: 0, spentUsd: 0 });
  }

  lastConfig(): Config | undefined {
    const last = this.all.at(-1);
    return last ? configOf(last) : undefined;
  }

  outOfMemory(): StoredObservation[] {
    return this.all.filter((o) => o.outOfMemory);
  }

  /** Epochs that ran on the configuration with this key. */
  observedEpochs(key: string): number {
    return this.all.filter((o) => !o.outOfMemory && configKey(configOf(o)) === key).length;
  }

  /** Why the next decision is made (the pending triggers are consumed). */
  takeTriggers(epoch: number, epochs: number, batchSizeOf: (epoch: number) => number): Trigger[] {
    const triggers: Trigger[] = this.all.length === 0 ? ['initial'] : ['epoch-end'];
    triggers.push(...this.pendingTriggers);
    this.pendingTriggers = [];
    const last = this.all.at(-1);
    if (last && epoch < epochs && batchSizeOf(epoch) !== last.batchSize) triggers.push('batch-size-change');
    return [...new Set(triggers)];
  }

  views(model: AnalyticalModel): ObservationView[] {
    return this.all.map((o, index) => ({
      epoch: o.epoch,
      workers: o.workers,
      memoryMb: o.memoryMb,
      sync: o.sync,
      batchSize: o.batchSize,
      ...(o.outOfMemory ? { outOfMemory: true as const } : { iterationS: iterationSeconds(o, model) ?? 0 }),
      ...(o.predictedIterationS !== undefined ? { predictedIterationS: o.predictedIterationS } : {}),
      stale: index < this.staleBefore,
    }));
  }
}

export function configOf(o: { workers: number; memoryMb: number; sync?: SyncName }): Config {
  return { workers: o.workers, memoryMb: o.memoryMb, sync: o.sync ?? 'hierarchical' };
}

/** Mean iteration seconds of an observation: from the workers' compute + sync when reported, else from the wall time. */
export function iterationSeconds(o: StoredObservation, model: AnalyticalModel): number | undefined {
  if (o.iterations <= 0) return undefined;
  if (o.computeMs !== undefined && o.syncMs !== undefined && o.computeMs + o.syncMs > 0) {
    return (o.computeMs + o.syncMs) / 1000 / o.iterations;
  }
  const config = configOf(o);
  const parts = model.iteration(config, o.batchSize / o.workers);
  const overhead = model.epochOverhead(config, o.iterations * (parts.computeS + parts.syncS), {
    switched: false,
    iterations: o.iterations,
    partitionBytes: 0,
    timeLimitS: Infinity,
    safetyMarginS: 0,
  }).overheadS;
  return Math.max(o.durationS - overhead, 0.5 * o.durationS) / o.iterations;
}

/**
 * Mean iteration seconds at the workers' steady pace: undefined when every iteration was measured
 * during their warm-up (then the times say nothing of the pace to come).
 */
export function steadyIterationSeconds(o: StoredObservation, model: AnalyticalModel): number | undefined {
  return o.steadyShare === 0 ? undefined : iterationSeconds(o, model);
}

/**
 * Compute and sync seconds per iteration an observation shows at the steady pace (split like the
 * model when not reported; the model's own when only warm-up was measured).
 */
export function observedParts(o: StoredObservation, model: AnalyticalModel, computeS: number, syncS: number): IterationParts {
  if (o.steadyShare === 0) return { computeS, syncS };
  if (o.computeMs !== undefined && o.syncMs !== undefined && o.computeMs + o.syncMs > 0) {
    return { computeS: o.computeMs / 1000 / o.iterations, syncS: o.syncMs / 1000 / o.iterations };
  }
  const total = iterationSeconds(o, model) ?? computeS + syncS;
  const share = computeS / (computeS + syncS);
  return { computeS: total * share, syncS: total * (1 - share) };
}
