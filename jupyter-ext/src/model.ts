/**
 * The state of one run as a notebook shows it: the shared panel reducer folded over the run's
 * events, kept live from the server's event stream. No DOM and no React: widgets listen to
 * `changed` and render.
 */
import { type ISignal, Signal } from '@lumino/signaling';
import { initialPanelState, reducePanel, type PanelState } from '../../shared/dist/panel/state.js';
import { followEvents, postJSON } from './request';
import type { RunEvent } from './tokens';

export class RunModel {
  private _state: PanelState;
  private _trouble: string | undefined;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _abort = new AbortController();
  private _following: Promise<void> | undefined;

  constructor(
    readonly runId: string,
    options: { name?: string; budgetUsd?: number; deadlineS?: number } = {}
  ) {
    const { name, ...limits } = options;
    const initial = initialPanelState(limits);
    this._state = name === undefined ? { ...initial, runId } : { ...initial, runId, name };
  }

  get state(): PanelState {
    return this._state;
  }

  /** A connection problem to show next to the panel (undefined when all is well). */
  get trouble(): string | undefined {
    return this._trouble;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isFinished(): boolean {
    return this._state.final !== undefined;
  }

  /** Replays the run's history from its first event, then follows it live until it ends. */
  follow(): Promise<void> {
    this._following ??= followEvents(
      this.runId,
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

  apply(event: RunEvent): void {
    this._state = reducePanel(this._state, event);
    this._changed.emit();
  }

  async cancel(): Promise<void> {
    await postJSON(`runs/${encodeURIComponent(this.runId)}/cancel`, {});
  }

  dispose(): void {
    this._abort.abort();
    Signal.clearData(this);
  }
}
