/**
 * Load on loopback, through a real `smlt serve` and real local runs: 50 clients following one
 * run's events (half from its start, half joining mid-run and replaying), and 20 runs started at
 * once. Every client must see every event exactly once, in order (seq 1..N without a gap), the
 * same events the store holds; every run must finish. Bounded in time by generous test timeouts
 * (the machine is shared), never by timing assertions.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunEvent } from '@smlt/shared/run/events';
import { RunServiceClient } from '@smlt/shared/serve/client';
import { type RunningServer, startServer } from '@smlt/shared/serve/server';
import { LocalRunService } from '@smlt/shared/service/local-run-service';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

/** Follows a run to its end; resolves with the seqs seen and the final status. */
async function follow(client: RunServiceClient, runId: string): Promise<{ seqs: number[]; status?: string }> {
  const seqs: number[] = [];
  let status: string | undefined;
  for await (const event of client.events(runId, { fromSeq: 0 })) {
    seqs.push(event.seq);
    if (event.type === 'run_finished') status = event.status;
  }
  return { seqs, status };
}

function assertComplete(seqs: number[], total: number, who: string): void {
  assert.equal(seqs.length, total, `${who} saw ${seqs.length} of ${total} events`);
  seqs.forEach((seq, i) => assert.equal(seq, i + 1, `${who}: event ${i + 1} has seq ${seq} (lost, duplicated or out of order)`));
}

describe('load through smlt serve on loopback', () => {
  let work: string;
  let server: RunningServer;
  let client: RunServiceClient;
  let service: LocalRunService;
  const homeBefore = process.env.SMLT_HOME;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'smlt-load-'));
    copyFileSync(join(examples, 'iris-csv.ipynb'), join(work, 'iris.ipynb'));
    copyFileSync(join(examples, 'iris.csv'), join(work, 'iris.csv'));
    process.env.SMLT_HOME = join(work, 'home');
    service = new LocalRunService();
    server = await startServer(service, { log: (line) => { if (line.startsWith('internal error')) console.log(line); } });
    client = new RunServiceClient({ url: server.url, token: server.token });
  });
  after(async () => {
    await server?.close();
    if (homeBefore === undefined) delete process.env.SMLT_HOME;
    else process.env.SMLT_HOME = homeBefore;
    rmSync(work, { recursive: true, force: true });
  });

  it('serves one run\'s events to 50 concurrent clients, each receiving every event once, in order', { timeout: 15 * 60_000 }, async () => {
    const { runId } = await client.start({ source: { path: join(work, 'iris.ipynb') }, workers: 2, overrides: { epochs: 10 } });
    const early = Array.from({ length: 25 }, () => follow(new RunServiceClient({ url: server.url, token: server.token }), runId));
    // The other 25 join once the run is under way: they replay what they missed, then follow live.
    for await (const event of client.events(runId)) if (event.type === 'epoch_finished' && event.epoch >= 2) break;
    const late = Array.from({ length: 25 }, () => follow(new RunServiceClient({ url: server.url, token: server.token }), runId));
    const results = await Promise.all([...early, ...late]);

    const stored: RunEvent[] = [];
    for await (const event of service.events(runId, { fromSeq: 0 })) stored.push(event);
    assert.equal(stored.at(-1)?.type, 'run_finished', 'the run finished');
    results.forEach((r, i) => {
      assertComplete(r.seqs, stored.length, `client ${i + 1}`);
      assert.equal(r.status, 'succeeded', `client ${i + 1} saw the run succeed`);
    });
    console.log(`50 clients × ${stored.length} events each, none lost or duplicated`);
  });

  it('runs 20 runs started at once to the end, each with a complete event history', { timeout: 20 * 60_000 }, async () => {
    const started = await Promise.all(
      Array.from({ length: 20 }, () => client.start({ source: { path: join(work, 'iris.ipynb') }, workers: 1, overrides: { epochs: 3 } })),
    );
    const ids = started.map((s) => s.runId);
    assert.equal(new Set(ids).size, 20, 'twenty distinct runs');
    const results = await Promise.all(ids.map((id) => follow(client, id)));
    results.forEach((r, i) => {
      assert.equal(r.status, 'succeeded', `run ${ids[i]} ended ${r.status}`);
      assertComplete(r.seqs, r.seqs.length, `run ${ids[i]}`);
      assert.ok(r.seqs.length > 10, `run ${ids[i]} has its events`);
    });
    const listed = await client.list();
    for (const id of ids) assert.equal(listed.find((r) => r.runId === id)?.status, 'succeeded', `smlt runs lists ${id} as succeeded`);
    console.log(`20 concurrent runs: ${results.map((r) => r.seqs.length).reduce((a, b) => a + b, 0)} events in all, every history complete`);
  });
});
