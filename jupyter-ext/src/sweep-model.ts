/**
 * The state of one design sweep as a notebook shows it: the shared sweep reducer
 * (`shared/src/sweep/sweep-panel.ts`) folded over the sweep's events, kept live from its stream.
 */
import { reduceSweep, sweepStateFromEvents, type SweepPanelState } from '../../shared/dist/sweep/sweep-panel.js';
import { FollowedModel } from './model';
import { postJSON } from './request';
import type { SweepEvent } from './tokens';

export class SweepModel extends FollowedModel<SweepPanelState, SweepEvent> {
  constructor(
    readonly sweepId: string,
    options: { name?: string } = {}
  ) {
    // Until the stream's first event names it, the panel says which sweep it waits for.
    const initial = sweepStateFromEvents([]);
    super(`sweeps/${encodeURIComponent(sweepId)}/events`, { ...initial, sweepId, ...(options.name !== undefined ? { name: options.name } : {}) });
  }

  get isFinished(): boolean {
    return this.state.final !== undefined;
  }

  protected reduce(state: SweepPanelState, event: SweepEvent): SweepPanelState {
    return reduceSweep(state, event);
  }

  async cancel(): Promise<void> {
    await postJSON(`sweeps/${encodeURIComponent(this.sweepId)}/cancel`, {});
  }
}
