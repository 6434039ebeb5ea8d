/**
 * The messages between the run panel's webview and the extension, both ways. The webview only
 * renders what it is sent and reports clicks; every message from it is checked here before the
 * extension acts on it (a webview is untrusted content).
 */

/** Extension → webview. */
export type ToWebview =
  /** The panel for `runId`, rendered by the shared renderer (escaped HTML + SVG). */
  | { type: 'render'; runId: string; status: string; html: string }
  /** Something went wrong outside the run (lost connection): shown above the panel. */
  | { type: 'notice'; text: string };

/** Webview → extension. */
export type FromWebview =
  /** Sent once the webview's script has run; the extension answers with the current render. */
  | { type: 'ready' }
  | { type: 'cancel'; runId: string }
  | { type: 'open-report'; runId: string };

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** A run id as the service makes them (letters, digits, `_.-`): anything else is not passed on. */
export function isRunId(value: unknown): value is string {
  return typeof value === 'string' && RUN_ID.test(value);
}

/** The message if it is one the webview may send, else undefined (ignored). */
export function parseFromWebview(message: unknown): FromWebview | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const { type, runId } = message as { type?: unknown; runId?: unknown };
  if (type === 'ready') return { type };
  if ((type === 'cancel' || type === 'open-report') && isRunId(runId)) return { type, runId };
  return undefined;
}

/** The webview's side of the same check, for messages from the extension. */
export function parseToWebview(message: unknown): ToWebview | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (m.type === 'render' && typeof m.runId === 'string' && typeof m.status === 'string' && typeof m.html === 'string') {
    return { type: 'render', runId: m.runId, status: m.status, html: m.html };
  }
  if (m.type === 'notice' && typeof m.text === 'string') return { type: 'notice', text: m.text };
  return undefined;
}
