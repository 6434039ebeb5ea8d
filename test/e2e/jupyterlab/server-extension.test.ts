/**
 * The Jupyter server extension (jupyter-ext/smlt_jupyter) in a real jupyter_server 2.21 (the pip-installed one, with SMLT's wheel), without
 * a browser: it starts `smlt serve` as a side process and proxies it under Jupyter's login and
 * XSRF checks, never handing out the side process's token; the event stream is relayed as it
 * happens (not buffered until the run ends) and closed upstream when the browser leaves; bad paths and bad values come back naming their
 * field; and the side process ends with the server, also when the server is killed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Lab, hostMissing, repoRoot, startLab } from './lab.js';

const outDir = join(repoRoot, 'test-output/jupyterlab');
const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') {
  throw new Error(`SMLT_REQUIRE_E2E=1 but the JupyterLab test host is missing: ${missing}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, what: string): Promise<void> {
  for (let i = 0; i < 150 && alive(pid); i++) await sleep(100);
  assert.equal(alive(pid), false, `${what} (pid ${pid}) still runs`);
}

/** The side process's URL, token and pid, from the token file it wrote in $SMLT_HOME. */
async function sideProcess(lab: Lab): Promise<{ url: string; token: string; pid: number }> {
  for (let i = 0; i < 300; i++) {
    try {
      return JSON.parse(readFileSync(join(lab.smltHome, 'serve.json'), 'utf8')) as { url: string; token: string; pid: number };
    } catch {
      await sleep(100);
    }
  }
  throw new Error('smlt serve never wrote its token file');
}

/** Established TCP connections (either end) on 127.0.0.1:`port`, from /proc/net/tcp. */
function openConnections(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[3] === '01' && (f[1]!.endsWith(`:${hexPort}`) || f[2]!.endsWith(`:${hexPort}`))).length;
}

const mnist = () => JSON.parse(readFileSync(join(repoRoot, 'examples/mnist.ipynb'), 'utf8')) as Record<string, unknown>;

