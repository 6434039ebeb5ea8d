/**
 * Every command and listener of the extension, each registered into `context.subscriptions`.
 * A command's failure becomes an error notification with the service's message (which names
 * what to fix), never an unhandled rejection.
 */
import * as vscode from 'vscode';
import type { ExtensionDeps } from '../deps';
import { announceFinish } from '../runs/run-notifications';
import { insertLoadCell } from './load-cell';
import { estimate, train } from './train';
import { cancelRun, openReport, restorePanel, showRuns } from './runs';
import { RUN_PANEL_VIEW_TYPE } from '../panel/run-panel';
import { SWEEP_PANEL_VIEW_TYPE } from '../panel/sweep-panel';
import { announceSweep, restoreSweepPanel, showSweeps, sweep } from './sweep';

export function registerCommands(deps: ExtensionDeps): void {
  const commands: Record<string, (arg?: unknown) => Promise<void>> = {
    'smlt.train': (arg) => train(deps, arg),
    'smlt.estimate': (arg) => estimate(deps, arg),
    'smlt.showRuns': (arg) => showRuns(deps, arg),
    'smlt.cancelRun': (arg) => cancelRun(deps, arg),
    'smlt.openReport': (arg) => openReport(deps, arg),
    'smlt.sweep': (arg) => sweep(deps, arg),
    'smlt.showSweeps': (arg) => showSweeps(deps, arg),
  };
  for (const [id, run] of Object.entries(commands)) {
    deps.context.subscriptions.push(vscode.commands.registerCommand(id, (arg?: unknown) => run(arg).catch(reportError)));
  }
  deps.context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(RUN_PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => restorePanel(deps, panel, state).catch(reportError),
    }),
    vscode.window.registerWebviewPanelSerializer(SWEEP_PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: (panel, state) => restoreSweepPanel(deps, panel, state).catch(reportError),
    }),
  );
  // When a watched run or sweep ends: the outcome, with its follow-ups (Insert load cell, Open report, ...).
  deps.context.subscriptions.push(
    whenWatchedEnds(deps.sessions, (session) => announceFinish(session, { insertLoadCell, openReport: (id) => openReport(deps, id) })),
    whenWatchedEnds(deps.sweepSessions, (session) => announceSweep(deps, session)),
  );
}

function whenWatchedEnds<T extends { announce: boolean; onDidFinish: vscode.Event<unknown> }>(sessions: { onDidAdd: vscode.Event<T> }, then: (session: T) => Promise<void>): vscode.Disposable {
  return sessions.onDidAdd((session) => {
    if (!session.announce) return;
    const once = session.onDidFinish(() => {
      once.dispose();
      void then(session).catch(reportError);
    });
  });
}

function reportError(err: unknown): void {
  void vscode.window.showErrorMessage(`SMLT: ${err instanceof Error ? err.message : String(err)}`);
}
