/**
 * The one way the frontend talks to the server extension: JSON requests through Jupyter's
 * `ServerConnection` (its token or cookie, and the XSRF header Jupyter checks on POST), and a
 * run's or a sweep's event stream read as Server-Sent Events from a streamed `fetch` body.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { API_NAMESPACE, type ApiErrorBody } from './tokens';

/** An API failure with the server's code and, for bad input, the request field it concerns. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string
  ) {
    super(message);
  }
}

const settings = (): ServerConnection.ISettings => ServerConnection.makeSettings();

function apiUrl(endpoint: string): string {
  return URLExt.join(settings().baseUrl, API_NAMESPACE, endpoint);
}

export async function requestAPI<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(apiUrl(endpoint), init, settings());
  } catch (err) {
    throw new ApiError(0, 'SERVER_UNREACHABLE', `The Jupyter server did not answer: ${(err as Error).message}`);
  }
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (e.g. an HTML error page from a proxy in front of Jupyter).
  }
  if (!response.ok) throw errorFrom(response.status, body, text);
  return body as T;
}

export function postJSON<T>(endpoint: string, body: unknown): Promise<T> {
  return requestAPI<T>(endpoint, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
}

function errorFrom(status: number, body: unknown, text: string): ApiError {
  const error = (body as Partial<ApiErrorBody> | undefined)?.error;
  if (error && typeof error.message === 'string') {
    return new ApiError(status, error.code ?? 'ERROR', error.message, error.field);
  }
  const message = (body as { message?: string } | undefined)?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
  return new ApiError(status, status === 403 ? 'FORBIDDEN' : 'ERROR', message);
}

/** Why an event stream stopped: the run or sweep ended (`end`) or the caller aborted. */
export type StreamOutcome = 'end' | 'aborted';

/**
 * Follows the events at `eventsPath` (e.g. `runs/<id>/events`, `sweeps/<id>/events`) after
 * `fromSeq`, calling `onEvent` for each, until the stream ends (the run or sweep is over) or
 * `signal` aborts. A dropped connection is reopened after the last seq seen (1 s, then up to
 * 10 s apart), so a restart of the side process or a network blip loses nothing.
 */
export async function followEvents<E extends { seq: number }>(
  eventsPath: string,
  fromSeq: number,
  onEvent: (event: E) => void,
  signal: AbortSignal,
  onTrouble: (message: string | undefined) => void = () => undefined
): Promise<StreamOutcome> {
  let lastSeq = fromSeq;
  let delayMs = 1000;
  while (!signal.aborted) {
    try {
      const url = apiUrl(`${eventsPath}?fromSeq=${lastSeq}`);
      const response = await ServerConnection.makeRequest(url, { signal, headers: { Accept: 'text/event-stream' } }, settings());
      if (!response.ok) {
        const text = await response.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const err = errorFrom(response.status, body, text);
        // A run or sweep that does not exist will not appear by retrying.
        if (response.status === 404 || response.status === 400) throw err;
        onTrouble(err.message);
      } else {
        onTrouble(undefined);
        delayMs = 1000;
        const ended = await readSse(response, signal, (name, data) => {
          if (name === 'stream_error') {
            const body = JSON.parse(data) as ApiErrorBody;
            onTrouble(body.error.message);
            return;
          }
          if (name === 'stream_end') return;
          const event = JSON.parse(data) as E;
          if (event.seq <= lastSeq) return;
          lastSeq = event.seq;
          onEvent(event);
        });
        if (ended) return 'end';
      }
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof ApiError && (err.status === 404 || err.status === 400)) throw err;
      onTrouble(`Lost the event stream (${(err as Error).message}); reconnecting.`);
    }
    await sleep(delayMs, signal);
    delayMs = Math.min(delayMs * 2, 10_000);
  }
  return 'aborted';
}

/** Parses an SSE body; true when the server said `stream_end` (the run or sweep is over). */
async function readSse(response: Response, signal: AbortSignal, onMessage: (event: string, data: string) => void): Promise<boolean> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  let buffer = '';
  let sawEnd = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return sawEnd;
      buffer += value.replace(/\r\n?/g, '\n');
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') name = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length === 0) continue;
        if (name === 'stream_end') sawEnd = true;
        onMessage(name, data.join('\n'));
      }
    }
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
