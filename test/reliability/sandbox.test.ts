/**
 * Notebook code runs only in the capture sandbox: a child process with Node's permission model,
 * an empty environment, a wall-clock limit and a memory limit. Each test escapes node:vm the
 * documented way (DESIGN.md) and reports what the escaped code could do through its error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureModelCell } from '@smlt/shared/capture/model-cell';
import { isSmltError } from '@smlt/shared/errors';
import { modelCell } from '../unit/notebook-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'smlt-sandbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs hostile code that escapes vm and throws what it saw; resolves with that report. */
async function escaped(body: string): Promise<Record<string, unknown>> {
  return reported(`const p = this.constructor.constructor('return process')();
const seen = {};
${body}
throw new Error('REPORT' + JSON.stringify(seen));`);
}

/** Captures a cell whose code makes the capture fail with REPORT{...}; resolves with that report. */
async function reported(source: string): Promise<Record<string, unknown>> {
  try {
    await captureModelCell(modelCell(source), { notebookDir: dir });
  } catch (err) {
    assert.ok(isSmltError(err, 'MODEL_CODE_FAILED'), `expected MODEL_CODE_FAILED, got ${String(err)}`);
    const report = /REPORT(\{.*\})/.exec(err.message)?.[1];
    assert.ok(report, `the cell's report is in the message: ${err.message}`);
    return JSON.parse(report) as Record<string, unknown>;
  }
  assert.fail('the hostile cell was accepted');
}

