/**
 * `smlt serve`'s HTTP protocol against a real server on a real socket. The RunService behind it
 * is an in-memory double: these tests are about auth, routing, errors and the event stream, not
 * about training (an end-to-end test drives the real service).
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SmltError, isSmltError } from '@smlt/shared/errors';
import type { RunEvent, RunEventBody } from '@smlt/shared/run/events';
import { RunServiceClient, ServeError } from '@smlt/shared/serve/client';
import { firstIssue, runRequestSchema } from '@smlt/shared/serve/schemas';
import { type RunningServer, type ServerOptions, isLoopbackAddress, startServer } from '@smlt/shared/serve/server';
import { parseSse } from '@smlt/shared/serve/sse';
import { readServeInfo, removeServeInfo, writeServeInfo } from '@smlt/shared/serve/token-file';
import type { Estimate, RunArtifacts, RunRequest, RunService, RunSummary } from '@smlt/shared/service/run-service';

// ---------------------------------------------------------------------------------------------
// The double: runs are arrays of events; followers wait for the next emit.

interface FakeRun {
  summary: RunSummary;
  events: RunEvent[];
  /** Ends a follower's iteration when it has caught up (a run no process drives any more). */
  orphaned: boolean;
  /** events() throws this after replaying the events before it. */
  failAfterSeq?: { seq: number; error: Error };
}

class FakeRunService implements RunService {
  readonly runs = new Map<string, FakeRun>();
  readonly requests: RunRequest[] = [];
  openStreams = 0;
  abortedStreams = 0;
  private changed = new Set<() => void>();
  private started = 0;

  addRun(runId: string): FakeRun {
    const run: FakeRun = {
      summary: { runId, name: runId, createdAt: new Date(0).toISOString(), status: 'running', epochsDone: 0, epochs: 2, costUsd: 0, elapsedS: 0 },
      events: [],
      orphaned: false,
    };
    this.runs.set(runId, run);
    return run;
  }

  emit(runId: string, body: RunEventBody): RunEvent {
    const run = this.mustGet(runId);
    const event = { ...body, v: 1, seq: run.events.length + 1, time: new Date().toISOString(), runId } as RunEvent;
    run.events.push(event);
    if (body.type === 'run_finished') run.summary.status = body.status;
    this.notify();
    return event;
  }

  notify(): void {
    const waiters = this.changed;
    this.changed = new Set();
    for (const wake of waiters) wake();
  }

  async estimate(request: RunRequest): Promise<Estimate> {
    this.requests.push(request);
    this.failFor(request);
    return {
      workers: request.workers ?? 4,
      memoryMb: request.memoryMb ?? 1769,
      iterationsPerEpoch: 10,
      probe: { steps: 3, seconds: 0.1, costUsd: 0 },
      epochs: 2,
      timeS: { expected: 10, low: 8, high: 12 },
      costUsd: { expected: 0.01, low: 0.008, high: 0.012 },
      computeMsPerSample: 0.5,
      feasible: true,
    };
  }

  async start(request: RunRequest): Promise<{ runId: string }> {
    this.requests.push(request);
    this.failFor(request);
    const runId = `started-${++this.started}`;
    this.addRun(runId);
    return { runId };
  }

