/**
 * The orchestrator itself killed: `smlt train` gets SIGKILL in the middle of epoch 2 of
 * examples/mnist.ipynb; `smlt resume` refuses to take over a run whose heartbeat is fresh, and with
 * `--force` redoes only the epoch in progress and ends with the same accuracy.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRunner, cliIn } from '../helpers/cli.js';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

describe('the orchestrator killed', () => {
  let work: string;
  let cli: CliRunner;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'smlt-kill-'));
    cpSync(examples, join(work, 'examples'), { recursive: true, filter: (src) => !src.includes('.smlt') });
    cli = cliIn(work, { ...process.env, SMLT_HOME: join(work, 'home') });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('resumes a run whose orchestrator was killed mid-epoch, from its last checkpoint', async () => {
    const run = cli.start(['train', 'examples/mnist.ipynb', '--workers', '2', '--epochs', '2', '--json']);
    let runId = '';
    await new Promise<void>((resolve, reject) => {
      run.child.stdout!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line.startsWith('{')) continue;
          const event = JSON.parse(line) as { type: string; epoch?: number; iteration?: number; runId: string };
          runId = event.runId;
          if (event.type === 'progress' && event.epoch === 1 && (event.iteration ?? 0) > 0) {
            run.child.kill('SIGKILL');
            resolve();
          }
        }
      });
      run.done.then(() => reject(new Error('the run ended before it could be killed')));
    });
    await run.done;

    const busy = await cli.smlt(['resume', runId, '--json']);
    assert.equal(busy.code, 2, 'a run with a fresh heartbeat is not taken over without --force');
    assert.equal((busy.lines.at(-1) as { error: { code: string } }).error.code, 'RUN_BUSY');

    const resumed = await cli.smlt(['resume', runId, '--force', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const started = resumed.lines.find((l) => l.type === 'run_started') as { resumedFromEpoch: number; seq: number };
    assert.equal(started.resumedFromEpoch, 1, 'only the epoch in progress is redone');
    const result = resumed.lines.at(-1) as { status: string; metrics: { accuracy: number }; runId: string };
    assert.equal(result.status, 'succeeded');
    assert.ok(result.metrics.accuracy >= 0.9, `accuracy ${result.metrics.accuracy}`);
    const report = JSON.parse(readFileSync(join(work, 'examples', '.smlt', 'runs', runId, 'report.json'), 'utf8'));
    assert.deepEqual(report.epochs.map((e: { epoch: number }) => e.epoch), [0, 1]);
  });
});
