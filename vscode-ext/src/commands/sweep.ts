/**
 * SMLT: Sweep on Serverless and SMLT: Show Sweeps. A sweep reads the saved notebook (its
 * `smlt:sweep` cell says what varies), so the notebook is saved first; the prompt asks the
 * deadline, budget and backend with the whole sweep's forecast, then the sweep's panel follows it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { formatSweepMetric, renderSweepReportPage, sweepOutcomeText } from '@smlt/shared/sweep/sweep-panel';
import type { SweepSummary } from '@smlt/shared/sweep/sweep-service';
import { formatUsd } from '@smlt/shared/panel/format';
import type { ExtensionDeps } from '../deps';
import { notebookName, targetNotebook } from '../notebook-target';
import { notebookPython } from '../python-interpreter';
import { LivePanel, type PanelActions } from '../panel/live-panel';
import { isRunId } from '../panel/protocol';
import { sweepPanelContent } from '../panel/sweep-panel';
import { choicesFromStored, sweepRequestFromChoices } from '../prompt/choices';
import { sweepPromptEstimate } from '../prompt/estimate-text';
import { promptTrainChoices } from '../prompt/train-prompt';
import type { SweepSession } from '../sweeps/sweep-session';
import { trusted } from './train';

const choicesKey = (doc: vscode.NotebookDocument) => `smlt.sweepChoices:${doc.uri.toString()}`;

export async function sweep(deps: ExtensionDeps, arg: unknown): Promise<void> {
  const doc = await targetNotebook(arg);
  if (doc.uri.scheme !== 'file') throw new Error('Save the notebook to a file first: a sweep reads its cells from the file and keeps its outputs in a .smlt folder beside it.');
  if (!(await trusted(doc))) return;
  // The sweep reads the file: what the user sees is what is swept.
  if (doc.isDirty && !(await doc.save())) throw new Error(`Could not save ${notebookName(doc)}; a sweep reads the saved notebook.`);
  const service = await deps.sweeps();
  const python = await notebookPython(doc);
  const path = doc.uri.fsPath;
  const choices = await promptTrainChoices({
    title: `Sweep ${notebookName(doc)}`,
    initial: choicesFromStored(deps.context.workspaceState.get(choicesKey(doc))),
    estimate: (c) => service.estimate(sweepRequestFromChoices(c, path, python)).then(sweepPromptEstimate),
    mode: 'sweep',
  });
  if (!choices) return;
  await deps.context.workspaceState.update(choicesKey(doc), choices);
  const { sweepId } = await service.start(sweepRequestFromChoices(choices, path, python));
  showSweep(deps, deps.sweepSessions.attach(sweepId, service, { notebookUri: doc.uri }));
}

export async function showSweeps(deps: ExtensionDeps, sweepId?: unknown): Promise<void> {
  const summary = await pickSweep(deps, sweepId);
  if (summary) showSweep(deps, await attach(deps, summary));
}

/** Re-attaches a sweep panel VS Code restored after a window reload. */
export async function restoreSweepPanel(deps: ExtensionDeps, panel: vscode.WebviewPanel, state: unknown): Promise<void> {
  const sweepId = (state as { runId?: unknown } | undefined)?.runId;
  if (!isRunId(sweepId)) return panel.dispose();
  const summary = await (await deps.sweeps()).get(sweepId).catch(() => undefined);
  if (!summary) return panel.dispose();
  LivePanel.adopt(panel, deps.context.extensionUri, sweepPanelContent(await attach(deps, summary)), sweepActions(deps));
}

/** When a watched sweep ends: its outcome, with the report, the winning settings and the model. */
export async function announceSweep(deps: ExtensionDeps, session: SweepSession): Promise<void> {
  const finished = session.finished;
  if (!finished) return;
  const text = `SMLT: sweep ${session.state.name ?? session.sweepId} ${sweepOutcomeText(finished, session.state.objective.metric)}.`;
  const buttons = ['Open report', ...(finished.settingsPath ? ['Open best settings'] : []), ...(finished.modelPath ? ['Reveal model'] : [])];
  const show = finished.status === 'succeeded' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  const choice = await show(text, ...buttons);
  if (choice === 'Open report') await openSweepReport(deps, session.sweepId);
  else if (choice === 'Open best settings' && finished.settingsPath) await vscode.window.showTextDocument(vscode.Uri.file(finished.settingsPath), { viewColumn: vscode.ViewColumn.Beside });
  else if (choice === 'Reveal model' && finished.modelPath) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(finished.modelPath));
}

function showSweep(deps: ExtensionDeps, session: SweepSession): void {
  LivePanel.show(deps.context.extensionUri, sweepPanelContent(session), sweepActions(deps));
}

function sweepActions(deps: ExtensionDeps): PanelActions {
  return {
    cancel: async (id) => {
      const { outcome } = await (await deps.sweeps()).cancel(id);
      const said = { requested: 'cancelling; its trials stop after their current step and keep their checkpoints', cancelled: 'cancelled', finished: 'had already finished' }[outcome];
      void vscode.window.showInformationMessage(`SMLT: sweep ${id} ${said}.`);
    },
    openReport: (id) => openSweepReport(deps, id),
  };
}

/** The sweep's report page (the panel as a static page), saved in its output folder and shown. */
async function openSweepReport(deps: ExtensionDeps, sweepId: string): Promise<void> {
  const summary = await (await deps.sweeps()).get(sweepId);
  if (summary.status === 'running') throw new Error(`Sweep ${sweepId} is still running: its report is made when it ends; its panel shows it live.`);
  const session = await attach(deps, summary);
  // A sweep just attached replays its events first.
  const finished = session.finished ?? (await new Promise<SweepSession['finished']>((resolve) => session.onDidFinish(resolve)));
  const page = renderSweepReportPage(session.state);
  if (finished?.outDir) await writeFile(join(finished.outDir, 'report.html'), page);
  // The page carries its own CSP (no scripts, inline style and data: images only).
  const panel = vscode.window.createWebviewPanel('smlt.sweepReport', `SMLT sweep report: ${session.state.name ?? sweepId}`, vscode.ViewColumn.Beside, {
    enableScripts: false,
    localResourceRoots: [],
  });
  panel.webview.html = page;
}

async function attach(deps: ExtensionDeps, summary: SweepSummary): Promise<SweepSession> {
  return deps.sweepSessions.attach(summary.sweepId, await deps.sweeps(), {
    notebookUri: vscode.Uri.file(summary.notebook),
    announce: summary.status === 'running',
  });
}

async function pickSweep(deps: ExtensionDeps, sweepId: unknown): Promise<SweepSummary | undefined> {
  const service = await deps.sweeps();
  if (typeof sweepId === 'string') return service.get(sweepId);
  const sweeps = await service.list();
  if (sweeps.length === 0) {
    void vscode.window.showInformationMessage('SMLT: no sweeps on this machine. Start one with SMLT: Sweep on Serverless (the notebook needs an smlt:sweep cell).');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    sweeps.map((s) => ({
      label: `${s.status === 'running' ? '$(sync~spin)' : '$(beaker)'} ${s.name}`,
      description: `${s.status}, ${s.trials} trials, ${formatUsd(s.spentUsd)}${s.best ? `, best val_${s.objective.metric} ${formatSweepMetric(s.best.metric, s.objective.metric)}` : ''}`,
      detail: `${s.sweepId} · started ${new Date(s.createdAt).toLocaleString()} · ${s.notebook}`,
      summary: s,
    })),
    { title: 'SMLT sweeps', placeHolder: 'Show which sweep?', matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.summary;
}
