/**
 * The RunService of a `smlt serve` elsewhere on this machine, over HTTP: the CLI's
 * `train --server URL` and the editors hold this instead of a LocalRunService and change
 * nothing else. Service errors come back as the same SmltError (same code, same message);
 * failures of the connection itself are ServeError.
 */
import { resolve } from 'node:path';
import { SmltError, errorMessage } from '../errors.js';
import type { RunEvent } from '../run/events.js';
import type { Estimate, NotebookSource, RunArtifacts, RunRequest, RunService, RunSummary } from '../service/run-service.js';
import { type ServeErrorCode, errorBodySchema, isSmltErrorCode } from './schemas.js';
import { STREAM_END, STREAM_ERROR, parseSse } from './sse.js';
import { readServeInfo } from './token-file.js';
import type { SweepService } from '../sweep/sweep-service.js';
import type { SweepEvent } from '../sweep/sweep-events.js';
import type { SweepRequest } from '../sweep/run-sweep.js';

export interface RunServiceClientOptions {
  /** `http://127.0.0.1:<port>`, as `startServer` and the token file give it. */
  url: string;
  token: string;
  /** How `events()` survives dropped connections. */
  reconnect?: {
    /** Reconnections in a row without a new event before giving up; default 8. */
    retries?: number;
    /** First wait, doubled per failed try up to maxDelayMs; defaults 100 ms and 5 s. */
    initialDelayMs?: number;
    maxDelayMs?: number;
    /** A stream silent this long (no event, no heartbeat) is presumed dead; default 45 s (3 heartbeats). */
    idleTimeoutMs?: number;
  };
  /** Tests and proxies; default the global fetch. */
  fetch?: typeof fetch;
}

