/**
 * The state of one run as a notebook shows it: the shared panel reducer folded over the run's
 * events, kept live from the server's event stream. No DOM and no React: widgets listen to
 * `changed` and render. `FollowedModel` is the part a sweep's model (sweep-model.ts) shares.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import { initialPanelState, reducePanel, type PanelState } from '../../shared/dist/panel/state.js';
import { followEvents, postJSON } from './request';
import type { RunEvent } from './tokens';

/** A state folded by `reduce` over the events at `eventsPath`, replayed from the first and then followed live. */
export abstract class FollowedModel<S, E extends { seq: number }> {
  private _trouble: string | undefined;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _abort = new AbortController();
  private _following: Promise<void> | undefined;

  protected constructor(
    private readonly eventsPath: string,
    private _state: S
  ) {}

  get state(): S {
    return this._state;
  }

  /** A connection problem to show next to the panel (undefined when all is well). */
  get trouble(): string | undefined {
    return this._trouble;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  abstract get isFinished(): boolean;

  protected abstract reduce(state: S, event: E): S;

  /** Replays the history from its first event, then follows it live until it ends. */
  follow(): Promise<void> {
    this._following ??= followEvents<E>(
      this.eventsPath,
      0,
      (event) => this.apply(event),
      this._abort.signal,
      (message) => {
        this._trouble = message;
        this._changed.emit();
      }
    ).then(
      () => undefined,
      (err: Error) => {
        this._trouble = err.message;
        this._changed.emit();
      }
    );
    return this._following;
  }

  apply(event: E): void {
    this._state = this.reduce(this._state, event);
    this._changed.emit();
  }

  dispose(): void {
    this._abort.abort();
    Signal.clearData(this);
  }
}

export class RunModel extends FollowedModel<PanelState, RunEvent> {
  constructor(
    readonly runId: string,
    options: { name?: string; budgetUsd?: number; deadlineS?: number } = {}
  ) {
    const { name, ...limits } = options;
    const initial = initialPanelState(limits);
    super(`runs/${encodeURIComponent(runId)}/events`, name === undefined ? { ...initial, runId } : { ...initial, runId, name });
  }

  get isFinished(): boolean {
    return this.state.final !== undefined;
  }

  protected reduce(state: PanelState, event: RunEvent): PanelState {
    return reducePanel(state, event);
  }

  async cancel(): Promise<void> {
    await postJSON(`runs/${encodeURIComponent(this.runId)}/cancel`, {});
  }
}