  async *events(runId: string, options: { fromSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<RunEvent> {
    const run = this.mustGet(runId);
    const { signal } = options;
    let seq = options.fromSeq ?? 0;
    this.openStreams += 1;
    try {
      for (;;) {
        while (seq < run.events.length) {
          if (run.failAfterSeq && seq >= run.failAfterSeq.seq) throw run.failAfterSeq.error;
          const event = run.events[seq]!;
          seq += 1;
          yield event;
          if (event.type === 'run_finished') return;
        }
        // Caught up with a run that is over, or that nothing drives any more: nothing will follow.
        if (run.orphaned || run.summary.status !== 'running' || signal?.aborted) return;
        await new Promise<void>((resolve) => {
          const wake = () => {
            signal?.removeEventListener('abort', wake);
            this.changed.delete(wake);
            resolve();
          };
          this.changed.add(wake);
          signal?.addEventListener('abort', wake, { once: true });
        });
      }
    } finally {
      this.openStreams -= 1;
      if (signal?.aborted) this.abortedStreams += 1;
    }
  }

  async cancel(runId: string): Promise<{ outcome: 'requested' | 'cancelled' | 'finished' }> {
    const run = this.mustGet(runId);
    return { outcome: run.summary.status === 'running' ? 'requested' : 'finished' };
  }

  async list(): Promise<RunSummary[]> {
    return [...this.runs.values()].map((r) => r.summary);
  }

  async get(runId: string): Promise<RunSummary> {
    return this.mustGet(runId).summary;
  }

  async resume(runId: string, options: { force?: boolean } = {}): Promise<{ runId: string; fromSeq: number }> {
    const run = this.mustGet(runId);
    if (run.summary.status === 'running' && !options.force) throw new SmltError('RUN_BUSY', `Run ${runId} is still running; pass force to take it over.`);
    return { runId, fromSeq: run.events.length };
  }

  async artifacts(runId: string): Promise<RunArtifacts> {
    this.mustGet(runId);
    return { runId, outDir: `/runs/${runId}`, modelPath: `/runs/${runId}/model/model.json` };
  }

  private mustGet(runId: string): FakeRun {
    const run = this.runs.get(runId);
    if (!run) throw new SmltError('RUN_NOT_FOUND', `No run "${runId}" is known.`);
    return run;
  }

  private failFor(request: RunRequest): void {
    const path = 'path' in request.source ? request.source.path : '';
    if (path.endsWith('bad.ipynb')) throw new SmltError('NOTEBOOK_INVALID', 'bad.ipynb has no cell tagged smlt:model.');
    if (path.endsWith('crash.ipynb')) throw new Error('secret internal detail at /home/someone');
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

const progress = (i: number): RunEventBody => ({ type: 'progress', epoch: 0, iteration: i, iterations: 100, loss: 1 / i });
const finished: RunEventBody = { type: 'run_finished', status: 'succeeded', durationS: 1, costUsd: 0.001 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/**
 * Bytes written to the server as they are (no client to tidy them up); resolves with what came
 * back once the server closes the connection or `settleMs` pass without more.
 */
function rawBytes(server: { url: string }, bytes: string, settleMs = 1_000): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    let timer = setTimeout(() => socket.destroy(), settleMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), settleMs);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', reject);
  });
}

/** node:http, not fetch: fetch will not let us forge Host or Origin. */
function raw(
  server: { url: string },
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean },
): Promise<RawResponse> {
  const url = new URL(options.path, server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined && options.chunked) {
      // Streamed in pieces with no Content-Length: the limit must hold while reading.
      const body = Buffer.from(options.body);
      let offset = 0;
      const pump = () => {
        while (offset < body.length) {
          const piece = body.subarray(offset, offset + 1024 * 1024);
          offset += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('error', () => undefined);
      pump();
    } else {
      req.end(options.body);
    }
  });
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (token: string) => ({ ...auth(token), 'content-type': 'application/json' });

async function collect(iterable: AsyncIterable<RunEvent>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const event of iterable) seqs.push(event.seq);
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Reads a finished run's stream to its end and parses it. */
async function readStream(server: RunningServer, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, server.url), { headers: { ...auth(server.token), ...headers } });
  const text = await response.text();
  const messages = [];
  for await (const m of parseSse([new TextEncoder().encode(text)])) messages.push(m);
  return { response, text, messages };
}

// ---------------------------------------------------------------------------------------------