describe('the capture sandbox', () => {
  it('gives escaped code a process without this process\'s environment or credentials', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'sandbox-test-secret-do-not-leak';
    try {
      const seen = await escaped(`seen.pid = p.pid; seen.env = Object.keys(p.env); seen.secret = p.env.AWS_SECRET_ACCESS_KEY ?? null;`);
      assert.notEqual(seen.pid, process.pid, 'the cell runs in another process');
      assert.deepEqual(seen.env, [], 'the sandbox has an empty environment');
      assert.equal(seen.secret, null, 'no credential reaches notebook code');
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('refuses file writes, reads outside SMLT, child processes and worker threads', async () => {
    const target = join(dir, 'written-by-notebook.txt');
    const seen = await escaped(`
const fs = p.getBuiltinModule ? p.getBuiltinModule('fs') : p.mainModule?.require('fs');
const cp = p.getBuiltinModule ? p.getBuiltinModule('child_process') : undefined;
const attempt = (name, f) => { try { f(); seen[name] = 'allowed'; } catch (e) { seen[name] = e.code ?? String(e); } };
attempt('binding', () => { if (!fs) throw Object.assign(new Error('no fs'), { code: 'NO_MODULE' }); });
if (fs) {
  attempt('write', () => fs.writeFileSync(${JSON.stringify(target)}, 'x'));
  attempt('readPasswd', () => fs.readFileSync('/etc/passwd'));
  attempt('readHome', () => fs.readdirSync(${JSON.stringify(process.env.HOME ?? '/root')}));
}
if (cp) attempt('spawn', () => cp.execSync('true'));
seen.permission = typeof p.permission?.has === 'function' ? p.permission.has('fs.write') : 'no permission api';
`);
    // Node 20 has no process.getBuiltinModule and an ESM main has no mainModule: then escaped
    // code has no fs at all, which is stricter still.
    if (seen.binding === 'allowed') {
      assert.equal(seen.write, 'ERR_ACCESS_DENIED', `write: ${JSON.stringify(seen)}`);
      assert.equal(seen.readPasswd, 'ERR_ACCESS_DENIED', `read: ${JSON.stringify(seen)}`);
      assert.equal(seen.readHome, 'ERR_ACCESS_DENIED', `readdir: ${JSON.stringify(seen)}`);
    }
    if ('spawn' in seen) assert.equal(seen.spawn, 'ERR_ACCESS_DENIED', `spawn: ${JSON.stringify(seen)}`);
    assert.equal(seen.permission, false, `the permission model is on and denies writes: ${JSON.stringify(seen)}`);
    assert.equal(existsSync(target), false, 'nothing was written');
  });

  it('answers even when escaped code replaces process.send, and fails clearly when it exits the sandbox', async () => {
    const silenced = "const p = this.constructor.constructor('return process')(); p.send = () => true; const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });";
    assert.equal((await captureModelCell(modelCell(silenced), { notebookDir: dir })).paramCount, 3);
    const exits = "this.constructor.constructor('return process')().exit(3);";
    await assert.rejects(
      captureModelCell(modelCell(exits), { notebookDir: dir, timeoutMs: 300 }),
      (err) => isSmltError(err, 'MODEL_CODE_FAILED') && /exited \(code 3\) without answering/.test(err.message) && !/ExperimentalWarning/.test(err.message),
    );
  });

  it('stops an endless loop and an endless promise chain with MODEL_CODE_TIMEOUT', async () => {
    for (const source of ['while (true) {}', 'const spin = () => Promise.resolve().then(spin); spin(); const model = 1;']) {
      await assert.rejects(
        captureModelCell(modelCell(source), { notebookDir: dir, timeoutMs: 300 }),
        (err) => isSmltError(err, 'MODEL_CODE_TIMEOUT') && /endless loop/.test(err.message),
        source,
      );
    }
  });

  it('stops model code that allocates more than the memory limit, naming the limit', async () => {
    // Layers are built shapes-only (a large model is refused by its parameter count instead), so allocate a tensor.
    const source = `const filler = tf.ones([80000000]);\nconst model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1 })] });`;
    await assert.rejects(
      captureModelCell(modelCell(source), { notebookDir: dir, memoryMb: 200 }),
      (err) => isSmltError(err, 'MODEL_INVALID') && /200 MB/.test(err.message) && /too large/.test(err.message),
    );
  });

  it('cannot signal, debug or reprioritize another process, nor put process.kill back', async () => {
    // A real process of this user, its PID handed to the cell as an attacker would.
    const victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    try {
      const pid = victim.pid!;
      const seen = await escaped(`
const attempt = (name, f) => { try { f(); seen[name] = 'allowed'; } catch (e) { seen[name] = e.code ?? String(e); } };
attempt('kill', () => p.kill(${pid}, 'SIGKILL'));
attempt('probe', () => p.kill(${pid}, 0));
attempt('rawKill', () => p._kill(${pid}, 9));
attempt('debugProcess', () => p._debugProcess(${pid}));
if (p.getBuiltinModule) attempt('setPriority', () => p.getBuiltinModule('os').setPriority(${pid}, 19));
attempt('binding', () => p.binding('process_wrap'));
attempt('dlopen', () => p.dlopen({ exports: {} }, '/no/such/addon.node'));
p.kill = () => 'replaced';
attempt('putBack', () => Object.defineProperty(p, 'kill', { value: () => 'replaced' }));
attempt('killAfter', () => p.kill(${pid}, 'SIGKILL'));
`);
      for (const name of ['kill', 'probe', 'rawKill', 'debugProcess', 'binding', 'killAfter']) {
        assert.equal(seen[name], 'ERR_ACCESS_DENIED', `${name}: ${JSON.stringify(seen)}`);
      }
      if ('setPriority' in seen) assert.equal(seen.setPriority, 'ERR_ACCESS_DENIED', JSON.stringify(seen));
      assert.equal(seen.dlopen, 'ERR_DLOPEN_DISABLED', JSON.stringify(seen));
      assert.match(String(seen.putBack), /Cannot redefine property: kill/);
      await sleep(200);
      assert.equal(victim.exitCode, null, 'the victim is still running');
      assert.equal(victim.signalCode, null, 'the victim got no signal');
      assert.doesNotThrow(() => process.kill(pid, 0), 'the victim is still there');
      assert.equal(getPriority(pid), 0, 'its priority is unchanged');
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('cannot open network connections, listen or resolve names, given all the time it wants', async () => {
    const tcp: unknown[] = [];
    const unix: unknown[] = [];
    const udp: unknown[] = [];
    const tcpServer = createServer((socket) => (tcp.push(socket.remoteAddress), socket.destroy()));
    const unixPath = join(dir, 'listener.sock');
    const unixServer = createServer((socket) => (unix.push('connection'), socket.destroy()));
    const udpServer = createSocket('udp4', (message) => udp.push(message.length));
    await new Promise<void>((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => unixServer.listen(unixPath, resolve));
    await new Promise<void>((resolve) => udpServer.bind(0, '127.0.0.1', resolve));
    const port = (tcpServer.address() as { port: number }).port;
    const udpPort = udpServer.address().port;
    try {
      // The cell swallows SMLT's own answer and reports from the child's realm once every attempt
      // has settled, so asynchronous connections (fetch, http, DNS) get their chance; it also
      // keeps the child alive after answering, which the parent must not allow.
      const seen = await reported(`
const p = this.constructor.constructor('return process')();
const realSend = p._send;
p._send = function (message, ...rest) { return message && message.fromCell ? realSend.call(this, message, ...rest) : true; };
p.reallyExit = () => {};
this.constructor.constructor('p', 'ports', \`return (async () => {
  const seen = { pid: p.pid };
  const get = (name) => p.getBuiltinModule ? p.getBuiltinModule(name) : undefined;
  const settle = (f) => new Promise((resolve, reject) => { const t = setTimeout(() => reject(new Error('no answer in 3 s')), 3000); Promise.resolve().then(f).then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); }); });
  const attempt = async (name, f) => {
    try { const v = await settle(f); seen[name] = typeof v === 'number' && v < 0 ? 'denied ' + v : 'allowed'; }
    catch (e) { seen[name] = e.code ?? e.cause?.code ?? String(e); }
  };
  const connected = (socket) => new Promise((resolve, reject) => { socket.once('connect', () => resolve('connected')); socket.once('error', reject); });
  const Socket = p.stderr.constructor;
  await attempt('stderrSocketClass', () => connected(new Socket().connect(ports.tcp, '127.0.0.1')));
  if (get('net')) {
    const net = get('net'), tls = get('tls'), http = get('http'), dgram = get('dgram'), dns = get('dns');
    await attempt('netConnect', () => connected(net.connect(ports.tcp, '127.0.0.1')));
    await attempt('netConnectByName', () => connected(net.connect(ports.tcp, 'localhost')));
    await attempt('unixSocket', () => connected(net.connect(ports.unix)));
    await attempt('tlsConnect', () => new Promise((resolve, reject) => tls.connect(ports.tcp, '127.0.0.1', resolve).on('error', reject)));
    await attempt('httpGet', () => new Promise((resolve, reject) => http.get('http://127.0.0.1:' + ports.tcp + '/', resolve).on('error', reject)));
    await attempt('fetch', () => fetch('http://127.0.0.1:' + ports.tcp + '/'));
    await attempt('listen', () => new Promise((resolve, reject) => net.createServer().listen(0, '127.0.0.1', resolve).on('error', reject)));
    await attempt('serverHandle', () => net._createServerHandle('127.0.0.1', 0, 4));
    const tcpHandle = new tls.TLSSocket()._handle._parent;
    await attempt('tcpHandleBind', () => tcpHandle.bind('127.0.0.1', 0));
    await attempt('tcpHandleListen', () => tcpHandle.listen(1));
    const direct = { type: 'udp4', lookup: (host, options, callback) => callback(null, host, 4) };
    await attempt('udpSend', () => new Promise((resolve, reject) => { const s = dgram.createSocket(direct); s.on('error', reject); s.send('x', ports.udp, '127.0.0.1', (e) => (e ? reject(e) : resolve('sent'))); }));
    await attempt('udpBind', () => new Promise((resolve, reject) => { const s = dgram.createSocket(direct); s.on('error', reject); s.bind(0, '127.0.0.1', () => resolve('bound')); }));
    await attempt('dnsLookup', () => dns.promises.lookup('example.com'));
    const resolver = new dns.promises.Resolver();
    resolver.setServers(['127.0.0.1:' + ports.udp]);
    await attempt('dnsQuery', () => resolver.resolve4('example.com'));
  } else seen.noModules = true;
  p.send({ ok: false, fromCell: true, error: { code: 'MODEL_CODE_FAILED', message: 'REPORT' + JSON.stringify(seen) } });
  setInterval(() => {}, 1000);
})()\`)(p, { tcp: ${port}, unix: ${JSON.stringify(unixPath)}, udp: ${udpPort} });
const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });`);
      const { pid, noModules, ...attempts } = seen;
      if (!noModules) assert.equal(Object.keys(attempts).length, 15, JSON.stringify(seen));
      for (const [name, outcome] of Object.entries(attempts)) {
        assert.match(String(outcome), /^(EACCES|ERR_ACCESS_DENIED|denied -\d+)$/, `${name}: ${JSON.stringify(seen)}`);
      }
      await sleep(300);
      assert.deepEqual({ tcp, unix, udp }, { tcp: [], unix: [], udp: [] }, 'no connection, datagram or DNS query reached a server');
      let alive = true;
      for (let i = 0; i < 40 && alive; i++, await sleep(50)) {
        try {
          process.kill(pid as number, 0);
        } catch {
          alive = false;
        }
      }
      assert.equal(alive, false, 'the sandbox was killed after it answered, although its code tried to stay');
    } finally {
      tcpServer.close();
      unixServer.close();
      udpServer.close();
    }
  });

  it('still captures a normal model, with its shapes and parameter count', async () => {
    const spec = await captureModelCell(
      modelCell(`const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });`),
      { notebookDir: dir },
    );
    assert.deepEqual([spec.inputShape, spec.outputShape, spec.paramCount], [[4], [3], 15]);
  });
});
