/**
 * The run's clock for the panel: elapsed time and the ETA, from the events' own times (never
 * `Date.now()`), so a replayed run shows what it showed live.
 */
import type { PanelState } from './state.js';

/** Elapsed time and ETA as of this event. */
export function withTimes(state: PanelState, eventMs: number): PanelState {
  if (state.status !== 'running') return state.etaS === undefined ? state : { ...state, etaS: undefined };
  const etaS = estimateEtaS(state);
  const { etaS: _stale, ...rest } = state;
  return { ...rest, elapsedS: runClockAt(state, eventMs), ...(etaS !== undefined ? { etaS } : {}) };
}

/**
 * Remaining iterations × seconds per iteration observed so far: finished epochs (whole epoch
 * time, so evaluation and checkpoints are counted too) plus the epoch in progress. Later epochs
 * are assumed to have as many iterations as the current plan.
 */
function estimateEtaS(state: PanelState): number | undefined {
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
export function runClockAt(state: PanelState, eventMs: number): number {
  const { segmentStartMs, elapsedBeforeS } = state.clock;
  if (segmentStartMs === undefined || !Number.isFinite(eventMs)) return state.elapsedS;
  return elapsedBeforeS + Math.max(0, eventMs - segmentStartMs) / 1000;
}
