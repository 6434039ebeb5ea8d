/**
 * Where a run keeps its state in the object store. Everything a client or a resumed
 * orchestrator needs is under `runs/<id>/`; datasets are content-addressed under `artifacts/`
 * so runs on the same data share one upload.
 */
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export const runPrefix = (runId: string): string => `runs/${runId}/`;

/**
 * `drive` scopes the exchange keys to one drive of the run (run/run-context.ts): after an
 * orchestrator dies, workers it left running cannot write where the next drive's workers read,
 * even when that drive plans other worker counts (their shards would otherwise mix).
 */
export const runKeys = (runId: string, drive?: string) => {
  const root = runPrefix(runId);
  const sync = `${root}sync/${drive ? `d${drive}/` : ''}`;
  return {
    root,
    manifest: `${root}run.json`,
    spec: `${root}spec.json`,
    status: `${root}status.json`,
    cancelRequest: `${root}cancel`,
    eventsPrefix: `${root}events/`,
    event: (seq: number) => `${root}events/${pad(seq, 9)}.json`,
    checkpointsPrefix: `${root}checkpoints/`,
    /** State (weights + optimizer) at the start of `epoch` (0-based); e0000 is the initial model. */
    checkpoint: (epoch: number) => `${root}checkpoints/e${pad(epoch, 4)}.state`,
    /** Every drive's and every epoch's scratch space. */
    syncRoot: `${root}sync/`,
    /** Per-epoch scratch space (of this drive): gradient shards, markers, mid-epoch state. Deleted after the epoch. */
    syncPrefix: (epoch: number) => `${sync}e${pad(epoch, 4)}`,
    marker: (epoch: number, rank: number, iteration: number) => `${sync}e${pad(epoch, 4)}/markers/w${pad(rank, 4)}/i${pad(iteration, 7)}`,
    markersOf: (epoch: number, rank: number) => `${sync}e${pad(epoch, 4)}/markers/w${pad(rank, 4)}/`,
    markersPrefix: (epoch: number) => `${sync}e${pad(epoch, 4)}/markers/`,
    midEpochState: (epoch: number, iteration: number) => `${sync}e${pad(epoch, 4)}/state/i${pad(iteration, 7)}.state`,
    statesPrefix: (epoch: number) => `${sync}e${pad(epoch, 4)}/state/`,
  };
};

export type RunKeys = ReturnType<typeof runKeys>;

export const datasetKeys = (hash: string) => ({
  full: `artifacts/data/${hash}/full.bin`,
  /** Partition `rank` of `workers`; the key names its content, so workers cache by key. */
  partition: (workers: number, rank: number) => `artifacts/data/${hash}/n${workers}/p${pad(rank, 4)}.bin`,
});

/** Iteration number from a marker key (the last path segment is `i<iteration>`). */
export function markerIteration(key: string): number {
  return Number(key.slice(key.lastIndexOf('/i') + 2));
}

/** Iteration number from a mid-epoch state key (`…/state/i<iteration>.state`); NaN for any other key. */
export function stateIteration(key: string): number {
  return Number(key.match(/\/i(\d+)\.state$/)?.[1] ?? NaN);
}
