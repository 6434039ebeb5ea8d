/**
 * `smlt serve`: the RunService over HTTP, JSON in and out, a run's events as Server-Sent Events.
 *
 * It is a local daemon for this user's editors and CLI, so it listens on 127.0.0.1 only and
 * trusts nothing else about a request: every request carries the bearer token (from the 0600
 * token file, see `token-file.ts`); `Host` must name 127.0.0.1 or localhost on our port and
 * `Origin`, when sent, must be ours or explicitly allowed — a web page that rebinds a DNS name
 * to 127.0.0.1 fails both. The target must be a path (no absolute-form URL naming another
 * authority), `Host` is sent once, and a request's headers and body must arrive within a bound
 * (`requestTimeoutMs`, else 408), so a client that stalls cannot hold a connection. Plain `node:http`: a dozen routes do not need a framework, and the
 * stream needs the raw response anyway (backpressure, close detection).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { SmltError, isSmltError } from '../errors.js';
import type { RunService } from '../service/run-service.js';
import {
  type ErrorBody,
  STATUS_BY_CODE,
  type ServeErrorCode,
  emptyBodySchema,
  firstIssue,
  isSmltErrorCode,
  resumeBodySchema,
  runIdSchema,
  runRequestSchema,
  seqSchema,
  sweepRequestSchema,
} from './schemas.js';
import type { SweepService } from '../sweep/sweep-service.js';
import { STREAM_END, STREAM_ERROR, formatSseComment, formatSseMessage } from './sse.js';

export interface ServerOptions {
  /** Design sweeps, under /v1/sweeps (absent: those routes answer 404). */
  sweeps?: SweepService;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** Only 127.0.0.1 is accepted; the option exists so a `--host` flag can be refused clearly. */
  host?: string;
  /** Cross-origin callers allowed besides our own origin, e.g. `http://localhost:8888` (a JupyterLab page). */
  allowedOrigins?: readonly string[];
  /** A notebook travels inside a start request; default 20 MiB. */
  maxBodyBytes?: number;
  /** SSE comment interval that keeps idle streams alive; default 15 s. */
  heartbeatMs?: number;
  /** One line per request (method, path, status, time) and server-side errors; never headers or bodies. */
  log?: (line: string) => void;
  /**
   * A request's headers must arrive within this, and its whole body within twice this (else 408
   * and the connection is closed); default 10 s. Responses (event streams) are not limited.
   */
  requestTimeoutMs?: number;
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  token: string;
  /** Ends open event streams (clients see a drop and may reconnect elsewhere), then stops listening. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
export const DEFAULT_HEARTBEAT_MS = 15_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 2_000;
const MIN_TOKEN_LENGTH = 16;

export async function startServer(service: RunService, options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') {
    throw new SmltError(
      'OPTION_INVALID',
      `smlt serve listens on 127.0.0.1 only, not ${JSON.stringify(host)}: it starts processes and reads your ` +
        'notebooks, so no other machine may reach it. To use it from elsewhere, forward the port over SSH.',
    );
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new SmltError('OPTION_INVALID', `The port must be an integer from 0 to 65535 (got ${port}).`);
  }
  const token = options.token ?? randomBytes(32).toString('base64url');
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new SmltError('OPTION_INVALID', `The token must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces.`);
  }
  const allowedOrigins = new Set((options.allowedOrigins ?? []).map(normalizeOrigin));
  const handler = new Handler(service, options.sweeps, {
    tokenDigest: digest(token),
    allowedOrigins,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    log: options.log ?? (() => undefined),
  });
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server = createServer(
    {
      headersTimeout: requestTimeoutMs,
      requestTimeout: 2 * requestTimeoutMs,
      // Node checks the two limits on this interval (30 s by default, longer than the limits).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, requestTimeoutMs / 4)),
    },
    (req, res) => handler.handle(req, res),
  );
  await listen(server, port, host);
  handler.port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${handler.port}`,
    token,
    close: () => (closing ??= handler.closeAll(server)),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new SmltError(
          'OPTION_INVALID',
          err.code === 'EADDRINUSE'
            ? `Port ${port} is in use; choose another with --port, or 0 for any free port.`
            : `Cannot listen on ${host}:${port}: ${err.message}`,
          { cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch (err) {
    throw new SmltError('OPTION_INVALID', `Allowed origin ${JSON.stringify(origin)} is not a URL like http://localhost:8888.`, { cause: err });
  }
  if (url.origin === 'null' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new SmltError('OPTION_INVALID', `Allowed origin ${JSON.stringify(origin)} must be an http(s) origin like http://localhost:8888.`);
  }
  return url.origin;
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1' || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address);
}

/** The values of a header as the client sent them, one per occurrence. */
function rawHeaderValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === name) values.push(req.rawHeaders[i + 1]!);
  }
  return values;
}

