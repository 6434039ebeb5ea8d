/**
 * One drive of a run, what its steps share: the run's records and options, its event log, the
 * cost meter, the abort signal (the user's or a cancel request), its clock, the data split and
 * the held-out evaluator, and how its status is saved.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ObjectStore } from '../backends/ports.js';
import { CostMeter, requestCountsSince } from '../cost/cost.js';
import { PRICE_TABLES } from '../cost/prices.js';
import { type Dataset, datasetHash, encodeDataset, splitHoldout } from '../data/dataset.js';
import type { JobSpec } from '../spec/job-spec.js';
import { initBackend } from '../tf/backend.js';
import { Evaluator } from './evaluator.js';
import { EventLog } from './event-log.js';
import { runKeys } from './layout.js';
import type { RunOptions } from './run-options.js';
import { type RunManifest, type RunStatusRecord, writeStatus } from './run-state.js';

export interface DriveInput {
  manifest: RunManifest;
  spec: JobSpec;
  dataset: Dataset;
  status: RunStatusRecord;
  /** The run's last event so far. */
  seq: number;
  resumedFrom?: number;
  options: RunOptions;
}

export class RunContext {
  readonly runId: string;
  readonly keys: ReturnType<typeof runKeys>;
  readonly store: ObjectStore;
  readonly log: EventLog;
  readonly meter: CostMeter;
  readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private readonly elapsedBefore: number;
  private readonly requestsSeen: ObjectStore['requests'];
  private readonly onUserAbort = () => this.abort.abort();
  /** Workers check the spec they load against this. */
  readonly specHash: string;
  /** This drive's token: its workers exchange under it (run/layout.ts), apart from any a dead drive left running. */
  readonly drive = randomBytes(4).toString('hex');

  /** Starts the drive's clock and its request count, and listens to the user's signal. */
  constructor(readonly input: DriveInput) {
    const { manifest, status, options } = input;
    this.runId = manifest.runId;
    this.keys = runKeys(this.runId, this.drive);
    this.store = options.store;
    this.log = new EventLog(this.store, this.runId, input.seq, options.onEvent ? [options.onEvent] : []);
    this.meter = new CostMeter(PRICE_TABLES[options.platform.pricing], status.cost);
    options.signal?.addEventListener('abort', this.onUserAbort, { once: true });
    this.elapsedBefore = status.elapsedS;
    this.requestsSeen = { ...this.store.requests };
    this.specHash = createHash('sha256').update(JSON.stringify(input.spec)).digest('hex');
  }

  get spec(): JobSpec {
    return this.input.spec;
  }
  get status(): RunStatusRecord {
    return this.input.status;
  }
  get options(): RunOptions {
    return this.input.options;
  }
  get manifest(): RunManifest {
    return this.input.manifest;
  }
  get settings(): RunManifest['settings'] {
    return this.input.manifest.settings;
  }

  elapsedS(): number {
    return this.elapsedBefore + (Date.now() - this.startedAt) / 1000;
  }

  /** Bills the store requests the orchestrator itself made since the last call. */
  chargeOrchestratorRequests(): void {
    this.meter.addRequests(requestCountsSince(this.store.requests, this.requestsSeen));
    Object.assign(this.requestsSeen, this.store.requests);
  }

  /**
   * Saves the status (with the patch) and the heartbeat, after the events emitted so far: the
   * status never claims more than the stored log shows, and a log that stopped storing (a full
   * disk) fails the drive here instead of running on unrecorded.
   */
  async saveStatus(patch: Partial<RunStatusRecord> = {}): Promise<void> {
    await this.log.flush();
    Object.assign(this.status, patch, {
      elapsedS: this.elapsedS(),
      cost: this.meter.toJSON(),
      updatedAt: new Date().toISOString(),
      heartbeatAt: new Date().toISOString(),
    });
    await writeStatus(this.store, this.runId, this.status);
  }

  /** An epoch's exchange keys (and its mid-epoch states) are not needed once it ended or restarts. */
  async deleteExchange(epoch: number): Promise<void> {
    const prefix = `${this.keys.syncPrefix(epoch)}/`;
    await this.store.delete(await this.store.list(prefix));
    const { channel } = this.options;
    if (channel) await channel.store.delete(await channel.store.list(prefix));
  }

  /** Stops listening to the user's signal. */
  close(): void {
    this.options.signal?.removeEventListener('abort', this.onUserAbort);
  }
}

/** The training split (partitioned over the workers), its content hash, and the held-out evaluator. */
export interface TrainingData {
  trainSet: Dataset;
  holdout: Dataset;
  trainHash: string;
  evaluator: Evaluator;
}

export async function loadTrainingData(spec: JobSpec, dataset: Dataset): Promise<TrainingData> {
  await initBackend();
  const { train: trainSet, holdout } = splitHoldout(dataset, spec.training.validationSplit);
  return { trainSet, holdout, trainHash: datasetHash(encodeDataset(trainSet)), evaluator: await Evaluator.create(spec, holdout) };
}
