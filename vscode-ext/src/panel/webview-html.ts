/**
 * The run or sweep panel's page: the shared panel stylesheet with VS Code's theme colours mapped onto its
 * variables, one nonce-tagged script loaded from the extension's `dist/` (the only folder in
 * `localResourceRoots`), and a Content-Security-Policy that allows nothing else: no inline
 * script or handler, no network. Pure, so the policy is unit-tested.
 */
import { randomBytes } from 'node:crypto';
import { PANEL_CSS } from '@smlt/shared/panel/styles';
import { escapeHtml } from '@smlt/shared/panel/escape';

export interface WebviewPageInput {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `webview.asWebviewUri(dist/webview.js)`, as a string. */
  scriptUri: string;
  title: string;
  /** Styles beyond the shared panel stylesheet (a sweep's table and meters). */
  css?: string;
  nonce?: string;
}

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}' ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

/** VS Code's theme variables onto the panel's (see shared/src/panel/styles.ts). */
export const VSCODE_THEME_CSS = `
body {
  --smlt-fg: var(--vscode-foreground);
  --smlt-bg: var(--vscode-editor-background);
  --smlt-surface: var(--vscode-sideBar-background, var(--vscode-editor-background));
  --smlt-muted: var(--vscode-descriptionForeground);
  --smlt-border: var(--vscode-panel-border, var(--vscode-widget-border, rgba(128, 128, 128, 0.35)));
  --smlt-accent: var(--vscode-charts-blue, var(--vscode-focusBorder));
  --smlt-accent-2: var(--vscode-charts-purple, var(--vscode-textLink-foreground));
  --smlt-on-accent: var(--vscode-button-foreground);
  --smlt-success: var(--vscode-charts-green, var(--vscode-testing-iconPassed));
  --smlt-warning: var(--vscode-charts-yellow, var(--vscode-editorWarning-foreground));
  --smlt-danger: var(--vscode-charts-red, var(--vscode-errorForeground));
  --smlt-font: var(--vscode-font-family);
  --smlt-font-mono: var(--vscode-editor-font-family);
  margin: 0;
  padding: 0;
  background: var(--smlt-bg);
  color: var(--smlt-fg);
}
.smlt-notice { margin: 12px 16px 0; padding: 8px 12px; border-radius: 6px;
  background: var(--vscode-inputValidation-warningBackground); border: 1px solid var(--vscode-inputValidation-warningBorder); }
.smlt-notice[hidden] { display: none; }
`;

export function webviewPage(input: WebviewPageInput): string {
  const nonce = input.nonce ?? newNonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(input.cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style nonce="${nonce}">${PANEL_CSS}${input.css ?? ''}${VSCODE_THEME_CSS}</style>
</head>
<body>
<p class="smlt-notice" id="smlt-notice" role="status" hidden></p>
<div id="smlt-root"><p class="smlt-empty">Connecting to the run…</p></div>
<script nonce="${nonce}" src="${escapeHtml(input.scriptUri)}"></script>
</body>
</html>`;
}
