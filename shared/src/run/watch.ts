/**
 * While a run is driven, on one timer: its heartbeat, cancel requests from other processes, and
 * `progress` events from rank 0's markers (the latest each second, and each epoch's first).
 */
import type { ObjectStore } from '../backends/ports.js';
import type { EventLog } from './event-log.js';
import type { RunKeys } from './layout.js';
import { readJson } from './run-state.js';

const HEARTBEAT_MS = 2_000;
/** An orchestrator silent for longer than this is presumed dead (resume may take over). */
export const HEARTBEAT_STALE_MS = 15_000;

export interface RunWatcher {
  /** Report progress of this epoch's iterations from now on (undefined: between epochs). */
  follow(epoch: number | undefined, iterations: number): void;
  stop(): Promise<void>;
}

export function watchRun(store: ObjectStore, keys: RunKeys, cancel: () => void, heartbeat: () => Promise<void>, log: EventLog): RunWatcher {
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
      // The epoch's first report also carries its first iteration, so a curve starts where the
      // epoch did, not at whichever iteration the first poll found.
      const first = reported === 0 && markers.length > 1 ? await readJson<{ loss: number }>(store, markers[0]) : undefined;
      if (first) log.emit({ type: 'progress', epoch, iteration: 1, iterations, loss: first.loss });
      reported = markers.length;
      const marker = await readJson<{ loss: number }>(store, markers[markers.length - 1]);
      if (marker) log.emit({ type: 'progress', epoch, iteration: reported, iterations, loss: marker.loss });
    }
  };
  const timer = setInterval(() => {
    ticking = ticking.then(tick).catch(() => undefined);
  }, 1000);
  return {
    follow(nextEpoch, nextIterations) {
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
