/** SMLT: Show Runs, Cancel Run and Open Report: pick a run (or get its id) and act on it. */
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { renderReportPage } from '@smlt/shared/panel/page';
import { type PanelState, panelStateFromEvents } from '@smlt/shared/panel/state';
import type { RunEvent } from '@smlt/shared/run/events';
import type { RunReport } from '@smlt/shared/run/outputs';
import type { RunSummary } from '@smlt/shared/service/run-service';
import { formatUsd } from '@smlt/shared/panel/format';
import type { ExtensionDeps } from '../deps';
import { LivePanel, type PanelActions } from '../panel/live-panel';
import { runPanelContent } from '../panel/run-panel';
import { isRunId } from '../panel/protocol';
import type { RunSession } from '../runs/run-session';

export async function showRuns(deps: ExtensionDeps, runId?: unknown): Promise<void> {
  const run = await pickRun(deps, runId, 'Show which run?', () => true);
  if (!run) return;
  LivePanel.show(deps.context.extensionUri, runPanelContent(await attach(deps, run)), panelActions(deps));
}

/** Re-attaches a panel VS Code restored after a window reload to its run. */
export async function restorePanel(deps: ExtensionDeps, panel: vscode.WebviewPanel, state: unknown): Promise<void> {
  const runId = (state as { runId?: unknown } | undefined)?.runId;
  if (!isRunId(runId)) return panel.dispose();
  const run = await (await deps.service()).get(runId).catch(() => undefined);
  if (!run) return panel.dispose();
  LivePanel.adopt(panel, deps.context.extensionUri, runPanelContent(await attach(deps, run)), panelActions(deps));
}

export function panelActions(deps: ExtensionDeps): PanelActions {
  return { cancel: (id) => cancelRun(deps, id), openReport: (id) => openReport(deps, id) };
}

async function attach(deps: ExtensionDeps, run: RunSummary): Promise<RunSession> {
  return deps.sessions.attach(run.runId, await deps.service(), {
    ...(run.notebook ? { notebookUri: vscode.Uri.file(run.notebook) } : {}),
    announce: run.status === 'running',
  });
}

export async function cancelRun(deps: ExtensionDeps, runId?: unknown): Promise<void> {
  const service = await deps.service();
  const run = await pickRun(deps, runId, 'Cancel which run?', (r) => r.status === 'running');
  if (!run) return;
  const { outcome } = await service.cancel(run.runId);
  const said = { requested: 'cancelling; it stops after the current step and keeps its checkpoint', cancelled: 'cancelled', finished: 'had already finished' }[outcome];
  void vscode.window.showInformationMessage(`SMLT: run ${run.name} (${run.runId}) ${said}.`);
}

/** The run's report page (the panel, the epochs, the scheduler's decisions), saved beside report.json and shown. */
export async function openReport(deps: ExtensionDeps, runId?: unknown): Promise<void> {
  const service = await deps.service();
  const run = await pickRun(deps, runId, 'Report of which run?', (r) => r.status !== 'running');
  if (!run) return;
  const artifacts = await service.artifacts(run.runId);
  if (!artifacts.reportPath) throw new Error(`Run ${run.runId} has no report yet: it is written when the run ends.`);
  const report = JSON.parse(await readFile(artifacts.reportPath, 'utf8')) as RunReport;
  const page = renderReportPage(await finishedState(deps, run.runId), report);
  const pagePath = join(artifacts.outDir, 'report.html');
  await writeFile(pagePath, page);
  // The page carries its own CSP (no scripts, inline style and data: images only).
  const panel = vscode.window.createWebviewPanel('smlt.report', `SMLT report: ${run.name}`, vscode.ViewColumn.Beside, {
    enableScripts: false,
    localResourceRoots: [],
  });
  panel.webview.html = page;
}

async function finishedState(deps: ExtensionDeps, runId: string): Promise<PanelState> {
  const session = deps.sessions.get(runId);
  if (session?.finished) return session.state;
  const events: RunEvent[] = [];
  for await (const event of (await deps.service()).events(runId)) events.push(event);
  return panelStateFromEvents(events);
}

async function pickRun(deps: ExtensionDeps, runId: unknown, placeholder: string, eligible: (run: RunSummary) => boolean): Promise<RunSummary | undefined> {
  const service = await deps.service();
  if (typeof runId === 'string') return service.get(runId);
  const runs = (await service.list()).filter(eligible);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('SMLT: no matching runs on this machine. Start one with SMLT: Train on Serverless.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({
      label: `${run.status === 'running' ? '$(sync~spin)' : '$(history)'} ${run.name}`,
      description: `${run.status}, ${run.epochsDone}/${run.epochs} epochs, ${formatUsd(run.costUsd)}${run.sweepId ? `, a trial of ${run.sweepId}` : ''}`,
      detail: `${run.runId} · started ${new Date(run.createdAt).toLocaleString()}${run.notebook ? ` · ${run.notebook}` : ''}`,
      run,
    })),
    { title: 'SMLT runs', placeHolder: placeholder, matchOnDescription: true, matchOnDetail: true },
  );
  return picked?.run;
}
