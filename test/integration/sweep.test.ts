/**
 * `smlt sweep` as a user runs it: a real process, real worker processes, trials as real runs. The
 * iris notebook with `hp.choice` in its model cell and a learning-rate range in its sweep cell.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRunner, cliIn } from '../helpers/cli.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

interface Event {
  type: string;
  trial?: number;
  rung?: number;
  outcome?: string;
  kind?: string;
  costUsd?: number;
  reason?: string;
  forecast?: { feasible: boolean; costUsd: { expected: number } };
}

/** examples/iris-csv.ipynb with its hidden layer's width an hp choice, 9 epochs (of `batchSize`), and a sweep cell. */
function irisSweep(dir: string, sweep: string, batchSize = 16): string {
  const nb = JSON.parse(readFileSync(join(examples, 'iris-csv.ipynb'), 'utf8')) as { cells: Array<{ source: string | string[]; metadata: Record<string, unknown> }> };
  for (const cell of nb.cells) {
    const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    if (text.includes('smlt: model')) cell.source = text.replace('units: 12', "units: hp.choice('units', [4, 12, 32])");
    if (text.includes('smlt: config')) cell.source = text.replace('epochs: 60', 'epochs: 9').replace('batchSize: 16', `batchSize: ${batchSize}`);
  }
  nb.cells.push({ cell_type: 'code', metadata: {}, outputs: [], execution_count: null, source: `// smlt: sweep\n${sweep}` } as never);
  copyFileSync(join(examples, 'iris.csv'), join(dir, 'iris.csv'));
  const path = join(dir, 'iris-sweep.ipynb');
  writeFileSync(path, JSON.stringify(nb));
  return path;
}