/** A failure answered as-is, with the status and body it names. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ServeErrorCode | 'OPTION_INVALID',
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface HandlerConfig {
  tokenDigest: Buffer;
  allowedOrigins: Set<string>;
  maxBodyBytes: number;
  heartbeatMs: number;
  log: (line: string) => void;
}

type Route =
  | { name: 'estimate' | 'start' | 'list' | 'sweep-estimate' | 'sweep-start' | 'sweep-list' }
  | { name: 'get' | 'cancel' | 'resume' | 'artifacts' | 'events'; runId: string }
  | { name: 'sweep-get' | 'sweep-cancel' | 'sweep-resume' | 'sweep-events'; sweepId: string };

class Handler {
  port = 0;
  /** Open event streams: close() ends them first. */
  private readonly streams = new Map<AbortController, Promise<void>>();

  constructor(
    private readonly service: RunService,
    private readonly sweeps: SweepService | undefined,
    private readonly config: HandlerConfig,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const startedMs = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    res.once('close', () => {
      const ms = Math.round(performance.now() - startedMs);
      this.config.log(`${req.method} ${path} ${res.statusCode}${res.writableFinished ? '' : ' (connection closed)'} ${ms} ms`);
    });
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    this.route(req, res).catch((err: unknown) => this.fail(res, err));
  }

  async closeAll(server: Server): Promise<void> {
    for (const abort of this.streams.keys()) abort.abort();
    await Promise.all(this.streams.values());
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    cut.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(cut);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.checkCaller(req, res);
    if (req.method === 'OPTIONS') return this.preflight(req, res);
    this.checkToken(req);

    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.port}`);
    const route = matchRoute(req.method ?? 'GET', url.pathname);
    switch (route.name) {
      case 'estimate':
        return sendJson(res, 200, await this.service.estimate(await this.body(req, runRequestSchema)));
      case 'start': {
        const started = await this.service.start(await this.body(req, runRequestSchema));
        res.setHeader('location', `/v1/runs/${encodeURIComponent(started.runId)}`);
        return sendJson(res, 201, { runId: started.runId });
      }
      case 'list':
        return sendJson(res, 200, await this.service.list());
      case 'get':
        return sendJson(res, 200, await this.service.get(route.runId));
      case 'cancel':
        await this.body(req, emptyBodySchema);
        return sendJson(res, 200, await this.service.cancel(route.runId));
      case 'resume': {
        const body = await this.body(req, resumeBodySchema);
        return sendJson(res, 200, await this.service.resume(route.runId, body.force === undefined ? {} : { force: body.force }));
      }
      case 'artifacts':
        return sendJson(res, 200, await this.service.artifacts(route.runId));
      case 'events':
        // An unknown run is a 404 before the stream opens; afterwards errors travel as stream_error.
        await this.service.get(route.runId);
        return this.stream(req, res, route.runId, url, (fromSeq, signal) => this.service.events(route.runId, { fromSeq, signal }));
      default:
        return this.routeSweep(req, res, route, url);
    }
  }

  private async routeSweep(req: IncomingMessage, res: ServerResponse, route: Route, url: URL): Promise<void> {
    const sweeps = this.sweeps;
    if (!sweeps) throw new HttpError(404, 'ROUTE_NOT_FOUND', 'This smlt serve runs no sweeps.');
    switch (route.name) {
      case 'sweep-start': {
        const started = await sweeps.start(await this.body(req, sweepRequestSchema));
        res.setHeader('location', `/v1/sweeps/${encodeURIComponent(started.sweepId)}`);
        return sendJson(res, 201, started);
      }
      case 'sweep-estimate':
        return sendJson(res, 200, await sweeps.estimate(await this.body(req, sweepRequestSchema)));
      case 'sweep-list':
        return sendJson(res, 200, await sweeps.list());
      case 'sweep-get':
        return sendJson(res, 200, await sweeps.get(route.sweepId));
      case 'sweep-cancel':
        await this.body(req, emptyBodySchema);
        return sendJson(res, 200, await sweeps.cancel(route.sweepId));
      case 'sweep-resume':
        await this.body(req, emptyBodySchema);
        return sendJson(res, 200, await sweeps.resume(route.sweepId));
      case 'sweep-events':
        await sweeps.get(route.sweepId);
        return this.stream(req, res, route.sweepId, url, (fromSeq, signal) => sweeps.events(route.sweepId, { fromSeq, signal }));
    }
  }

  /** Loopback peer, our Host, and our (or an allowed) Origin: the DNS-rebinding defence. */
  private checkCaller(req: IncomingMessage, res: ServerResponse): void {
    if (!isLoopbackAddress(req.socket.remoteAddress)) {
      throw new HttpError(403, 'FORBIDDEN', 'smlt serve answers requests from this machine only.');
    }
    // Only origin-form targets ("/v1/runs"): an absolute-form one ("http://other.example/v1/runs")
    // names an authority of its own, which would take the Host header's place.
    if (!(req.url ?? '').startsWith('/')) {
      throw new HttpError(403, 'FORBIDDEN', 'The request target must be a path such as /v1/runs, not a URL naming another server.');
    }
    // One Host header, exactly our authority as sent (Node trims what it parses).
    const hosts = rawHeaderValues(req, 'host');
    const hostHeader = hosts.length === 1 ? hosts[0]!.toLowerCase() : '';
    if (hostHeader !== `127.0.0.1:${this.port}` && hostHeader !== `localhost:${this.port}`) {
      throw new HttpError(403, 'FORBIDDEN', `The Host header must be 127.0.0.1:${this.port} or localhost:${this.port}.`);
    }
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (origin === `http://127.0.0.1:${this.port}` || origin === `http://localhost:${this.port}`) return;
    if (!this.config.allowedOrigins.has(origin)) {
      throw new HttpError(403, 'FORBIDDEN', 'This origin may not call smlt serve; start it with the origin allowed.');
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'Location');
    res.setHeader('vary', 'Origin');
  }

  /** CORS preflight of an allowed origin (a browser sends no token with it). */
  private preflight(req: IncomingMessage, res: ServerResponse): void {
    if (!res.hasHeader('access-control-allow-origin')) {
      throw new HttpError(403, 'FORBIDDEN', 'Preflight requests are answered for allowed origins only.');
    }
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type, Last-Event-ID',
      'access-control-max-age': '600',
    });
    res.end();
    void req.resume();
  }

  private checkToken(req: IncomingMessage): void {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
    // Digests are the same length whatever was sent, so the comparison leaks neither the token nor its length.
    if (!match || !timingSafeEqual(digest(match[1]!), this.config.tokenDigest)) {
      const message = 'Send the token of smlt serve as "Authorization: Bearer <token>"; local clients find it in $SMLT_HOME/serve.json.';
      throw new HttpError(401, 'UNAUTHORIZED', message, undefined, { 'www-authenticate': 'Bearer realm="smlt"' });
    }
  }

  /** The JSON body, within the size limit, parsed by `schema`; no body counts as `{}`. */
  private async body<S extends z.ZodType>(req: IncomingMessage, schema: S): Promise<z.infer<S>> {
    const declared = req.headers['content-length'];
    const hasBody = (declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined;
    let value: unknown = {};
    if (hasBody) {
      const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (mediaType !== 'application/json') {
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON with "Content-Type: application/json".');
      }
      const text = await readBody(req, this.config.maxBodyBytes);
      try {
        value = JSON.parse(text);
      } catch {
        throw new HttpError(400, 'OPTION_INVALID', 'The request body is not valid JSON.', '');
      }
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const { field, message } = firstIssue(parsed.error);
      throw new HttpError(400, 'OPTION_INVALID', field ? `${field}: ${message}` : `The request body: ${message}`, field);
    }
    return parsed.data;
  }

  /** A run's or a sweep's events as Server-Sent Events, from `?fromSeq=` or `Last-Event-ID` on. */
  private async stream(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    url: URL,
    open: (fromSeq: number, signal: AbortSignal) => AsyncIterable<{ seq: number; type: string }>,
  ): Promise<void> {
    const fromSeq = resumePoint(req, url);

    const abort = new AbortController();
    let ended!: () => void;
    this.streams.set(abort, new Promise<void>((resolve) => (ended = resolve)));
    const onClose = () => abort.abort();
    res.once('close', onClose);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 1000\n${formatSseComment(`events of ${id} after seq ${fromSeq}`)}`);
    const heartbeat = setInterval(() => {
      if (!res.destroyed && !res.writableEnded) res.write(formatSseComment('heartbeat'));
    }, this.config.heartbeatMs);
    try {
      const events = open(fromSeq, abort.signal)[Symbol.asyncIterator]();
      for (;;) {
        const next = await untilAborted(events.next(), abort.signal);
        if (next === 'aborted') {
          // The generator may be parked waiting for a live event; its own signal check ends it.
          void events.return?.(undefined)?.catch(() => undefined);
          return;
        }
        if (next.done) break;
        const event = next.value;
        await write(res, formatSseMessage({ id: event.seq, event: event.type, data: JSON.stringify(event) }), abort.signal);
      }
      // The service ends after `run_finished` / `sweep_finished` (or when it stops following an orphan).
      if (!abort.signal.aborted) await write(res, formatSseMessage({ event: STREAM_END, data: '{}' }), abort.signal);
    } catch (err) {
      if (!abort.signal.aborted) {
        const { body } = this.errorResponse(err);
        await write(res, formatSseMessage({ event: STREAM_ERROR, data: JSON.stringify(body) }), abort.signal);
      }
    } finally {
      clearInterval(heartbeat);
      res.off('close', onClose);
      res.end();
      this.streams.delete(abort);
      ended();
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, body, headers } = this.errorResponse(err);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (status === 413) res.setHeader('connection', 'close');
    sendJson(res, status, body);
  }

  private errorResponse(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
    if (err instanceof HttpError) {
      const field = err.field === undefined ? {} : { field: err.field };
      return { status: err.status, body: { error: { code: err.code, message: err.message, ...field } }, headers: err.headers };
    }
    if (isSmltError(err) && isSmltErrorCode(err.code)) {
      return { status: STATUS_BY_CODE[err.code], body: { error: { code: err.code, message: err.message } }, headers: {} };
    }
    this.config.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return {
      status: 500,
      body: { error: { code: 'INTERNAL', message: 'smlt serve failed unexpectedly; the server log has the details.' } },
      headers: {},
    };
  }
}

function matchRoute(method: string, pathname: string): Route {
  const parts = pathname.split('/').slice(1);
  const allow = (methods: string[]): void => {
    if (!methods.includes(method)) {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${pathname} answers ${methods.join(' and ')}.`, undefined, { allow: methods.join(', ') });
    }
  };
  if (parts[0] === 'v1' && parts.length === 2 && parts[1] === 'estimate') {
    allow(['POST']);
    return { name: 'estimate' };
  }
  if (parts[0] === 'v1' && parts[1] === 'runs') {
    if (parts.length === 2) {
      allow(['GET', 'POST']);
      return { name: method === 'GET' ? 'list' : 'start' };
    }
    const action = parts.length === 3 ? 'get' : parts.length === 4 ? parts[3] : undefined;
    const methodOf = { get: 'GET', cancel: 'POST', resume: 'POST', artifacts: 'GET', events: 'GET' } as const;
    if (action !== undefined && Object.hasOwn(methodOf, action)) {
      const name = action as keyof typeof methodOf;
      allow([methodOf[name]]);
      return { name, runId: runIdOf(parts[2]!) };
    }
  }
  if (parts[0] === 'v1' && parts[1] === 'sweeps') {
    if (parts.length === 2) {
      allow(['GET', 'POST']);
      return { name: method === 'GET' ? 'sweep-list' : 'sweep-start' };
    }
    if (parts.length === 3 && parts[2] === 'estimate') {
      allow(['POST']);
      return { name: 'sweep-estimate' };
    }
    const action = parts.length === 3 ? 'get' : parts.length === 4 ? parts[3] : undefined;
    const methodOf = { get: 'GET', cancel: 'POST', resume: 'POST', events: 'GET' } as const;
    if (action !== undefined && Object.hasOwn(methodOf, action)) {
      const name = action as keyof typeof methodOf;
      allow([methodOf[name]]);
      return { name: `sweep-${name}`, sweepId: runIdOf(parts[2]!) };
    }
  }
  throw new HttpError(404, 'ROUTE_NOT_FOUND', `No route ${pathname}; the API is under /v1 (estimate, runs, sweeps).`);
}