describe('smlt_jupyter server extension in jupyter_server', { skip: missing ? `${missing} (the JupyterLab e2e host is not set up)` : false }, () => {
  let lab: Lab;
  let side: { url: string; token: string; pid: number };
  /** Jupyter's token as a header: how JupyterLab's own requests authenticate. */
  let auth: Record<string, string>;

  before(async () => {
    lab = await startLab({ files: { 'sub/mnist.ipynb': JSON.stringify(mnist()) }, logFile: join(outDir, 'server-extension.log') });
    auth = { Authorization: `token ${new URL(lab.url('/')).searchParams.get('token')}` };
    side = await sideProcess(lab);
  });

  after(async () => {
    await lab?.stop();
  });

  const api = (path: string, init: RequestInit = {}) => fetch(lab.url(`/smlt/${path}`), init);

  it('answers only logged-in callers, and never with the side process token', async () => {
    const anonymous = await fetch(lab.url('/smlt/runs').replace(/[?&]token=[^&]+/, ''));
    assert.equal(anonymous.status, 403);
    const config = await (await fetch(lab.url('/smlt/config').replace(/[?&]token=[^&]+/, ''), { headers: auth })).text();
    assert.match(config, /"local"/);
    const listed = await (await fetch(lab.url('/smlt/runs').replace(/[?&]token=[^&]+/, ''), { headers: auth })).text();
    for (const body of [config, listed]) assert.ok(!body.includes(side.token), 'a response carries the token of smlt serve');
    // The side process itself refuses callers without its token.
    assert.equal((await fetch(`${side.url}/v1/runs`)).status, 401);
  });

  it('checks XSRF on POST for cookie-authenticated callers (a browser session)', async () => {
    // Logging in with the token sets Jupyter's session cookie, as when a browser opens /lab.
    const login = await fetch(lab.url('/lab'), { redirect: 'manual' });
    const cookies = (login.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]!);
    const session = cookies.find((c) => c.startsWith('username-'));
    assert.ok(session, `logging in set a session cookie (got ${cookies.join(', ')})`);
    const xsrf = cookies.find((c) => c.startsWith('_xsrf='))?.slice('_xsrf='.length) ?? 'smlt-test-xsrf';
    const url = lab.url('/smlt/estimate').replace(/[?&]token=[^&]+/, '');
    const body = JSON.stringify({ source: { notebook: mnist(), contentsPath: 'sub/mnist.ipynb' } });
    const without = await fetch(url, { method: 'POST', body, headers: { Cookie: session, 'Content-Type': 'application/json' } });
    assert.equal(without.status, 403, 'a POST with the session cookie but no XSRF token is refused');
    const withXsrf = await fetch(url, {
      method: 'POST',
      body,
      headers: { Cookie: `${session}; _xsrf=${xsrf}`, 'X-XSRFToken': xsrf, 'Content-Type': 'application/json' }
    });
    assert.equal(withXsrf.status, 200, await withXsrf.clone().text());
    const estimate = (await withXsrf.json()) as { feasible: boolean; epochs: number };
    assert.equal(estimate.epochs, 2);
  });

  it('names the field of a bad request, and keeps notebooks inside the Jupyter root', async () => {
    const post = (path: string, body: unknown) =>
      fetch(lab.url(`/smlt/${path}`).replace(/[?&]token=[^&]+/, ''), { method: 'POST', body: JSON.stringify(body), headers: { ...auth, 'Content-Type': 'application/json' } });
    const outside = await post('runs', { source: { notebook: mnist(), contentsPath: '../../etc/x.ipynb' } });
    assert.equal(outside.status, 400);
    assert.deepEqual(((await outside.json()) as { error: { field: string } }).error.field, 'source.contentsPath');
    const budget = await post('estimate', { source: { notebook: mnist(), contentsPath: 'sub/mnist.ipynb' }, budgetUsd: -1 });
    assert.equal(budget.status, 400);
    const error = ((await budget.json()) as { error: { field: string; message: string } }).error;
    assert.equal(error.field, 'budgetUsd');
    const notNpy = await post('arrays', { contentsPath: 'sub/mnist.ipynb', name: 'x', npyBase64: Buffer.from('not numpy').toString('base64') });
    assert.equal(notNpy.status, 400);
    assert.match(((await notNpy.json()) as { error: { message: string } }).error.message, /not in \.npy format/);
  });

  it('relays a run’s events as they happen and lists the run under its contents path', async () => {
    const started = await api('runs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { notebook: mnist(), contentsPath: 'sub/mnist.ipynb' } })
    });
    assert.equal(started.status, 201, await started.clone().text());
    const { runId } = (await started.json()) as { runId: string };
    const listed = (await (await api('runs?contentsPath=sub/mnist.ipynb')).json()) as Array<{ runId: string; contentsPath: string }>;
    assert.equal(listed[0]?.runId, runId);
    assert.equal(listed[0]?.contentsPath, 'sub/mnist.ipynb');

    const stream = await api(`runs/${runId}/events`);
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let firstEventWhileRunning: string | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (firstEventWhileRunning === undefined && text.includes('event: run_started')) {
        // Streamed, not buffered: the first event is here while the run is still going.
        firstEventWhileRunning = ((await (await api(`runs/${runId}`)).json()) as { status: string }).status;
      }
      if (text.includes('event: stream_end')) break;
    }
    assert.equal(firstEventWhileRunning, 'running');
    assert.match(text, /event: run_finished/);
    assert.ok(!text.includes(side.token));
    // Resuming after a seq gives only the later events.
    const tail = await (await api(`runs/${runId}/events?fromSeq=3`)).text();
    assert.doesNotMatch(tail, /^id: [123]$/m);
    assert.match(tail, /^id: 4$/m);
    const report = (await (await api(`runs/${runId}/report`)).json()) as { status: string; runId: string };
    assert.equal(report.runId, runId);
    assert.equal(report.status, 'succeeded');
  });

  it('closes its stream from smlt serve when the browser leaves', async () => {
    const started = await api('runs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: { notebook: mnist(), contentsPath: 'sub/mnist.ipynb' }, overrides: { epochs: 30 } })
    });
    const { runId } = (await started.json()) as { runId: string };
    const port = Number(new URL(side.url).port);
    const before = openConnections(port);
    const leave = new AbortController();
    const stream = await api(`runs/${runId}/events`, { signal: leave.signal });
    const reader = stream.body!.getReader();
    await reader.read();
    assert.ok(openConnections(port) > before, 'the relay holds a connection to smlt serve while the browser listens');
    leave.abort();
    // Within seconds. (During a run events flow about every second, so this also holds for a
    // relay that only notices on its next write; the close hook matters for idle streams.)
    for (let i = 0; i < 50 && openConnections(port) > before; i++) await sleep(100);
    assert.equal(openConnections(port), before, 'the connection to smlt serve was closed with the browser’s');
    assert.equal((await api(`runs/${runId}/cancel`, { method: 'POST' })).status, 200);
  });

  it('stops smlt serve with the Jupyter server', async () => {
    assert.ok(alive(side.pid));
    await lab.stop();
    await waitGone(side.pid, 'smlt serve after the Jupyter server stopped');
  });

  it('stops smlt serve when the Jupyter server is killed', async () => {
    const killed = await startLab({ files: {}, logFile: join(outDir, 'server-extension-killed.log') });
    try {
      const orphan = await sideProcess(killed);
      process.kill(killed.serverPid, 'SIGKILL');
      await waitGone(orphan.pid, 'smlt serve after the Jupyter server was killed');
    } finally {
      await killed.stop();
    }
  });

  it('says what is missing when the machine has no smlt command, and what to do', async () => {
    // Node is in /usr/bin here; `smlt` is not (no `npm link`), and the wheel is not in a checkout.
    const bare = await startLab({ files: {}, logFile: join(outDir, 'server-extension-no-smlt.log'), env: { PATH: '/usr/bin:/bin' } });
    try {
      const response = await fetch(bare.url('/smlt/runs'));
      assert.equal(response.status, 503);
      const body = (await response.json()) as { error?: { message?: string } };
      assert.match(body.error?.message ?? '', /cannot find the smlt command: put the smlt command on the Jupyter server's PATH \(from a checkout of SMLT: `npm ci && npm link -w shared`\)/);
    } finally {
      await bare.stop();
    }
  });
});
