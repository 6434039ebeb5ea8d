/**
 * Follows one run's or sweep's events from the service and folds them into its panel state.
 * Panels, the status bar and notifications listen to it; it keeps going when they close.
 * Stopping it (dispose) stops following, never the run or sweep.
 */
import * as vscode from 'vscode';

export interface EventSource<E, S, F extends E> {
  events(signal: AbortSignal): AsyncIterable<E>;
  reduce(state: S, event: E): S;
  initial: S;
  /** The event after which nothing more comes. */
  isEnd(event: E): event is F;
}

export class EventSession<E, S, F extends E> implements vscode.Disposable {
  private readonly abort = new AbortController();
  private readonly changed = new vscode.EventEmitter<S>();
  private readonly finishedEmitter = new vscode.EventEmitter<F>();
  /** Fired (throttled by the caller as needed) after every event. */
  readonly onDidChange = this.changed.event;
  /** Fired once when the last event arrives (also when attaching to one that had ended). */
  readonly onDidFinish = this.finishedEmitter.event;
  state: S;
  finished?: F;
  /** Set when following failed (service gone): the run or sweep itself may still be going. */
  followError?: string;

  constructor(
    readonly id: string,
    private readonly source: EventSource<E, S, F>,
    /** Tell the user when it ends (watched live, not looked up after it ended). */
    readonly announce = true,
  ) {
    this.state = source.initial;
  }

  /** Replays the history, then follows live until the end. */
  async follow(): Promise<void> {
    try {
      for await (const event of this.source.events(this.abort.signal)) {
        this.state = this.source.reduce(this.state, event);
        const end = this.source.isEnd(event);
        if (end) this.finished = event;
        this.changed.fire(this.state);
        if (end) this.finishedEmitter.fire(event);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.followError = `Lost the events: ${(err as Error).message}`;
      this.changed.fire(this.state);
    }
  }

  dispose(): void {
    this.abort.abort();
    this.changed.dispose();
    this.finishedEmitter.dispose();
  }
}

type Followed = Pick<EventSession<unknown, unknown, never>, 'id' | 'followError' | 'follow' | 'dispose'>;

/** One session per id in this window, so panels, the status bar and commands share it. */
export class SessionRegistry<T extends Followed> implements vscode.Disposable {
  private readonly sessions = new Map<string, T>();
  private readonly added = new vscode.EventEmitter<T>();
  readonly onDidAdd = this.added.event;

  get(id: string): T | undefined {
    return this.sessions.get(id);
  }

  /** The session following `id`, made by `create` unless one follows it already. */
  protected attachWith(id: string, create: () => T): T {
    const existing = this.sessions.get(id);
    if (existing && !existing.followError) return existing;
    existing?.dispose();
    const session = create();
    this.sessions.set(id, session);
    this.added.fire(session);
    void session.follow();
    return session;
  }

  dispose(): void {
    for (const session of this.sessions.values()) session.dispose();
    this.sessions.clear();
    this.added.dispose();
  }
}
