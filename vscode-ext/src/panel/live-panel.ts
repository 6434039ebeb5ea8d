/**
 * A webview panel beside the notebook that shows one run or sweep live: the shared renderer's
 * HTML, re-rendered (throttled) as its session changes. Closing it only closes the view (the
 * session and the run or sweep go on); opening it again for the same id shows the whole history.
 */
import * as vscode from 'vscode';
import { type ToWebview, parseFromWebview } from './protocol';
import { webviewPage } from './webview-html';

/** Renders at most this often while events stream in. */
const RENDER_INTERVAL_MS = 250;
const WIDTH = 640;

/** What a panel shows: a run's or a sweep's session, seen through its renderer. */
export interface PanelContent {
  /** The webview type (VS Code restores panels of a type through its serializer). */
  viewType: string;
  /** The run's or sweep's id. */
  id: string;
  /** Styles beyond the shared panel stylesheet. */
  css?: string;
  onDidChange: vscode.Event<unknown>;
  render(width: number): { title: string; status: string; html: string; notice: string };
}

export interface PanelActions {
  cancel(id: string): Promise<void>;
  openReport(id: string): Promise<void>;
}

export class LivePanel implements vscode.Disposable {
  private static readonly open = new Map<string, LivePanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private timer: NodeJS.Timeout | undefined;

  /** Shows the panel of `content`, reusing the open one. */
  static show(extensionUri: vscode.Uri, content: PanelContent, actions: PanelActions): LivePanel {
    const existing = LivePanel.open.get(content.id);
    if (existing) {
      existing.panel.reveal(undefined, true);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      content.viewType,
      content.render(WIDTH).title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      webviewOptions(extensionUri),
    );
    return LivePanel.adopt(panel, extensionUri, content, actions);
  }

  /** Takes over a panel VS Code restored after a reload (the serializers in commands/register.ts). */
  static adopt(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, content: PanelContent, actions: PanelActions): LivePanel {
    LivePanel.open.get(content.id)?.panel.dispose();
    panel.webview.options = webviewOptions(extensionUri);
    const created = new LivePanel(panel, extensionUri, content, actions);
    LivePanel.open.set(content.id, created);
    return created;
  }

  static disposeAll(): void {
    for (const panel of [...LivePanel.open.values()]) panel.panel.dispose();
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly content: PanelContent,
    private readonly actions: PanelActions,
  ) {
    const { webview } = panel;
    webview.html = webviewPage({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      title: panel.title,
      ...(content.css ? { css: content.css } : {}),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      content.onDidChange(() => this.scheduleRender()),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private onMessage(raw: unknown): void {
    const message = parseFromWebview(raw);
    if (!message) return;
    if (message.type === 'ready') {
      this.ready = true;
      this.render();
    } else if (message.runId === this.content.id) {
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
    const { title, status, html, notice } = this.content.render(WIDTH);
    this.panel.title = title;
    const messages: ToWebview[] = [
      { type: 'render', runId: this.content.id, status, html },
      { type: 'notice', text: notice },
    ];
    for (const message of messages) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    clearTimeout(this.timer);
    if (LivePanel.open.get(this.content.id) === this) LivePanel.open.delete(this.content.id);
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist')] };
}