/** A failure of the HTTP layer: server unreachable or refusing us, or a stream lost for good. */
export class ServeError extends Error {
  override readonly name = 'ServeError';
  constructor(
    readonly code: ServeErrorCode,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class RunServiceClient implements RunService {
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: typeof fetch;
  private readonly retries: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly idleTimeoutMs: number;

  constructor(options: RunServiceClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.fetchFn = options.fetch ?? fetch;
    this.retries = options.reconnect?.retries ?? 8;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 100;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 5_000;
    this.idleTimeoutMs = options.reconnect?.idleTimeoutMs ?? 45_000;
  }

  /** The server this user started with `smlt serve`, from its token file; undefined when none runs. */
  static async fromServeFile(path?: string, options: Omit<RunServiceClientOptions, 'url' | 'token'> = {}): Promise<RunServiceClient | undefined> {
    const info = await readServeInfo(path);
    return info && new RunServiceClient({ ...options, url: info.url, token: info.token });
  }

  estimate(request: RunRequest): Promise<Estimate> {
    return this.call('POST', '/v1/estimate', absolutePaths(request));
  }

  start(request: RunRequest): Promise<{ runId: string }> {
    return this.call('POST', '/v1/runs', absolutePaths(request));
  }

  cancel(runId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }> {
    return this.call('POST', `${runPath(runId)}/cancel`, {});
  }

  list(): Promise<RunSummary[]> {
    return this.call('GET', '/v1/runs');
  }

  get(runId: string): Promise<RunSummary> {
    return this.call('GET', runPath(runId));
  }

  resume(runId: string, options: { force?: boolean } = {}): Promise<{ runId: string; fromSeq: number }> {
    return this.call('POST', `${runPath(runId)}/resume`, options.force === undefined ? {} : { force: options.force });
  }

  artifacts(runId: string): Promise<RunArtifacts> {
    return this.call('GET', `${runPath(runId)}/artifacts`);
  }

  /** The run's events after `fromSeq`, then live ones (see `stream`). */
  events(runId: string, options: { fromSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<RunEvent> {
    return this.stream<RunEvent>(runPath(runId), 'run_finished', `run ${runId}`, options);
  }

  /** The server's sweeps (its /v1/sweeps routes), over the same connection settings. */
  readonly sweeps: SweepService = {
    estimate: (request) => this.call('POST', '/v1/sweeps/estimate', absoluteSweepPaths(request)),
    start: (request) => this.call('POST', '/v1/sweeps', absoluteSweepPaths(request)),
    resume: (sweepId) => this.call('POST', `${sweepPath(sweepId)}/resume`, {}),
    cancel: (sweepId) => this.call('POST', `${sweepPath(sweepId)}/cancel`, {}),
    list: () => this.call('GET', '/v1/sweeps'),
    get: (sweepId) => this.call('GET', sweepPath(sweepId)),
    events: (sweepId, options = {}) => this.stream<SweepEvent>(sweepPath(sweepId), 'sweep_finished', `sweep ${sweepId}`, options),
  };

  /**
   * Events of a run or sweep at `path` after `fromSeq`, then live ones, as the service gives them. A
   * dropped connection is resumed with `Last-Event-ID` (backing off, `retries` times in a row at
   * most); every seq is yielded once, in order, none skipped. After `endType` the stream is read to
   * its end and not reconnected.
   */
  private async *stream<E extends { seq: number; type: string }>(
    path: string,
    endType: string,
    what: string,
    options: { fromSeq?: number; signal?: AbortSignal },
  ): AsyncGenerator<E> {
    const { signal } = options;
    let lastSeq = options.fromSeq ?? 0;
    let finished = false;
    let failures = 0;
    let lastFailure: unknown;

    while (!signal?.aborted) {
      const connection = new AbortController();
      const onAbort = () => connection.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const resetIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(() => connection.abort(new ServeError('STREAM_LOST', 'The event stream went silent.')), this.idleTimeoutMs);
      };
      try {
        resetIdle();
        const response = await this.send('GET', `${path}/events?fromSeq=${lastSeq}`, undefined, connection.signal, {
          accept: 'text/event-stream',
          'last-event-id': String(lastSeq),
        });
        if (!response.ok) {
          // 5xx and 429 may pass (a restarting server); anything else is the answer.
          const err = await errorFrom(response);
          if (response.status < 500 && response.status !== 429) throw err;
          lastFailure = err;
        } else {
          for await (const message of parseSse(touching(response.body!, resetIdle, connection.signal))) {
            if (message.event === STREAM_END) return;
            if (message.event === STREAM_ERROR) throw errorFromBody(safeJson(message.data), response.status);
            if (finished) continue;
            const event = safeJson(message.data) as E | undefined;
            if (!event || typeof event.seq !== 'number') {
              throw new ServeError('PROTOCOL_ERROR', `The server sent an event that is not one of ${what}: ${message.data.slice(0, 200)}`, 200);
            }
            if (event.seq <= lastSeq) continue; // replayed after a reconnect: already yielded
            if (event.seq !== lastSeq + 1) {
              lastFailure = new ServeError('PROTOCOL_ERROR', `Events jumped from seq ${lastSeq} to ${event.seq}.`);
              break; // reconnect from lastSeq rather than skip
            }
            lastSeq = event.seq;
            failures = 0;
            clearTimeout(idle); // a consumer slow to ask for the next event is no silent server
            yield event;
            resetIdle();
            // Keep reading to the stream's end: the service ends it once the run's outputs are written.
            // Not sticky: a resumed run or sweep has an earlier end in its history, then goes on.
            finished = event.type === endType;
          }
          lastFailure ??= new ServeError('STREAM_LOST', `The event stream closed before ${what} finished.`);
        }
      } catch (err) {
        if (signal?.aborted) return;
        if (!isRetryable(err)) throw err;
        lastFailure = connection.signal.reason instanceof ServeError ? connection.signal.reason : err;
      } finally {
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        connection.abort(); // release the connection if the consumer stopped early
      }
      // Dropped after run_finished: nothing more to wait for.
      if (finished) return;
      failures += 1;
      if (failures > this.retries) {
        const why = `${errorMessage(lastFailure)}; ${this.retries} reconnections failed`;
        throw new ServeError('STREAM_LOST', `Lost the event stream of ${what} after seq ${lastSeq} (${why}).`, undefined, { cause: lastFailure });
      }
      lastFailure = undefined;
      await sleep(Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (failures - 1)), signal);
    }
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (!response.ok) throw await errorFrom(response);
    return (await response.json()) as T;
  }

  private async send(method: string, path: string, body: unknown, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<Response> {
    const request = () =>
      this.fetchFn(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    try {
      try {
        return await request();
      } catch (err) {
        // A kept-alive connection the server closed as it went idle: the request never reached
        // it, and the retry opens a fresh connection (undici #3141).
        if (signal?.aborted || !isStaleConnection(err)) throw err;
        return await request();
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      const cause = socketErrorCode(err);
      throw new ServeError('SERVER_UNREACHABLE', `Cannot reach smlt serve at ${this.base} (${errorMessage(err)}${cause ? `: ${cause}` : ''}); is it running?`, undefined, { cause: err });
    }
  }
}

/**
 * Worth reconnecting for: the network, a silent or cut stream, a server restarting (5xx, 429).
 * Not: the service's own errors, refusals (401, 403, 404, 400) and a server speaking nonsense.
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof SmltError) return false;
  // An error inside a 200 stream (stream_error, nonsense) is the server's answer, not a drop.
  if (err instanceof ServeError) return err.status === undefined || err.status >= 500 || err.status === 429;
  return true;
}

/** The code of the socket error under a failed fetch (`ECONNREFUSED`, `UND_ERR_SOCKET`, ...). */
function socketErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Closed by the other side on a reused connection, as opposed to a server that is not there (ECONNREFUSED). */
function isStaleConnection(err: unknown): boolean {
  const code = socketErrorCode(err);
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

const runPath = (runId: string): string => `/v1/runs/${encodeURIComponent(runId)}`;
const sweepPath = (sweepId: string): string => `/v1/sweeps/${encodeURIComponent(sweepId)}`;

function absoluteSweepPaths(request: SweepRequest): SweepRequest {
  return { ...request, notebook: resolve(request.notebook), ...(request.outDir ? { outDir: resolve(request.outDir) } : {}) };
}

/** The server resolves nothing against its own working folder: send absolute paths. */
function absolutePaths(request: RunRequest): RunRequest {
  const source: NotebookSource =
    'path' in request.source
      ? { ...request.source, path: resolve(request.source.path) }
      : {
          ...request.source,
          notebookDir: resolve(request.source.notebookDir),
          ...(request.source.notebookPath ? { notebookPath: resolve(request.source.notebookPath) } : {}),
        };
  return { ...request, source, ...(request.outDir ? { outDir: resolve(request.outDir) } : {}) };
}

async function errorFrom(response: Response): Promise<Error> {
  return errorFromBody(safeJson(await response.text().catch(() => '')), response.status);
}

/** SmltError for the service's codes (as thrown on the server), ServeError for the HTTP layer's. */
function errorFromBody(body: unknown, status: number): Error {
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) return new ServeError('PROTOCOL_ERROR', `smlt serve answered HTTP ${status} without an error body.`, status);
  const { code, message } = parsed.data.error;
  if (isSmltErrorCode(code)) return new SmltError(code, message);
  return new ServeError(code as ServeErrorCode, message, status);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The body's chunks, calling `onChunk` for each (heartbeats included) to keep the idle timer off.
 * Ends with the signal's reason when the connection is aborted, whatever the fetch behind it does.
 */
async function* touching(body: AsyncIterable<Uint8Array>, onChunk: () => void, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const chunks = body[Symbol.asyncIterator]();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), aborted]);
      if (next.done) return;
      onChunk();
      yield next.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    void chunks.return?.()?.catch(() => undefined);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