function runIdOf(segment: string): string {
  let runId: string;
  try {
    runId = decodeURIComponent(segment);
  } catch {
    runId = segment;
  }
  const parsed = runIdSchema.safeParse(runId);
  if (!parsed.success) throw new HttpError(400, 'OPTION_INVALID', `runId: ${parsed.error.issues[0]!.message}`, 'runId');
  return parsed.data;
}

/** `Last-Event-ID` (what a reconnecting client last saw) wins over `?fromSeq=`. */
function resumePoint(req: IncomingMessage, url: URL): number {
  const header = req.headers['last-event-id'];
  const [field, raw] = typeof header === 'string' && header.trim() !== '' ? ['Last-Event-ID', header] : ['fromSeq', url.searchParams.get('fromSeq')];
  if (raw === null || raw.trim() === '') return 0;
  const parsed = seqSchema.safeParse(raw.trim());
  if (!parsed.success) throw new HttpError(400, 'OPTION_INVALID', `${field}: must be a whole number of 0 or more`, field);
  return parsed.data;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body is over the ${Math.round(maxBytes / 1024 / 1024)} MiB limit.`);
  // Refused bodies are not read to the end: the 413 goes out with "Connection: close".
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Writes with backpressure: a slow reader holds its own stream back, not the server's memory.
 * Resolves early when the stream is aborted, so close() never waits on a reader that stopped reading.
 */
function write(res: ServerResponse, chunk: string, signal: AbortSignal): Promise<void> {
  if (res.destroyed || res.writableEnded || signal.aborted) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | 'aborted'> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve('aborted');
  }
  return new Promise<T | 'aborted'>((resolve, reject) => {
    const onAbort = () => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
