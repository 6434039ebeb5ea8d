/**
 * The webview panel of one run, beside the notebook: the shared panel renderer, live from the
 * run's session. Closing it only closes the view (the session and the run go on); opening it
 * again for the same run shows the whole history.
 */
import * as vscode from 'vscode';
import { renderPanel } from '@smlt/shared/panel/render';
import type { RunSession } from '../runs/run-session';
import { type ToWebview, parseFromWebview } from './protocol';
import { webviewPage } from './webview-html';

export const RUN_PANEL_VIEW_TYPE = 'smlt.runPanel';
/** Renders at most this often while events stream in. */
const RENDER_INTERVAL_MS = 250;

export interface RunPanelActions {
  cancel(runId: string): Promise<void>;
  openReport(runId: string): Promise<void>;
}

export class RunPanel implements vscode.Disposable {
  private static readonly open = new Map<string, RunPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private timer: NodeJS.Timeout | undefined;

  /** Shows the panel of `session`'s run, reusing the open one. */
  static show(extensionUri: vscode.Uri, session: RunSession, actions: RunPanelActions): RunPanel {
    const existing = RunPanel.open.get(session.runId);
    if (existing) {
      existing.panel.reveal(undefined, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      RUN_PANEL_VIEW_TYPE,
      `SMLT: ${session.state.name ?? session.runId}`,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      webviewOptions(extensionUri),
    );
    return RunPanel.adopt(panel, extensionUri, session, actions);
  }

  /** Takes over a panel VS Code restored after a reload (see registerRunPanelRestore). */
  static adopt(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, session: RunSession, actions: RunPanelActions): RunPanel {
    RunPanel.open.get(session.runId)?.panel.dispose();
    panel.webview.options = webviewOptions(extensionUri);
    const created = new RunPanel(panel, extensionUri, session, actions);
    RunPanel.open.set(session.runId, created);
    return created;
  }

  static disposeAll(): void {
    for (const panel of [...RunPanel.open.values()]) panel.panel.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly session: RunSession,
    private readonly actions: RunPanelActions,
  ) {
    const { webview } = panel;
    webview.html = webviewPage({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      title: panel.title,
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      session.onDidChange(() => this.scheduleRender()),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private onMessage(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) return;
    if (message.type === 'ready') {
      this.ready = true;
      this.render();
    } else if (message.runId === this.session.runId) {
      const action = message.type === 'cancel' ? this.actions.cancel(message.runId) : this.actions.openReport(message.runId);
      action.catch((err: Error) => void vscode.window.showErrorMessage(`SMLT: ${err.message}`));
    }
  }

  private scheduleRender(): void {
    if (this.timer || !this.ready) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, RENDER_INTERVAL_MS);
  }

  private render(): void {
    const { state, runId, followError } = this.session;
    this.panel.title = `SMLT: ${state.name ?? runId}`;
    const width = 640;
    const messages: ToWebview[] = [
      { type: 'render', runId, status: state.status, html: renderPanel(state, { width, cancelButton: true, reportButton: true }) },
      { type: 'notice', text: followError ?? '' },
    ];
    for (const message of messages) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    clearTimeout(this.timer);
    RunPanel.open.delete(this.session.runId);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')] };
}