describe('smlt serve', () => {
  let service: FakeRunService;
  let server: RunningServer;
  let client: RunServiceClient;
  const logs: string[] = [];
  const serverOptions: ServerOptions = { log: (line) => logs.push(line), heartbeatMs: 50, allowedOrigins: ['http://localhost:8888'] };

  before(async () => {
    service = new FakeRunService();
    const done = service.addRun('done-run');
    for (let i = 1; i <= 6; i++) service.emit('done-run', progress(i));
    service.emit('done-run', finished);
    done.summary.status = 'succeeded';
    server = await startServer(service, serverOptions);
    client = new RunServiceClient({ url: server.url, token: server.token, reconnect: { initialDelayMs: 10 } });
  });
  after(async () => {
    await server.close();
    // The token never reaches a log line.
    assert.ok(logs.length > 0);
    for (const line of logs) assert.ok(!line.includes(server.token), `the token leaked into the log: ${line}`);
  });

  describe('who may call', () => {
    it('listens on 127.0.0.1 with a fresh 32-byte token, and refuses any other host', async () => {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(Buffer.from(server.token, 'base64url').length, 32);
      for (const host of ['0.0.0.0', '::', '192.168.1.10', 'localhost']) {
        await assert.rejects(startServer(service, { host }), (err: unknown) => isSmltError(err, 'OPTION_INVALID') && /127\.0\.0\.1 only/.test((err as Error).message));
      }
      await assert.rejects(startServer(service, { token: 'short' }), (err: unknown) => isSmltError(err, 'OPTION_INVALID'));
    });

    it('answers 401 without the token or with a wrong one', async () => {
      const wrong = server.token.slice(0, -1) + (server.token.endsWith('A') ? 'B' : 'A');
      const attempts: Record<string, string>[] = [{}, { authorization: `Bearer ${wrong}` }, { authorization: 'Bearer x' }, { authorization: `Basic ${server.token}` }, { authorization: server.token }];
      for (const headers of attempts) {
        const res = await raw(server, { path: '/v1/runs', headers });
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(res.json.error.code, 'UNAUTHORIZED');
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="smlt"');
        assert.ok(!res.text.includes(server.token));
      }
      const ok = await raw(server, { path: '/v1/runs', headers: { authorization: `bearer ${server.token}` } });
      assert.equal(ok.status, 200);
      // The client surfaces it as a ServeError with the status.
      const stranger = new RunServiceClient({ url: server.url, token: wrong });
      await assert.rejects(stranger.list(), (err: unknown) => err instanceof ServeError && err.code === 'UNAUTHORIZED' && err.status === 401);
    });

    it('answers 403 to a foreign Host, even with the token (DNS rebinding)', async () => {
      const port = new URL(server.url).port;
      for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, `localhost`, `[::1]:${port}`]) {
        const res = await raw(server, { path: '/v1/runs', headers: { ...auth(server.token), host } });
        assert.equal(res.status, 403, host);
        assert.equal(res.json.error.code, 'FORBIDDEN');
      }
      for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`]) {
        assert.equal((await raw(server, { path: '/v1/runs', headers: { ...auth(server.token), host } })).status, 200, host);
      }
    });

    it('answers 403 to an absolute-form target naming another server, and to a repeated Host', async () => {
      const port = new URL(server.url).port;
      const bearer = `Authorization: Bearer ${server.token}\r\n`;
      for (const target of ['http://evil.example/v1/runs', `http://127.0.0.1:${port}/v1/runs`, '*']) {
        const reply = await rawBytes(server, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${bearer}Connection: close\r\n\r\n`);
        assert.match(reply, /^HTTP\/1\.1 (403|400) /, `${target}: ${reply.slice(0, 80)}`);
        assert.ok(!reply.includes('"runs"') && !reply.includes('done-run'), `${target} was answered with runs`);
      }
      const twice = await rawBytes(server, `GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\n${bearer}Connection: close\r\n\r\n`);
      assert.match(twice, /^HTTP\/1\.1 (403|400) /);
      const ok = await rawBytes(server, `GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${bearer}Connection: close\r\n\r\n`);
      assert.match(ok, /^HTTP\/1\.1 200 /);
    });

    it('answers 408 and closes a request whose body never arrives in full', { timeout: 30_000 }, async () => {
      const slow = await startServer(service, { requestTimeoutMs: 300 });
      try {
        const port = new URL(slow.url).port;
        // Content-Length promises 100 bytes; 10 come, then nothing.
        const reply = await rawBytes(slow, `POST /v1/estimate HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${slow.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"source":`, 10_000);
        assert.match(reply, /^HTTP\/1\.1 408 /);
        // Headers that never end are cut off the same way.
        const headers = await rawBytes(slow, `GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: 1\r\n`, 10_000);
        assert.match(headers, /^HTTP\/1\.1 408 /);
      } finally {
        await slow.close();
      }
    });

    it('answers 403 to a foreign Origin, and lets an allowed one through with CORS', async () => {
      const port = new URL(server.url).port;
      for (const origin of ['http://evil.example', `http://evil.example:${port}`, `http://localhost:${Number(port) + 1}`, 'null', `https://127.0.0.1:${port}`]) {
        const res = await raw(server, { path: '/v1/runs', headers: { ...auth(server.token), origin } });
        assert.equal(res.status, 403, origin);
      }
      const same = await raw(server, { path: '/v1/runs', headers: { ...auth(server.token), origin: `http://localhost:${port}` } });
      assert.equal(same.status, 200);
      assert.equal(same.headers['access-control-allow-origin'], undefined);

      const allowed = await raw(server, { path: '/v1/runs', headers: { ...auth(server.token), origin: 'http://localhost:8888' } });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['access-control-allow-origin'], 'http://localhost:8888');
      const preflight = await raw(server, {
        method: 'OPTIONS',
        path: '/v1/runs',
        headers: { origin: 'http://localhost:8888', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 204);
      assert.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
      const foreignPreflight = await raw(server, { method: 'OPTIONS', path: '/v1/runs', headers: { origin: 'http://evil.example' } });
      assert.equal(foreignPreflight.status, 403);
    });

    it('knows a loopback peer from any other', () => {
      for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
      for (const a of [undefined, '', '10.0.0.1', '192.168.0.2', '::ffff:10.0.0.1', '128.0.0.1', 'fe80::1']) assert.ok(!isLoopbackAddress(a), String(a));
    });
  });

  describe('requests and errors', () => {
    it('serves every RunService method through the client', async () => {
      const estimate = await client.estimate({ source: { path: '/nb/mnist.ipynb' }, workers: 8 });
      assert.equal(estimate.workers, 8);
      const { runId } = await client.start({ source: { path: '/nb/mnist.ipynb' }, overrides: { epochs: 3 }, memoryMb: 2048 });
      assert.match(runId, /^started-\d+$/);
      assert.deepEqual(service.requests.at(-1), { source: { path: '/nb/mnist.ipynb' }, overrides: { epochs: 3 }, memoryMb: 2048 });
      assert.equal((await client.get(runId)).status, 'running');
      assert.ok((await client.list()).some((r) => r.runId === runId));
      assert.deepEqual(await client.cancel(runId), { outcome: 'requested' });
      assert.deepEqual(await client.resume('done-run'), { runId: 'done-run', fromSeq: 7 });
      assert.deepEqual(await client.resume(runId, { force: true }), { runId, fromSeq: 0 });
      assert.equal((await client.artifacts('done-run')).modelPath, '/runs/done-run/model/model.json');

      const created = await raw(server, { method: 'POST', path: '/v1/runs', headers: json(server.token), body: JSON.stringify({ source: { path: '/nb/a.ipynb' } }) });
      assert.equal(created.status, 201);
      assert.equal(created.headers.location, `/v1/runs/${created.json.runId}`);
      assert.match(String(created.headers['content-type']), /^application\/json/);
    });

    it('sends an in-memory notebook of several MB, and absolute paths for relative ones', async () => {
      const notebook = { cells: [{ cell_type: 'code', source: 'x'.repeat(5 * 1024 * 1024), metadata: {} }], nbformat: 4 };
      await client.start({ source: { notebook, notebookDir: 'examples', name: 'big' } });
      const sent = service.requests.at(-1)!.source as { notebook: typeof notebook; notebookDir: string };
      assert.equal(sent.notebook.cells[0]!.source.length, 5 * 1024 * 1024);
      assert.equal(sent.notebookDir, join(process.cwd(), 'examples'));
      await client.estimate({ source: { path: 'examples/mnist.ipynb' }, outDir: 'out' });
      assert.deepEqual(service.requests.at(-1), { source: { path: join(process.cwd(), 'examples/mnist.ipynb') }, outDir: join(process.cwd(), 'out') });
    });

    it('rejects a bad request with 400 OPTION_INVALID naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        [{ source: { path: 5 } }, 'source.path'],
        [{ source: { path: 'relative.ipynb' } }, 'source.path'],
        [{ source: { notebook: {}, notebookDir: '/nb' } }, 'source.name'],
        [{ source: { notebook: 'not an object', notebookDir: '/nb', name: 'n' } }, 'source.notebook'],
        [{ source: {} }, 'source.path'],
        [{ source: { path: '/a.ipynb' }, workers: 0 }, 'workers'],
        [{ source: { path: '/a.ipynb' }, workers: 2.5 }, 'workers'],
        [{ source: { path: '/a.ipynb' }, overrides: { epochs: 0 } }, 'overrides.epochs'],
        [{ source: { path: '/a.ipynb' }, overrides: { learningRate: 1 } }, 'overrides.learningRate'],
        [{ source: { path: '/a.ipynb' }, wrokers: 4 }, 'wrokers'],
        [{ source: { path: '/a.ipynb' }, sync: 'ring' }, 'sync'],
        [{ source: { path: '/a.ipynb' }, outDir: 'out' }, 'outDir'],
        [{}, 'source'],
        [[1, 2], ''],
      ];
      for (const [body, field] of cases) {
        const res = await raw(server, { method: 'POST', path: '/v1/runs', headers: json(server.token), body: JSON.stringify(body) });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.json.error.code, 'OPTION_INVALID');
        assert.equal(res.json.error.field, field, `${JSON.stringify(body)}: ${res.json.error.message}`);
        if (field) assert.ok(res.json.error.message.startsWith(`${field}: `), res.json.error.message);
      }
      const resume = await raw(server, { method: 'POST', path: '/v1/runs/done-run/resume', headers: json(server.token), body: '{"force":"yes"}' });
      assert.equal(resume.json.error.field, 'force');
      const notJson = await raw(server, { method: 'POST', path: '/v1/estimate', headers: json(server.token), body: '{"source":' });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.json.error.code, 'OPTION_INVALID');
      const form = await raw(server, { method: 'POST', path: '/v1/estimate', headers: { ...auth(server.token), 'content-type': 'text/plain' }, body: '{}' });
      assert.equal(form.status, 415);
      // The same schema serves clients, with the same field names.
      const parsed = runRequestSchema.safeParse({ source: { path: '/a.ipynb' }, memoryMb: 64 });
      assert.ok(!parsed.success);
      assert.equal(firstIssue(parsed.error).field, 'memoryMb');
      // Through the client it is a SmltError, as from a local service.
      await assert.rejects(client.start({ source: { path: '/a.ipynb' }, workers: -1 }), (err: unknown) => isSmltError(err, 'OPTION_INVALID') && /^workers: /.test((err as Error).message));
    });

    it('maps service errors to statuses, keeping code and message, and hides unexpected ones', async () => {
      const missing = await raw(server, { path: '/v1/runs/nope', headers: auth(server.token) });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.json, { error: { code: 'RUN_NOT_FOUND', message: 'No run "nope" is known.' } });
      const busy = await raw(server, { method: 'POST', path: '/v1/runs/started-1/resume', headers: auth(server.token) });
      assert.equal(busy.status, 409);
      assert.equal(busy.json.error.code, 'RUN_BUSY');
      const bad = await raw(server, { method: 'POST', path: '/v1/estimate', headers: json(server.token), body: JSON.stringify({ source: { path: '/nb/bad.ipynb' } }) });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'NOTEBOOK_INVALID');
      const crash = await raw(server, { method: 'POST', path: '/v1/runs', headers: json(server.token), body: JSON.stringify({ source: { path: '/nb/crash.ipynb' } }) });
      assert.equal(crash.status, 500);
      assert.equal(crash.json.error.code, 'INTERNAL');
      assert.ok(!crash.text.includes('secret') && !crash.text.includes(' at '), crash.text);
      assert.ok(logs.some((l) => l.includes('secret internal detail')), 'the server log keeps the detail');

      assert.equal((await raw(server, { path: '/v2/runs', headers: auth(server.token) })).status, 404);
      const wrongMethod = await raw(server, { method: 'DELETE', path: '/v1/runs/done-run', headers: auth(server.token) });
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.allow, 'GET');
      const traversal = await raw(server, { path: '/v1/runs/..%2F..%2Fetc/artifacts', headers: auth(server.token) });
      assert.equal(traversal.status, 400);
      assert.equal(traversal.json.error.field, 'runId');

      await assert.rejects(client.get('nope'), (err: unknown) => err instanceof SmltError && err.code === 'RUN_NOT_FOUND' && err.message === 'No run "nope" is known.');
      await assert.rejects(client.resume('started-1'), (err: unknown) => isSmltError(err, 'RUN_BUSY'));
      await assert.rejects(client.estimate({ source: { path: '/nb/bad.ipynb' } }), (err: unknown) => isSmltError(err, 'NOTEBOOK_INVALID'));
      await assert.rejects(client.start({ source: { path: '/nb/crash.ipynb' } }), (err: unknown) => err instanceof ServeError && err.code === 'INTERNAL' && err.status === 500);
    });

    it('answers 413 to a body over 20 MiB, declared or streamed', async () => {
      const big = JSON.stringify({ source: { notebook: { pad: 'x'.repeat(21 * 1024 * 1024) }, notebookDir: '/nb', name: 'big' } });
      const declared = await raw(server, { method: 'POST', path: '/v1/runs', headers: json(server.token), body: big });
      assert.equal(declared.status, 413);
      assert.equal(declared.json.error.code, 'PAYLOAD_TOO_LARGE');
      const streamed = await raw(server, { method: 'POST', path: '/v1/runs', headers: json(server.token), body: big, chunked: true });
      assert.equal(streamed.status, 413);
      await assert.rejects(
        client.start({ source: { notebook: { pad: 'x'.repeat(21 * 1024 * 1024) }, notebookDir: '/nb', name: 'big' } }),
        (err: unknown) => err instanceof ServeError && err.status === 413,
      );
      // The server is fine afterwards.
      assert.equal((await raw(server, { path: '/v1/runs', headers: auth(server.token) })).status, 200);
    });
  });

  describe('the event stream', () => {
    it('replays a finished run as SSE (id, event, data) and ends after run_finished', async () => {
      const { response, text, messages } = await readStream(server, '/v1/runs/done-run/events');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
      assert.match(text, /^retry: 1000\n/);
      assert.ok(text.includes('id: 3\nevent: progress\ndata: {'), text.slice(0, 400));
      const runEvents = messages.filter((m) => m.id !== undefined);
      assert.deepEqual(runEvents.map((m) => Number(m.id)), range(1, 7));
      assert.deepEqual(runEvents.map((m) => JSON.parse(m.data).seq), range(1, 7));
      assert.equal(runEvents.at(-1)!.event, 'run_finished');
      assert.equal(messages.at(-1)!.event, 'stream_end');
    });

    it('replays from ?fromSeq= and resumes after Last-Event-ID, the header winning', async () => {
      const seqsOf = (messages: Array<{ id?: string }>) => messages.filter((m) => m.id !== undefined).map((m) => Number(m.id));
      assert.deepEqual(seqsOf((await readStream(server, '/v1/runs/done-run/events?fromSeq=4')).messages), [5, 6, 7]);
      assert.deepEqual(seqsOf((await readStream(server, '/v1/runs/done-run/events', { 'last-event-id': '5' })).messages), [6, 7]);
      assert.deepEqual(seqsOf((await readStream(server, '/v1/runs/done-run/events?fromSeq=1', { 'last-event-id': '6' })).messages), [7]);
      assert.deepEqual(seqsOf((await readStream(server, '/v1/runs/done-run/events?fromSeq=7')).messages), []);
      assert.deepEqual(await collect(client.events('done-run', { fromSeq: 2 })), range(3, 7));

      const bad = await raw(server, { path: '/v1/runs/done-run/events?fromSeq=-1', headers: auth(server.token) });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.field, 'fromSeq');
      const badHeader = await raw(server, { path: '/v1/runs/done-run/events', headers: { ...auth(server.token), 'last-event-id': 'abc' } });
      assert.equal(badHeader.json.error.field, 'Last-Event-ID');
      const missing = await raw(server, { path: '/v1/runs/nope/events', headers: auth(server.token) });
      assert.equal(missing.status, 404);
      await assert.rejects(collect(client.events('nope')), (err: unknown) => isSmltError(err, 'RUN_NOT_FOUND'));
    });

    it('follows a live run, with heartbeats while it is quiet', async () => {
      service.addRun('live');
      service.emit('live', progress(1));
      const response = await fetch(new URL('/v1/runs/live/events', server.url), { headers: auth(server.token) });
      const reader = response.body!.getReader();
      let text = '';
      const readUntil = async (needle: string) => {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}`);
          text += Buffer.from(value).toString('utf8');
        }
      };
      await readUntil('id: 1\n');
      await readUntil(': heartbeat\n');
      service.emit('live', progress(2));
      await readUntil('id: 2\n');
      service.emit('live', finished);
      await readUntil('event: stream_end');
      assert.equal((await reader.read()).done, true);
    });

    it('stops the service iteration when the client goes away', async () => {
      service.addRun('abandoned');
      service.emit('abandoned', progress(1));
      const aborted = service.abortedStreams;
      const stop = new AbortController();
      const seen: number[] = [];
      for await (const event of client.events('abandoned', { signal: stop.signal })) {
        seen.push(event.seq);
        stop.abort();
      }
      assert.deepEqual(seen, [1]);
      const deadline = Date.now() + 2_000;
      while (service.abortedStreams === aborted && Date.now() < deadline) await sleep(10);
      assert.equal(service.abortedStreams, aborted + 1, 'the server aborted the service iteration');

      // Breaking out of the loop closes the connection too.
      for await (const event of client.events('abandoned')) {
        assert.equal(event.seq, 1);
        break;
      }
      while (service.abortedStreams === aborted + 1 && Date.now() < deadline + 2_000) await sleep(10);
      assert.equal(service.abortedStreams, aborted + 2);
    });

    it('ends cleanly when the service stops following an orphaned run', async () => {
      const run = service.addRun('orphan');
      service.emit('orphan', progress(1));
      run.orphaned = true;
      assert.deepEqual(await collect(client.events('orphan')), [1]);
    });

    it('passes a failure of the service mid-stream to the client as the same SmltError', async () => {
      const run = service.addRun('broken');
      for (let i = 1; i <= 3; i++) service.emit('broken', progress(i));
      run.failAfterSeq = { seq: 2, error: new SmltError('STORE_ERROR', 'The store folder vanished.') };
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of client.events('broken')) seen.push(event.seq);
        })(),
        (err: unknown) => isSmltError(err, 'STORE_ERROR') && (err as Error).message === 'The store folder vanished.',
      );
      assert.deepEqual(seen, [1, 2]);
    });

    it('reconnects with Last-Event-ID when the connection drops mid-event, yielding each seq once', async () => {
      service.addRun('flaky');
      for (let i = 1; i <= 10; i++) service.emit('flaky', progress(i));
      // A network that cuts every connection 4 events in, in the middle of the 5th event.
      const lastEventIds: Array<string | null> = [];
      const cutting: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).includes('/events')) return response;
        lastEventIds.push(new Headers(init?.headers).get('last-event-id'));
        return new Response(cutAfterEvents(response.body!, 4), { status: response.status, headers: response.headers });
      };
      const flaky = new RunServiceClient({ url: server.url, token: server.token, fetch: cutting, reconnect: { initialDelayMs: 5 } });
      const following = collect(flaky.events('flaky'));
      for (let i = 11; i <= 25; i++) {
        await sleep(5);
        service.emit('flaky', progress(i));
      }
      service.emit('flaky', finished);
      assert.deepEqual(await following, range(1, 26));
      assert.ok(lastEventIds.length >= 6, `reconnected ${lastEventIds.length - 1} times`);
      assert.equal(lastEventIds[0], '0');
      assert.equal(lastEventIds[1], '4');
      const ids = lastEventIds.map(Number);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'each reconnection resumes after the last event seen');
    });

    it('reconnects when a stream goes silent (no event, no heartbeat) for idleTimeoutMs', async () => {
      service.addRun('silent');
      for (let i = 1; i <= 3; i++) service.emit('silent', progress(i));
      service.emit('silent', finished);
      let connections = 0;
      // The first connection delivers one event, then nothing at all: a half-dead TCP connection.
      const stalling: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).includes('/events') || connections++ > 0) return response;
        const reader = response.body!.getReader();
        let text = '';
        let stalled = false;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (stalled) return new Promise<void>(() => undefined);
            while (!/id: 1\n[^]*?\n\n/.test(text)) text += Buffer.from((await reader.read()).value!).toString('utf8');
            const end = /id: 1\n[^]*?\n\n/.exec(text)!;
            controller.enqueue(new TextEncoder().encode(text.slice(0, end.index + end[0].length)));
            stalled = true;
          },
          cancel: () => reader.cancel(),
        });
        return new Response(body, { status: response.status, headers: response.headers });
      };
      const follower = new RunServiceClient({ url: server.url, token: server.token, fetch: stalling, reconnect: { initialDelayMs: 5, idleTimeoutMs: 150 } });
      assert.deepEqual(await collect(follower.events('silent')), range(1, 4));
      assert.equal(connections, 2);
    });

    it('rides out a server restart on the same port', async () => {
      const own = new FakeRunService();
      own.addRun('restart');
      const first = await startServer(own, { heartbeatMs: 50 });
      const port = Number(new URL(first.url).port);
      const follower = new RunServiceClient({ url: first.url, token: first.token, reconnect: { initialDelayMs: 20, maxDelayMs: 100, retries: 20 } });
      const seen: number[] = [];
      const following = (async () => {
        for await (const event of follower.events('restart')) seen.push(event.seq);
      })();
      for (let i = 1; i <= 5; i++) own.emit('restart', progress(i));
      while (seen.length < 5) await sleep(5);

      await first.close();
      for (let i = 6; i <= 8; i++) own.emit('restart', progress(i)); // while nobody serves
      await sleep(150);
      const second = await startServer(own, { port, token: first.token, heartbeatMs: 50 });
      try {
        for (let i = 9; i <= 12; i++) own.emit('restart', progress(i));
        own.emit('restart', finished);
        await following;
        assert.deepEqual(seen, range(1, 13));
      } finally {
        await second.close();
      }
    });

    it('gives up after its retries when the server stays away', async () => {
      const own = new FakeRunService();
      own.addRun('gone');
      const gone = await startServer(own, {});
      const follower = new RunServiceClient({ url: gone.url, token: gone.token, reconnect: { initialDelayMs: 5, maxDelayMs: 10, retries: 3 } });
      own.emit('gone', progress(1));
      const seen: number[] = [];
      const following = (async () => {
        for await (const event of follower.events('gone')) {
          seen.push(event.seq);
          if (event.seq === 1) void gone.close();
        }
      })();
      await assert.rejects(following, (err: unknown) => err instanceof ServeError && err.code === 'STREAM_LOST' && /after seq 1/.test(err.message));
      assert.deepEqual(seen, [1]);
    });

    it('serves 50 clients following one run, each receiving every event once', async () => {
      service.addRun('crowd');
      service.emit('crowd', progress(1));
      const followers = Array.from({ length: 50 }, () => collect(client.events('crowd')));
      while (service.openStreams < 50) await sleep(5);
      for (let i = 2; i <= 30; i++) {
        service.emit('crowd', progress(i));
        if (i % 5 === 0) await sleep(5);
      }
      service.emit('crowd', finished);
      const results = await Promise.all(followers);
      for (const seqs of results) assert.deepEqual(seqs, range(1, 31));
    });

    it('ends open streams when the server closes', async () => {
      const own = new FakeRunService();
      own.addRun('open');
      const closing = await startServer(own, {});
      const response = await fetch(new URL('/v1/runs/open/events', closing.url), { headers: auth(closing.token) });
      assert.equal(response.status, 200);
      while (own.openStreams < 1) await sleep(5);
      await closing.close();
      const text = await response.text();
      assert.ok(!text.includes('stream_end'), 'a closing server does not claim the run is over');
      assert.equal(own.openStreams, 0);
    });
  });
});

describe('the client on kept-alive connections', () => {
  it('retries a request whose pooled connection the server had just closed, and names a refused one', async () => {
    const server = createServer((_req, res) => res.setHeader('content-type', 'application/json').end('[]'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = new RunServiceClient({ url: `http://127.0.0.1:${port}`, token: 't' });
    try {
      for (let i = 0; i < 5; i++) {
        await client.list();
        // The server closes the idle connection as a keep-alive timeout does; the client's pool
        // does not know yet when the next request picks it (undici #3141).
        server.closeIdleConnections();
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(await client.list(), []);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await assert.rejects(client.list(), (err: ServeError) => err.code === 'SERVER_UNREACHABLE' && /ECONNREFUSED\); is it running\?$/.test(err.message));
  });
});

