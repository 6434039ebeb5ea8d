/**
 * The run's clock for the panel: elapsed time and the ETA, from the events' own times (never
 * `Date.now()`), so a replayed run shows what it showed live. It reads only the slice of the
 * panel's state declared here (`PanelState` has all of it), so the state depends on the clock and
 * not the other way round.
 */

/** Bookkeeping for elapsed time and the ETA, in event-time milliseconds. */
export interface RunClock {
  /** When the current segment (the first start, or the latest resume) began. */
  readonly segmentStartMs?: number;
  /** Run time of the segments before it (a resumed run keeps counting from there). */
  readonly elapsedBeforeS: number;
  readonly epochStartMs?: number;
  readonly lastProgressMs?: number;
  readonly spentAtEpochStartUsd: number;
}

/** What the clock reads of a run's progress. */
export interface ClockedProgress {
  readonly elapsedS: number;
  readonly clock: RunClock;
  readonly epochs: number;
  readonly epoch: number;
  readonly epochsDone: number;
  readonly iteration: number;
  readonly iterations: number;
  readonly decision?: { readonly iterations: number };
  readonly epochRows: readonly { readonly iterations?: number; readonly durationS: number }[];
}

/**
 * Remaining iterations × seconds per iteration observed so far: finished epochs (whole epoch
 * time, so evaluation and checkpoints are counted too) plus the epoch in progress. Later epochs
 * are assumed to have as many iterations as the current plan.
 */
export function estimateEtaS(state: ClockedProgress): number | undefined {
  if (state.epochs <= 0) return undefined;
  let iterations = 0;
  let seconds = 0;
  for (const row of state.epochRows) {
    if (row.iterations && row.durationS > 0) {
      iterations += row.iterations;
      seconds += row.durationS;
    }
  }
  const { epochStartMs, lastProgressMs } = state.clock;
  if (epochStartMs !== undefined && lastProgressMs !== undefined && state.iteration > 0 && lastProgressMs > epochStartMs) {
    iterations += state.iteration;
    seconds += (lastProgressMs - epochStartMs) / 1000;
  }
  if (iterations <= 0 || seconds <= 0) return undefined;
  const perEpoch = state.iterations || state.decision?.iterations || 0;
  const doneInEpoch = state.epoch === state.epochsDone ? state.iteration : 0;
  const remaining = Math.max(0, (state.epochs - state.epochsDone) * perEpoch - doneInEpoch);
  return (remaining * seconds) / iterations;
}

/** Seconds since the run started (across resumes) at an event's time. */
export function runClockAt(state: Pick<ClockedProgress, 'clock' | 'elapsedS'>, eventMs: number): number {
  const { segmentStartMs, elapsedBeforeS } = state.clock;
  if (segmentStartMs === undefined || !Number.isFinite(eventMs)) return state.elapsedS;
  return elapsedBeforeS + Math.max(0, eventMs - segmentStartMs) / 1000;
}
