/**
 * `smlt serve` from a hostile caller's side, over real sockets, on top of what
 * test/integration/serve.test.ts covers (no token, wrong token, foreign Host and Origin): the
 * server cannot be reached on a non-loopback address; a token in the URL, in another scheme or
 * another case is not a token; look-alike Hosts and Origins (suffix tricks, other ports,
 * `null`) are refused; run ids that try to leave `runs/` are refused before the service reads
 * anything; and no answer or log line carries the token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSmltError } from '@smlt/shared/errors';
import { type RunningServer, startServer } from '@smlt/shared/serve/server';
import { LocalRunService } from '@smlt/shared/service/local-run-service';

interface Answer {
  status: number;
  body: string;
}

function send(port: number, path: string, headers: Record<string, string>, method = 'GET', host = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('no answer in 20 s')));
    req.end();
  });
}

describe('smlt serve against hostile callers', () => {
  let server: RunningServer;
  let port: number;
  let home: string;
  const log: string[] = [];
  const homeBefore = process.env.SMLT_HOME;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'smlt-serve-sec-'));
    process.env.SMLT_HOME = home;
    server = await startServer(new LocalRunService(), { log: (line) => log.push(line) });
    port = Number(new URL(server.url).port);
  });
  after(async () => {
    await server?.close();
    if (homeBefore === undefined) delete process.env.SMLT_HOME;
    else process.env.SMLT_HOME = homeBefore;
    rmSync(home, { recursive: true, force: true });
  });

  const ours = () => ({ host: `127.0.0.1:${port}`, authorization: `Bearer ${server.token}` });

  it('cannot be reached on this machine\'s other addresses', async (t) => {
    const addresses = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === 'IPv4')
      .map((a) => a!.address);
    if (addresses.length === 0) return t.skip('this machine has no non-loopback IPv4 address');
    for (const address of addresses) {
      await assert.rejects(send(port, '/v1/runs', { ...ours(), host: `${address}:${port}` }, 'GET', address), /ECONNREFUSED/, `reachable on ${address}`);
    }
    assert.equal((await send(port, '/v1/runs', ours())).status, 200, 'while loopback with the token works');
  });

  it('takes the token only as "Authorization: Bearer", never from the URL or another scheme', async () => {
    const token = server.token;
    const { host } = ours();
    for (const [path, headers] of [
      [`/v1/runs?token=${token}`, { host }],
      [`/v1/runs?access_token=${token}`, { host }],
      ['/v1/runs', { host, authorization: `Basic ${Buffer.from(`smlt:${token}`).toString('base64')}` }],
      ['/v1/runs', { host, authorization: token }],
      ['/v1/runs', { host, authorization: `Bearer ${token.toUpperCase()}` }],
      ['/v1/runs', { host, authorization: `Bearer ${token.slice(0, -1)}` }],
      ['/v1/runs', { host, cookie: `token=${token}` }],
    ] as Array<[string, Record<string, string>]>) {
      const answer = await send(port, path, headers);
      assert.equal(answer.status, 401, `${path} ${JSON.stringify(Object.keys(headers))} → ${answer.status}`);
      assert.ok(!answer.body.includes(token), 'the answer does not echo the token');
    }
  });

  it('refuses look-alike Hosts and Origins even with the token (DNS rebinding)', async () => {
    for (const host of [`127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1`, `[::1]:${port}`, `0.0.0.0:${port}`, '']) {
      const answer = await send(port, '/v1/runs', { ...ours(), host });
      assert.equal(answer.status, 403, `Host ${JSON.stringify(host)} → ${answer.status}`);
    }
    for (const origin of ['null', `http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, `http://127.0.0.1.evil.example:${port}`, 'http://localhost', `file://`]) {
      const answer = await send(port, '/v1/runs', { ...ours(), origin });
      assert.equal(answer.status, 403, `Origin ${origin} → ${answer.status}`);
    }
  });

  it('refuses run ids that would leave runs/, over HTTP and in the service', async () => {
    for (const id of ['..', '..%2F..%2Fetc', '%2e%2e', '.smlt', 'a%2Fb', '%00', 'x'.repeat(200)]) {
      for (const action of ['', '/events', '/artifacts']) {
        const answer = await send(port, `/v1/runs/${id}${action}`, ours());
        assert.ok([400, 404].includes(answer.status), `/v1/runs/${id}${action} → ${answer.status} ${answer.body}`);
      }
    }
    const service = new LocalRunService();
    for (const id of ['../../etc', 'a/../../b', '/etc/passwd', '..']) {
      await assert.rejects(service.get(id), (err) => isSmltError(err) && ['RUN_NOT_FOUND', 'STORE_KEY_INVALID'].includes(err.code), id);
      await assert.rejects(service.artifacts(id), (err) => isSmltError(err) && ['RUN_NOT_FOUND', 'STORE_KEY_INVALID'].includes(err.code), id);
    }
  });

  it('never writes the token to its log, even when a client puts it in the URL', () => {
    assert.ok(log.length > 10, `${log.length} log lines`);
    assert.ok(log.every((line) => !line.includes(server.token)), 'no log line holds the token');
    assert.ok(log.some((line) => line.startsWith('GET /v1/runs 401')), 'requests are logged without their query');
  });
});
