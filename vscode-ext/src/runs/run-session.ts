/**
 * Follows one run's events from the service and folds them into the shared panel state. Panels,
 * the status bar and the progress notification listen to it; it keeps going when they close.
 * Stopping it (dispose) stops following, never the run.
 */
import * as vscode from 'vscode';
import { type PanelState, initialPanelState, reducePanel } from '@smlt/shared/panel/state';
import type { RunService } from '@smlt/shared/service/run-service';
import type { RunEvent } from '@smlt/shared/run/events';

export type FinishedEvent = Extract<RunEvent, { type: 'run_finished' }>;

export class RunSession implements vscode.Disposable {
  private readonly abort = new AbortController();
  private readonly changed = new vscode.EventEmitter<PanelState>();
  private readonly finishedEmitter = new vscode.EventEmitter<FinishedEvent>();
  /** Fired (throttled by the caller as needed) after every event. */
  readonly onDidChange = this.changed.event;
  /** Fired once when the run's last event arrives (also when attaching to a run that had ended). */
  readonly onDidFinish = this.finishedEmitter.event;
  state: PanelState = initialPanelState();
  finished?: FinishedEvent;
  /** Set when following failed (service gone): the run itself may still be going. */
  followError?: string;

  constructor(
    readonly runId: string,
    readonly service: RunService,
    /** The notebook the run trains, when known (for "Insert load cell"). */
    readonly notebookUri?: vscode.Uri,
    /** Tell the user when it ends (a run watched live, not one looked up after it ended). */
    readonly announce = true,
  ) {}

  /** Replays the run's history, then follows it live until it ends. */
  async follow(): Promise<void> {
    try {
      for await (const event of this.service.events(this.runId, { signal: this.abort.signal })) {
        this.state = reducePanel(this.state, event);
        if (event.type === 'run_finished') this.finished = event;
        this.changed.fire(this.state);
        if (event.type === 'run_finished') this.finishedEmitter.fire(event);
      }
    } catch (err) {
      if (this.abort.signal.aborted) return;
      this.followError = `Lost the run's events: ${(err as Error).message}`;
      this.changed.fire(this.state);
    }
  }

  dispose(): void {
    this.abort.abort();
    this.changed.dispose();
    this.finishedEmitter.dispose();
  }
}

/** One session per run in this window, so panels, the status bar and commands share it. */
export class RunSessions implements vscode.Disposable {
  private readonly sessions = new Map<string, RunSession>();
  private readonly added = new vscode.EventEmitter<RunSession>();
  readonly onDidAdd = this.added.event;

  get(runId: string): RunSession | undefined {
    return this.sessions.get(runId);
  }

  attach(runId: string, service: RunService, options: { notebookUri?: vscode.Uri; announce?: boolean } = {}): RunSession {
    const existing = this.sessions.get(runId);
    if (existing && !existing.followError) return existing;
    existing?.dispose();
    const session = new RunSession(runId, service, options.notebookUri, options.announce ?? true);
    this.sessions.set(runId, session);
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
