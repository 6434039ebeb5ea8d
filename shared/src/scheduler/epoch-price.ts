/**
 * What one epoch of a configuration costs once its duration is known: Lambda's duration and
 * invocations, the store's requests (or the channel's bytes), times the calibrated cost factor.
 */
import { channelCostUsd, durationCostUsd, epochBookkeepingRequests, iterationRequests, requestsCostUsd, syncBytesPerIteration } from '../cost/epoch-cost.js';
import type { Calibration, Config } from './analytical.js';
import type { Setting } from './setting.js';

export interface EpochBill {
  config: Config;
  iterations: number;
  durationS: number;
  /** The launch ramp of the epoch's workers. */
  launchS: number;
  /** The orchestrator's work after the workers finished (not billed as theirs). */
  epochEndS: number;
  /** Re-invocations before the time limit, per worker. */
  continuations: number;
  /** A new configuration: every worker downloads its partition. */
  switched: boolean;
  /** Sync seconds per iteration (they set the store's poll requests). */
  syncS: number;
}

export function epochCostUsd(setting: Setting, epoch: EpochBill, calibration: Calibration): number {
  const { config, iterations, durationS, launchS, epochEndS, continuations, switched, syncS } = epoch;
  const { model, prices } = setting;
  // Workers start over the launch ramp: on average each is billed half of it less.
  const billedS = Math.max(durationS - epochEndS - launchS / 2, 0);
  const channel = setting.options.platform.channel;
  // Through a channel the store keeps only each rank's marker per iteration; the channel bills bytes and time.
  const perIteration = channel
    ? { put: config.workers, get: 0, list: 0, delete: 0 }
    : iterationRequests(config.sync, config.workers, model.pollGets(config, syncS, calibration));
  const book = epochBookkeepingRequests(config.workers, iterations, { partitionDownloads: switched ? config.workers : 0, continuations });
  const requests = {
    put: perIteration.put * iterations + book.put,
    get: perIteration.get * iterations + book.get,
    list: book.list,
    delete: 0,
  };
  const channelUsd = channel ? channelCostUsd(syncBytesPerIteration(config.workers, model.gradientBytes) * iterations, durationS, channel) : 0;
  const total =
    durationCostUsd(config.workers, config.memoryMb, billedS, prices) +
    config.workers * (1 + continuations) * prices.usdPerInvocation +
    requestsCostUsd(requests, prices) +
    channelUsd;
  return total * calibration.cost;
}
