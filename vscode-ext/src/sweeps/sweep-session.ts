/** A sweep's session: its events from the service folded into the sweep panel's state (event-session.ts). */
import type * as vscode from 'vscode';
import { type SweepPanelState, reduceSweep, sweepStateFromEvents } from '@smlt/shared/sweep/sweep-panel';
import type { SweepEvent, SweepEventOf } from '@smlt/shared/sweep/sweep-events';
import type { SweepService } from '@smlt/shared/sweep/sweep-service';
import { EventSession, SessionRegistry } from '../runs/event-session';

export type SweepFinishedEvent = SweepEventOf<'sweep_finished'>;

export class SweepSession extends EventSession<SweepEvent, SweepPanelState, SweepFinishedEvent> {
  constructor(
    readonly sweepId: string,
    readonly service: SweepService,
    /** The notebook swept, when known (to open the winning settings beside it). */
    readonly notebookUri?: vscode.Uri,
    announce = true,
  ) {
    super(sweepId, {
      events: (signal) => service.events(sweepId, { signal }),
      reduce: reduceSweep,
      initial: sweepStateFromEvents([]),
      isEnd: (event): event is SweepFinishedEvent => event.type === 'sweep_finished',
    }, announce);
  }
}

export class SweepSessions extends SessionRegistry<SweepSession> {
  attach(sweepId: string, service: SweepService, options: { notebookUri?: vscode.Uri; announce?: boolean } = {}): SweepSession {
    return this.attachWith(sweepId, () => new SweepSession(sweepId, service, options.notebookUri, options.announce ?? true));
  }
}
