/** A status bar item for the run watched most recently: epoch and spend; a click shows its panel. */
import * as vscode from 'vscode';
import { STATUS_LABELS } from '@smlt/shared/panel/render';
import { formatUsd } from '@smlt/shared/panel/format';
import type { RunSession, RunSessions } from './run-session';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('smlt.run', vscode.StatusBarAlignment.Left, 50);
  private readonly disposables: vscode.Disposable[] = [this.item];
  private watching: vscode.Disposable | undefined;

  constructor(sessions: RunSessions) {
    this.item.name = 'SMLT run';
    this.disposables.push(sessions.onDidAdd((session) => this.watch(session)));
  }

  private watch(session: RunSession): void {
    this.watching?.dispose();
    this.watching = session.onDidChange(() => this.update(session));
    this.update(session);
  }

  private update(session: RunSession): void {
    const { state } = session;
    const running = state.status === 'running' || state.status === 'pending';
    const epoch = state.epochs > 0 ? `epoch ${Math.min(state.epoch + 1, state.epochs)}/${state.epochs}` : 'starting';
    this.item.text = `${running ? '$(sync~spin)' : '$(rocket)'} SMLT ${running ? epoch : STATUS_LABELS[state.status].toLowerCase()} · ${formatUsd(state.spentUsd)}`;
    this.item.tooltip = `${state.name ?? session.runId}: ${STATUS_LABELS[state.status]}, ${formatUsd(state.spentUsd)} spent (as if on AWS Lambda). Click to show the run.`;
    this.item.command = { command: 'smlt.showRuns', title: 'Show run', arguments: [session.runId] };
    this.item.show();
  }

  dispose(): void {
    this.watching?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