describe('smlt sweep', () => {
  let work: string;
  let cli: CliRunner;
  const sweepsDir = () => join(work, 'home', 'sweeps');

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'smlt-sweep-'));
    cli = cliIn(work, { ...process.env, SMLT_HOME: join(work, 'home') });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('refuses a budget the sweep cannot hold, saying how many trials fit, and starts nothing', async () => {
    // 12 trials train about 26 epochs (12 + 4 × 2 + 6); the budget holds about 18.
    const notebook = irisSweep(work, 'trials: 12\nspace:\n  learningRate: {log: [0.001, 0.1]}');
    const { code, lines } = await cli.smlt(['sweep', notebook, '--budget', '0.0012', '--json']);
    assert.equal(code, 2);
    const error = (lines.at(-1) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'OPTION_INVALID');
    assert.match(error.message, /12 trials to 9 epochs costs about \$[\d.]+ \(budget \$0.0012\): give at most \d+ trials \(trials: \d+\), or a budget of at least \$/);
    assert.equal(existsSync(sweepsDir()), false, 'no sweep state is written');
  });

  it('refuses a bad space naming the field, before anything starts', async () => {
    const notebook = irisSweep(work, 'space:\n  learningRate: {log: [0.1, 0.001]}');
    const { code, lines } = await cli.smlt(['sweep', notebook, '--json']);
    assert.equal(code, 2);
    const error = (lines.at(-1) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'SWEEP_INVALID');
    assert.match(error.message, /\(smlt:sweep\): space.learningRate: the range 0.1 to 0.001 is empty/);
  });

  it('runs ASHA to the end: first rungs, promotions of the best third, the best model, its settings and the leaderboard', async () => {
    const notebook = irisSweep(work, 'trials: 6\nspace:\n  learningRate: {log: [0.003, 0.1]}');
    const { code, lines, stderr } = await cli.smlt(['sweep', notebook, '--json']);
    assert.equal(code, 0, stderr);
    const events = lines as unknown as Event[];
    const result = lines.at(-1) as { status: string; sweepId: string; best: { trial: number; runId: string; metric: number }; costUsd: number; outDir: string };
    assert.equal(result.status, 'succeeded');
    const started = events.find((e) => e.type === 'sweep_started')!;
    assert.ok(started.forecast?.feasible);
    const rungs = events.filter((e) => e.type === 'trial_finished' && e.outcome === 'rung');
    assert.equal(rungs.filter((e) => e.rung === 0).length, 6, 'every trial trains its first rung');
    assert.equal(rungs.filter((e) => e.rung === 1).length, 2, 'the best third is promoted to 3 epochs');
    assert.equal(rungs.filter((e) => e.rung === 2).length, 1, 'and the best of those to 9');
    assert.ok(events.filter((e) => e.type === 'trial_started').every((e) => (e.reason ?? '').length > 20), 'every job says why');
    const spent = rungs.reduce((s, e) => s + (e.costUsd ?? 0), 0);
    assert.ok(Math.abs(spent - result.costUsd) < 1e-9, `the sweep's cost ${result.costUsd} is its trials' ${spent}`);
    // The best trial reached the top rung on this easy data, and its model and settings came back.
    assert.ok(result.best.metric >= 0.6, `best held-out accuracy ${result.best.metric}`);
    assert.ok(existsSync(join(result.outDir, 'best-model', 'model.json')));
    assert.match(readFileSync(join(result.outDir, 'best-settings.yaml'), 'utf8'), /^learningRate: [\d.e-]+$/m);
    const report = JSON.parse(readFileSync(join(result.outDir, 'report.json'), 'utf8')) as { trials: Array<{ status: string; runId: string }> };
    assert.equal(report.trials.find((t) => t.status === 'best')?.runId, result.best.runId);

    const listed = await cli.smlt(['runs']);
    assert.match(listed.stdout, new RegExp(`${result.sweepId}\\s+succeeded\\s+6 trials\\s+best accuracy`));
    // Its trials are runs, listed under the sweep rather than one by one.
    const trialRuns = report.trials.map((t) => t.runId);
    assert.ok(trialRuns.every((id) => !listed.stdout.includes(id)), listed.stdout);
    assert.match(listed.stdout, /\(6 trial runs of sweeps not shown: smlt runs --trials\)/);
    const withTrials = await cli.smlt(['runs', '--trials']);
    assert.ok(trialRuns.every((id) => new RegExp(`${id}.*\\(trial of ${result.sweepId}\\)`).test(withTrials.stdout)), withTrials.stdout);
    const table = await cli.smlt(['report', result.sweepId]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /trial\s+settings\s+epochs\s+val_accuracy\s+cost\s+status/);
    assert.equal(table.stdout.split('\n').filter((l) => /learningRate=/.test(l)).length, 6);
  });

  it('keeps the whole sweep within its budget, stopping before a job that could pass it', async () => {
    const notebook = irisSweep(work, 'trials: 6\nspace:\n  learningRate: {log: [0.003, 0.1]}');
    const plan = await cli.smlt(['sweep', notebook, '--budget', '1', '--json']);
    const full = (plan.lines.at(-1) as { costUsd: number }).costUsd;
    // Enough for the first rungs and a promotion or two, not for the whole sweep.
    const budget = Number((full * 0.6).toPrecision(2));
    const { code, lines, stderr } = await cli.smlt(['sweep', notebook, '--budget', String(budget), '--json']);
    const result = lines.at(-1) as { status: string; costUsd: number };
    if (code === 2) {
      // The forecast (pessimistic) may already refuse it: that is a clean refusal, not an overrun.
      assert.match(JSON.stringify(lines.at(-1)), /OPTION_INVALID/);
      return;
    }
    assert.equal(code, 0, stderr);
    assert.ok(result.costUsd <= budget, `spent ${result.costUsd} of ${budget}`);
  });

  it('resumes a cancelled sweep without redoing a finished rung', async () => {
    // Small batches, so that the sweep is still training when it is cancelled.
    const notebook = irisSweep(work, 'trials: 6\nspace:\n  learningRate: {log: [0.003, 0.1]}', 2);
    const { child, done } = cli.start(['sweep', notebook, '--json']);
    let out = '';
    await new Promise<void>((resolve) =>
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if ((out.match(/"type":"trial_finished"/g) ?? []).length >= 2) resolve();
      }),
    );
    child.kill('SIGINT');
    const first = await done;
    assert.equal(first.code, 1, first.stderr);
    const cancelled = first.lines.at(-1) as { status: string; sweepId: string };
    assert.equal(cancelled.status, 'cancelled');

    const resumed = await cli.smlt(['resume', cancelled.sweepId, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((resumed.lines.at(-1) as { status: string }).status, 'succeeded');
    const events = readFileSync(join(sweepsDir(), cancelled.sweepId, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Event);
    const finishedRungs = events.filter((e) => e.type === 'trial_finished' && e.outcome === 'rung').map((e) => `${e.trial}@${e.rung}`);
    assert.equal(new Set(finishedRungs).size, finishedRungs.length, `a rung was trained twice: ${finishedRungs.join(' ')}`);
    assert.equal(finishedRungs.length, 6 + 2 + 1);
    assert.ok(readdirSync(sweepsDir()).includes(cancelled.sweepId));
  });
});
