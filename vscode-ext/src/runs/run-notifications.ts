/**
 * What the user is told while a run goes and when it ends: a progress notification (its Cancel
 * button cancels the run), then the outcome with the model's place and the follow-up actions.
 */
import { relative, dirname } from 'node:path';
import * as vscode from 'vscode';
import { STATUS_LABELS } from '@smlt/shared/panel/render';
import type { RunSession } from './run-session';

export function showRunProgress(session: RunSession, name: string, cancel: (runId: string) => Promise<void>): void {
  if (session.finished) return;
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `SMLT: training ${name}`, cancellable: true },
    (progress, token) =>
      new Promise<void>((resolve) => {
        let reported = 0;
        const subscriptions: vscode.Disposable[] = [];
        const done = () => {
          for (const d of subscriptions.splice(0)) d.dispose();
          resolve();
        };
        subscriptions.push(
          session.onDidChange((state) => {
            if (session.followError || state.final) return done();
            const inEpoch = state.iterations > 0 && state.epoch === state.epochsDone ? state.iteration / state.iterations : 0;
            const percent = state.epochs > 0 ? Math.min(100, ((state.epochsDone + inEpoch) / state.epochs) * 100) : 0;
            const epoch = state.epochs > 0 ? `epoch ${Math.min(state.epoch + 1, state.epochs)} of ${state.epochs}` : 'starting';
            progress.report({ message: epoch, increment: Math.max(0, percent - reported) });
            reported = Math.max(reported, percent);
          }),
          token.onCancellationRequested(() => {
            cancel(session.runId).catch((err: Error) => void vscode.window.showErrorMessage(`SMLT: ${err.message}`));
            done();
          }),
        );
      }),
  );
}

export interface CompletionActions {
  insertLoadCell(session: RunSession): Promise<void>;
  openReport(runId: string): Promise<void>;
}

export async function announceFinish(session: RunSession, actions: CompletionActions): Promise<void> {
  const finished = session.finished;
  if (!finished) return;
  const name = session.state.name ?? session.runId;
  const status = STATUS_LABELS[finished.status];
  const where = finished.modelPath ? shortPath(finished.modelPath, session.notebookUri) : undefined;
  const buttons = [...(finished.modelPath && session.notebookUri ? ['Insert load cell'] : []), 'Open report', ...(finished.modelPath ? ['Reveal model'] : [])];
  const text =
    finished.status === 'succeeded'
      ? `SMLT: ${name} succeeded in ${finished.durationS.toFixed(1)} s. Model saved to ${where}.`
      : `SMLT: ${name}: ${status.toLowerCase()}${finished.error ? ` (${finished.error.message})` : ''}.${where ? ` Last model saved to ${where}.` : ''}`;
  const show = finished.status === 'succeeded' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const choice = await show(text, ...buttons);
  if (choice === 'Insert load cell') await actions.insertLoadCell(session);
  else if (choice === 'Open report') await actions.openReport(session.runId);
  else if (choice === 'Reveal model' && finished.modelPath) {
    await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(finished.modelPath));
  }
}

/** The model's path relative to the notebook's folder when it is inside it. */
function shortPath(path: string, notebookUri: vscode.Uri | undefined): string {
  if (!notebookUri) return path;
  const rel = relative(dirname(notebookUri.fsPath), path);
  return rel.startsWith('..') ? path : rel;
}
