/**
 * A whole run over HTTP: the real LocalRunService behind `smlt serve`'s server, driven by the
 * HTTP client that the CLI (`train --server`) and the editors use, with re-attachment mid-run.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { RunEvent } from '@smlt/shared/run/events';
import { RunServiceClient } from '@smlt/shared/serve/client';
import { type RunningServer, startServer } from '@smlt/shared/serve/server';
import { LocalRunService } from '@smlt/shared/service/local-run-service';
import type { SweepEvent } from '@smlt/shared/sweep/sweep-events';
import { LocalSweepService } from '@smlt/shared/sweep/sweep-service';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

describe('a run driven over HTTP', () => {
  let work: string;
  let service: LocalRunService;
  let sweeps: LocalSweepService;
  let server: RunningServer;
  let client: RunServiceClient;
  const previousHome = process.env.SMLT_HOME;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'smlt-serve-run-'));
    cpSync(examples, join(work, 'examples'), { recursive: true, filter: (src) => !src.includes('.smlt') });
    process.env.SMLT_HOME = join(work, 'home');
    service = new LocalRunService();
    sweeps = new LocalSweepService(service);
    server = await startServer(service, { sweeps });
    client = new RunServiceClient({ url: server.url, token: server.token });
  });
  after(async () => {
    await server.close();
    await sweeps.close();
    await service.close();
    process.env.SMLT_HOME = previousHome;
    rmSync(work, { recursive: true, force: true });
  });

  it('estimates, starts, follows with a re-attach, and fetches the artifacts', async () => {
    const request = { source: { path: join(work, 'examples', 'mnist.ipynb') }, workers: 2, overrides: { epochs: 2 } };
    const estimate = await client.estimate(request);
    assert.equal(estimate.workers, 2);
    assert.ok(estimate.timeS.expected > 0 && estimate.costUsd.expected > 0, JSON.stringify(estimate));
    assert.ok(estimate.timeS.low <= estimate.timeS.expected && estimate.timeS.expected <= estimate.timeS.high);

    const { runId } = await client.start(request);
    const seen: RunEvent[] = [];
    // First client: leaves after the first epoch finishes (as an editor window that closes).
    for await (const event of client.events(runId)) {
      seen.push(event);
      if (event.type === 'epoch_finished') break;
    }
    // Second client: re-attaches where the first left and follows to the end.
    for await (const event of client.events(runId, { fromSeq: seen.at(-1)!.seq })) seen.push(event);

    assert.deepEqual(
      seen.map((e) => e.seq),
      seen.map((_, i) => i + 1),
      'every event once, in order, across the re-attach',
    );
    const finished = seen.at(-1);
    assert.ok(finished?.type === 'run_finished', `last event ${finished?.type}`);
    assert.equal(finished.status, 'succeeded');

    // A late client replays the whole history.
    const replay: RunEvent[] = [];
    for await (const event of client.events(runId)) replay.push(event);
    assert.deepEqual(replay, seen);

    const summary = await client.get(runId);
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.epochsDone, 2);
    assert.ok((summary.metrics?.valAccuracy ?? 0) > 0.85, JSON.stringify(summary.metrics));
    assert.ok((await client.list()).some((r) => r.runId === runId));
    const artifacts = await client.artifacts(runId);
    assert.ok(artifacts.modelPath && existsSync(artifacts.modelPath), 'model files');
    assert.ok(artifacts.reportPath && existsSync(artifacts.reportPath), 'report');
  });

  it('rejects a bad notebook over HTTP with its code, launching nothing', async () => {
    await assert.rejects(
      client.start({ source: { path: join(work, 'examples', 'iris.csv') } }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NOTEBOOK_INVALID', err.message);
        return true;
      },
    );
    await assert.rejects(client.get('no-such-run'), (err: Error & { code?: string }) => err.code === 'RUN_NOT_FOUND');
  });

  it('runs a sweep over HTTP: started, followed with a re-attach, listed with its best trial; bad requests named', async () => {
    // iris-csv with a learning-rate sweep: 3 trials, rungs of 1 and 3 epochs.
    const notebook = join(work, 'examples', 'iris-csv.ipynb');
    const nb = JSON.parse(readFileSync(notebook, 'utf8')) as { cells: unknown[] };
    nb.cells.push({ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source: '// smlt: sweep\ntrials: 3\nepochs: 3\nspace:\n  learningRate: {log: [0.003, 0.1]}' });
    const path = join(work, 'examples', 'iris-sweep.ipynb');
    writeFileSync(path, JSON.stringify(nb));

    // The forecast first: nothing is started or recorded by it; an impossible budget gets the fix.
    const before = (await client.sweeps.list()).length;
    const estimate = await client.sweeps.estimate({ notebook: path });
    assert.equal(estimate.forecast.feasible, true);
    assert.deepEqual([estimate.trials, estimate.rungs], [3, [1, 3]]);
    assert.ok(estimate.forecast.costUsd.expected > 0 && estimate.forecast.costUsd.high >= estimate.forecast.costUsd.expected);
    const tooPoor = await client.sweeps.estimate({ notebook: path, budgetUsd: estimate.forecast.costUsd.expected / 100 });
    assert.equal(tooPoor.forecast.feasible, false);
    assert.match(tooPoor.forecast.advice ?? '', /budget of at least \$/);
    assert.equal((await client.sweeps.list()).length, before);

    const { sweepId } = await client.sweeps.start({ notebook: path });
    const seen: SweepEvent[] = [];
    for await (const event of client.sweeps.events(sweepId)) {
      seen.push(event);
      if (event.type === 'trial_finished') break;
    }
    for await (const event of client.sweeps.events(sweepId, { fromSeq: seen.at(-1)!.seq })) seen.push(event);
    assert.deepEqual(seen.map((e) => e.seq), seen.map((_, i) => i + 1), 'every event once, in order, across the re-attach');
    const finished = seen.at(-1)!;
    assert.equal(finished.type, 'sweep_finished');
    assert.equal(finished.type === 'sweep_finished' && finished.status, 'succeeded');
    assert.equal(seen.filter((e) => e.type === 'trial_finished' && e.outcome === 'rung').length, 3 + 1);

    const listed = (await client.sweeps.list()).find((s) => s.sweepId === sweepId);
    assert.equal(listed?.status, 'succeeded');
    assert.ok(listed?.best && listed.best.epochs === 3 && listed.best.metric > 0, JSON.stringify(listed));
    assert.deepEqual(await client.sweeps.get(sweepId), listed);

    await assert.rejects(client.sweeps.start({ notebook: join(work, 'missing.ipynb') }), (err: Error & { code?: string }) => err.code === 'NOTEBOOK_UNREADABLE' && /missing\.ipynb/.test(err.message));
    await assert.rejects(client.sweeps.get('sweep-19990101-000000-000000'), (err: Error & { code?: string }) => err.code === 'RUN_NOT_FOUND');
  });
});
