/**
 * The run panel's script inside the webview. It shows what the extension renders and reports
 * button clicks; it holds no state of the run. Buttons are wired by one delegated listener on
 * `data-action` (the CSP forbids inline handlers).
 */
import { type FromWebview, parseToWebview } from '../panel/protocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; setState(state: { runId: string }): void };

const vscode = acquireVsCodeApi();
const root = document.getElementById('smlt-root')!;
const notice = document.getElementById('smlt-notice')!;
let runId: string | undefined;

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseToWebview(event.data);
  if (!message) return;
  if (message.type === 'render') {
    runId = message.runId;
    vscode.setState({ runId }); // lets VS Code restore this panel after a reload
    // Produced by the shared renderer, which escapes every value it interpolates.
    root.innerHTML = message.html;
    document.body.dataset.status = message.status;
  } else {
    notice.textContent = message.text;
    notice.hidden = message.text === '';
  }
});

root.addEventListener('click', (event) => {
  const button = (event.target as Element | null)?.closest('button[data-action]');
  if (!button || !runId) return;
  const action = button.getAttribute('data-action');
  if (action === 'cancel' || action === 'open-report') {
    (button as HTMLButtonElement).disabled = action === 'cancel';
    vscode.postMessage({ type: action, runId });
  }
});

vscode.postMessage({ type: 'ready' });
