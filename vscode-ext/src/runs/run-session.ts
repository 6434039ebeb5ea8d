/** A run's session: its events from the service folded into the shared panel state (event-session.ts). */
import type * as vscode from 'vscode';
import { type PanelState, initialPanelState, reducePanel } from '@smlt/shared/panel/state';
import type { RunService } from '@smlt/shared/service/run-service';
import type { RunEvent } from '@smlt/shared/run/events';
import { EventSession, SessionRegistry } from './event-session';

export type FinishedEvent = Extract<RunEvent, { type: 'run_finished' }>;

export class RunSession extends EventSession<RunEvent, PanelState, FinishedEvent> {
  constructor(
    readonly runId: string,
    readonly service: RunService,
    /** The notebook the run trains, when known (for "Insert load cell"). */
    readonly notebookUri?: vscode.Uri,
    announce = true,
  ) {
    super(runId, {
      events: (signal) => service.events(runId, { signal }),
      reduce: reducePanel,
      initial: initialPanelState(),
      isEnd: (event): event is FinishedEvent => event.type === 'run_finished',
    }, announce);
  }
}

export class RunSessions extends SessionRegistry<RunSession> {
  attach(runId: string, service: RunService, options: { notebookUri?: vscode.Uri; announce?: boolean } = {}): RunSession {
    return this.attachWith(runId, () => new RunSession(runId, service, options.notebookUri, options.announce ?? true));
  }
}
