/**
 * `npm run bench -- serve-memory [--json]`: the resident memory of a real `smlt serve` process
 * while 200 clients follow one run's events, after they leave, and over rounds of hostile
 * requests (wrong tokens, malformed Host headers, absolute-form targets, bodies shorter than
 * their Content-Length, garbage JSON, followers that hang up mid-stream). A leak grows round over
 * round; growth once (lazy initialisation, the first run) is not one. Nothing here asserts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { RunServiceClient } from '@smlt/shared/serve/client';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FOLLOWERS = 200;
const ROUNDS = 5;
const PER_ROUND = 400;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Sends raw bytes to the server and waits until it answers or closes (or `holdMs` passes). */
function raw(port: number, request: string, holdMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.once('data', done).once('close', done).once('error', done);
    setTimeout(done, holdMs).unref();
  });
}

function hostile(port: number, token: string, i: number): Promise<void> {
  const host = `Host: 127.0.0.1:${port}`;
  const auth = `Authorization: Bearer ${token}`;
  const kinds = [
    `GET /v1/runs HTTP/1.1\r\n${host}\r\nAuthorization: Bearer wrong\r\n\r\n`,
    `GET /v1/runs HTTP/1.1\r\nHost:  127.0.0.1:${port}\r\n${auth}\r\n\r\n`,
    `GET /v1/runs HTTP/1.1\r\n${host}\r\n${host}\r\n${auth}\r\n\r\n`,
    `GET http://evil.example/v1/runs HTTP/1.1\r\n${host}\r\n${auth}\r\n\r\n`,
    `POST /v1/runs HTTP/1.1\r\n${host}\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"source":`,
    `POST /v1/estimate HTTP/1.1\r\n${host}\r\n${auth}\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{garbage}`,
    `GET /v1/runs HTTP/1.1\r\n${host}\r\n${auth}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    `GET /v1/ru`, // half a request, then the client hangs up
  ];
  return raw(port, kinds[i % kinds.length]!, i % kinds.length === 7 || i % kinds.length === 4 ? 50 : 2_000);
}

const signed = (mb: number) => `${mb >= 0 ? '+' : ''}${mb.toFixed(0)}`;

export async function main(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const work = mkdtempSync(join(tmpdir(), 'smlt-serve-memory-'));
  copyFileSync(join(root, 'examples', 'mnist.ipynb'), join(work, 'mnist.ipynb'));
  const env = { ...process.env, SMLT_HOME: join(work, 'home') };
  const server: ChildProcess = spawn(process.execPath, [join(root, 'shared/bin/smlt.js'), 'serve'], { cwd: work, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const rows: Array<{ phase: string; rssMb: number }> = [];
  const sample = (phase: string) => rows.push({ phase, rssMb: rssMb(server.pid!) });
  try {
    const url = await new Promise<string>((resolve) =>
      server.stdout!.on('data', (chunk: Buffer) => {
        const match = /(http:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
        if (match) resolve(match[1]!);
      }),
    );
    const port = Number(new URL(url).port);
    const token = (JSON.parse(readFileSync(join(work, 'home', 'serve.json'), 'utf8')) as { token: string }).token;
    const client = new RunServiceClient({ url, token });
    await sleep(1_000);
    sample('idle');

    // A first run that no one follows: what the run itself costs the process (tfjs, the data).
    const request = { source: { path: join(work, 'mnist.ipynb') }, workers: 1, overrides: { epochs: 4 } };
    const alone = await client.start(request);
    for await (const event of client.events(alone.runId, { fromSeq: 0 })) if (event.type === 'run_finished') break;
    await sleep(2_000);
    sample('after a run nobody followed');

    const { runId } = await client.start(request);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(server.pid!))), 200);
    const follow = async () => {
      let finished = false;
      for await (const event of client.events(runId, { fromSeq: 0 })) finished ||= event.type === 'run_finished';
      return finished;
    };
    const finished = (await Promise.all(Array.from({ length: FOLLOWERS }, follow))).filter(Boolean).length;
    clearInterval(sampler);
    rows.push({ phase: `peak while ${FOLLOWERS} follow (${finished} saw run_finished)`, rssMb: peak });
    await sleep(2_000);
    sample('after the followers left');

    for (let round = 1; round <= ROUNDS; round++) {
      const requests = Array.from({ length: PER_ROUND }, (_, i) => hostile(port, token, i));
      // Followers that hang up mid-stream.
      const hangUps = Array.from({ length: 20 }, async () => {
        const abort = new AbortController();
        setTimeout(() => abort.abort(), 100);
        try {
          for await (const _ of client.events(runId, { fromSeq: 0, signal: abort.signal })) {
            // reading until aborted
          }
        } catch {
          // aborted
        }
      });
      await Promise.all([...requests, ...hangUps]);
      await sleep(1_500);
      sample(`after hostile round ${round} (${PER_ROUND} requests, 20 hang-ups)`);
    }
    const answers = (await client.list()).some((r) => r.runId === runId);
    const first = rows.find((r) => r.phase.startsWith('after hostile round 1'))!.rssMb;
    const last = rows.at(-1)!.rssMb;
    if (json) {
      process.stdout.write(`${JSON.stringify({ rows, finalOverRound1: last / first, answersAfter: answers })}\n`);
      return;
    }
    const idle = rows[0]!.rssMb;
    const base = rows[1]!.rssMb;
    process.stdout.write(`smlt serve resident memory (${FOLLOWERS} followers of one run; ${ROUNDS} hostile rounds):\n`);
    for (const r of rows) process.stdout.write(`  ${r.phase.padEnd(52)} ${r.rssMb.toFixed(0).padStart(5)} MB  (${signed(r.rssMb - idle)} vs idle, ${signed(r.rssMb - base)} vs after the first run)\n`);
    process.stdout.write(`  last round / first round: ${(last / first).toFixed(3)}; still answers: ${answers ? 'yes' : 'NO'}\n`);
  } finally {
    server.kill('SIGINT');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(work, { recursive: true, force: true });
  }
}
