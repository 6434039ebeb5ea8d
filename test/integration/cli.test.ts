/**
 * The `smlt` command as a user runs it: a real process, real worker processes, JSON lines out.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRunner, cliIn } from '../helpers/cli.js';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));
const badNotebooks = fileURLToPath(new URL('../fixtures/bad', import.meta.url));

describe('smlt command line', () => {
  let work: string;
  let cli: CliRunner;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'smlt-cli-'));
    cpSync(examples, join(work, 'examples'), { recursive: true, filter: (src) => !src.includes('.smlt') });
    cli = cliIn(work, { ...process.env, SMLT_HOME: join(work, 'home') });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('trains examples/mnist.ipynb on 4 workers to ≥ 0.90 held-out accuracy', async () => {
    const { code, lines, stderr } = await cli.smlt(['train', 'examples/mnist.ipynb', '--workers', '4', '--epochs', '2', '--json']);
    const result = lines.at(-1) as { type: string; status: string; runId: string; metrics: { accuracy: number; loss: number }; costUsd: number; modelPath: string; durationS: number };
    assert.equal(code, 0, stderr);
    assert.equal(result.type, 'result');
    assert.equal(result.status, 'succeeded');
    assert.ok(result.metrics.accuracy >= 0.9, `held-out accuracy ${result.metrics.accuracy}`);
    assert.ok(result.metrics.loss > 0 && result.costUsd > 0 && result.durationS > 0, JSON.stringify(result));
    assert.ok(existsSync(result.modelPath), result.modelPath);
    assert.match(result.modelPath, /examples\/\.smlt\/runs\/[^/]+\/model\/model\.json$/);
    const types = new Set(lines.map((l) => l.type));
    for (const t of ['run_started', 'plan', 'epoch_started', 'worker_started', 'worker_finished', 'checkpoint', 'epoch_finished', 'cost', 'run_finished']) {
      assert.ok(types.has(t), `event ${t} missing`);
    }

    const runs = await cli.smlt(['runs', '--json']);
    const listed = (JSON.parse(runs.stdout) as Array<{ runId: string; status: string }>).find((r) => r.runId === result.runId);
    assert.equal(listed?.status, 'succeeded');
  });

  it('rejects a bad notebook with its error code and exit code 2, launching nothing', async () => {
    const notebook = join(badNotebooks, 'two-model-cells.ipynb');
    const { code, lines } = await cli.smlt(['train', notebook, '--json']);
    assert.equal(code, 2);
    assert.deepEqual((lines.at(-1) as { error: { code: string } }).error.code, 'NOTEBOOK_INVALID');
    assert.equal(existsSync(join(badNotebooks, '.smlt')), false, 'no run state is created');

    const usage = await cli.smlt(['train', 'examples/mnist.ipynb', '--workers', 'zero']);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /--workers must be a whole number/);
  });

  it('trains through a running `smlt serve` with --server, and writes a shareable report', async () => {
    const serve = cli.start(['serve']);
    const url = await new Promise<string>((resolve, reject) => {
      serve.child.stdout!.on('data', (chunk: Buffer) => {
        const match = /smlt serve: (http:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
        if (match) resolve(match[1]);
      });
      serve.done.then((r) => reject(new Error(`serve exited: ${r.stderr}`)));
    });
    try {
      const served = await cli.smlt(['train', 'examples/mnist.ipynb', '--server', url, '--workers', '2', '--epochs', '1', '--json']);
      assert.equal(served.code, 0, served.stderr);
      const result = served.lines.at(-1) as { status: string; runId: string };
      assert.equal(result.status, 'succeeded');
      assert.ok(!served.stdout.includes(JSON.parse(readFileSync(join(work, 'home', 'serve.json'), 'utf8')).token), 'the token is never printed');

      const page = join(work, 'report.html');
      const report = await cli.smlt(['report', result.runId, '--html', page]);
      assert.equal(report.code, 0, report.stderr);
      const html = readFileSync(page, 'utf8');
      assert.match(html, /Content-Security-Policy/);
      assert.match(html, /Succeeded/);
      assert.doesNotMatch(html, /<script/i);
    } finally {
      serve.child.kill('SIGINT');
      await serve.done;
    }
    assert.equal(existsSync(join(work, 'home', 'serve.json')), false, 'the token file is removed when the server stops');
  });

  it('cancels a running run from another process', async () => {
    const run = cli.start(['train', 'examples/mnist.ipynb', '--workers', '2', '--epochs', '3', '--json']);
    const runId = await new Promise<string>((resolve) => {
      run.child.stdout!.on('data', (chunk: Buffer) => {
        const first = chunk.toString().split('\n').find((l) => l.includes('"progress"'));
        if (first) resolve((JSON.parse(first) as { runId: string }).runId);
      });
    });
    const cancel = await cli.smlt(['cancel', runId]);
    assert.equal(cancel.code, 0, cancel.stderr);
    const { code, lines } = await run.done;
    assert.equal(code, 1);
    const result = lines.at(-1) as { status: string; reportPath: string };
    assert.equal(result.status, 'cancelled');
    assert.ok(existsSync(result.reportPath), 'a cancelled run leaves its report');
  });
  it('plans a run with `smlt plan --json`: exit 0 when feasible, 1 with advice when not', async () => {
    const ok = await cli.smlt(['plan', 'examples/mnist.ipynb', '--deadline', '20m', '--epochs', '3', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const plan = ok.lines.at(-1) as {
      type: string;
      feasible: boolean;
      constraints: { deadlineS: number; objective: string };
      timeS: { expected: number; low: number; high: number };
      costUsd: { expected: number; low: number; high: number };
      plan: Array<{ fromEpoch: number; toEpoch: number; workers: number; memoryMb: number }>;
      computeMsPerSample: number;
      probe: { steps: number };
      platform: string;
    };
    assert.equal(plan.type, 'plan');
    assert.equal(plan.platform, 'local');
    assert.equal(plan.feasible, true);
    assert.deepEqual(plan.constraints, { objective: 'time', deadlineS: 1200 });
    assert.ok(plan.timeS.low <= plan.timeS.expected && plan.timeS.expected <= plan.timeS.high && plan.timeS.high <= 1200, JSON.stringify(plan.timeS));
    // The slope may be 0 when noise hides it (the step is then costed as a fixed cost), never negative.
    assert.ok(plan.costUsd.expected > 0 && plan.computeMsPerSample >= 0 && plan.probe.steps > 0, JSON.stringify(plan.probe));
    assert.equal(plan.plan[0]?.fromEpoch, 0);
    assert.equal(plan.plan.at(-1)?.toEpoch, 2);
    for (const p of plan.plan) assert.ok(64 % p.workers === 0 && p.workers <= 16, JSON.stringify(p));

    const late = await cli.smlt(['plan', 'examples/mnist.ipynb', '--deadline', '1s', '--epochs', '3', '--json']);
    assert.equal(late.code, 1, late.stderr);
    const infeasible = late.lines.at(-1) as { feasible: boolean; binding: string; advice: { message: string; earliestDeadlineS: number } };
    assert.equal(infeasible.feasible, false);
    assert.equal(infeasible.binding, 'deadline');
    assert.ok(infeasible.advice.earliestDeadlineS > 1, JSON.stringify(infeasible.advice));
    assert.match(infeasible.advice.message, /deadline/);

    const poor = await cli.smlt(['plan', 'examples/mnist.ipynb', '--budget', '0.000001', '--epochs', '3']);
    assert.equal(poor.code, 1, poor.stderr);
    assert.match(poor.stdout, /Not feasible: .*budget/);
    assert.match(poor.stdout, /cost {2}free here, \$[\d.e-]+ \(90%: .+\) as if on AWS Lambda/, 'a local run says it costs nothing here');

    const bad = await cli.smlt(['plan', 'examples/mnist.ipynb', '--deadline', 'soon']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--deadline must be a positive duration/);
  });
});