describe('SSE parsing', () => {
  it('reads messages split anywhere, with CRLF, CR or LF, multi-line data and comments', async () => {
    const text = '\uFEFFretry: 1000\r\n: hello\r\n\r\nid: 1\revent: progress\rdata: {"a":\rdata: 1}\r\rdata: plain\n\nid: 2\ndata: cut off';
    const bytes = new TextEncoder().encode(text);
    // One byte per chunk: every boundary, '\r\n' and the BOM included, falls between chunks.
    const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
    const messages = [];
    for await (const m of parseSse(chunks)) messages.push(m);
    assert.deepEqual(messages, [
      { event: 'progress', data: '{"a":\n1}', id: '1' },
      { event: 'message', data: 'plain' },
    ]);
  });
});

describe('serve token file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smlt-serve-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is written 0600 and read back; a stale or foreign one is not trusted', async () => {
    const path = join(dir, 'home', 'serve.json');
    const info = { url: 'http://127.0.0.1:4567', token: 't'.repeat(43), pid: process.pid, startedAt: new Date().toISOString() };
    await writeServeInfo(info, path);
    if (process.platform !== 'win32') assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readServeInfo(path), info);

    // Rewriting replaces it whole, still 0600.
    await writeServeInfo({ ...info, url: 'http://127.0.0.1:4568' }, path);
    assert.equal((await readServeInfo(path))?.url, 'http://127.0.0.1:4568');

    if (process.platform !== 'win32') {
      await chmod(path, 0o644);
      await assert.rejects(readServeInfo(path), (err: unknown) => isSmltError(err, 'OPTION_INVALID') && /readable by other users/.test((err as Error).message));
      await chmod(path, 0o600);
    }
    // Another server's file is left alone; ours is removed.
    await removeServeInfo('someone else', path);
    assert.ok(await readServeInfo(path));
    await removeServeInfo(info.token, path);
    assert.equal(await readServeInfo(path), undefined);

    // A server that died leaves a file no client should follow.
    await writeServeInfo({ ...info, pid: 2 ** 22 + 12345 }, path);
    assert.equal(await readServeInfo(path), undefined);
    await writeFile(path, 'not json', { mode: 0o600 });
    await assert.rejects(readServeInfo(path), (err: unknown) => isSmltError(err, 'OPTION_INVALID'));
    assert.equal(typeof (await readFile(path, 'utf8')), 'string');
  });

  it('gives a client for the running server', async () => {
    const path = join(dir, 'client', 'serve.json');
    const service = new FakeRunService();
    service.addRun('r1');
    const server = await startServer(service, {});
    try {
      assert.equal(await RunServiceClient.fromServeFile(path), undefined);
      await writeServeInfo({ url: server.url, token: server.token, pid: process.pid, startedAt: new Date().toISOString() }, path);
      const client = await RunServiceClient.fromServeFile(path);
      assert.deepEqual((await client!.list()).map((r) => r.runId), ['r1']);
    } finally {
      await server.close();
    }
  });
});

/** Passes a stream through until `k` events went by, then cuts it in the middle of the next one. */
function cutAfterEvents(body: ReadableStream<Uint8Array>, k: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let text = '';
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) return controller.close();
      text += Buffer.from(value).toString('utf8');
      const ids = [...text.matchAll(/(^|\n)id: /g)];
      const cut = ids.length > k ? ids[k]!.index! + 12 : text.length;
      if (cut > sent) controller.enqueue(new TextEncoder().encode(text.slice(sent, cut)));
      sent = Math.max(sent, cut);
      if (ids.length > k) {
        await reader.cancel();
        controller.error(new TypeError('terminated: other side closed'));
      }
    },
    cancel: () => reader.cancel(),
  });
}
