/**
 * The local platform remembers how long its worker processes took to start, so that the next
 * plan of a local run starts from this machine's figure: the median of the last few cold starts,
 * kept in $SMLT_HOME, and never an error when that file is missing, broken or cannot be written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordWorkerStart, typicalWorkerStartS } from '@smlt/shared/backends/local/worker-starts';

describe('remembered worker starts', () => {
  let home: string;
  const previous = process.env.SMLT_HOME;
  before(() => {
    home = mkdtempSync(join(tmpdir(), 'smlt-starts-'));
    process.env.SMLT_HOME = join(home, 'home');
  });
  after(() => {
    if (previous === undefined) delete process.env.SMLT_HOME;
    else process.env.SMLT_HOME = previous;
    rmSync(home, { recursive: true, force: true });
  });

  it('has no figure before the first start, then the median of the last nine', () => {
    assert.equal(typicalWorkerStartS(), undefined);
    recordWorkerStart(400);
    assert.equal(typicalWorkerStartS(), 0.4);
    // One slow start (a loaded machine) does not move the median far.
    recordWorkerStart(5000);
    recordWorkerStart(300);
    assert.equal(typicalWorkerStartS(), 0.4);
    for (let i = 0; i < 9; i++) recordWorkerStart(1000 + i);
    // The three early starts have been forgotten: only the last nine count.
    assert.equal(typicalWorkerStartS(), 1.004);
  });

  it('ignores a broken file and values that are not start times', () => {
    writeFileSync(join(process.env.SMLT_HOME!, 'local-worker-starts.json'), '{"startsMs": [');
    assert.equal(typicalWorkerStartS(), undefined);
    writeFileSync(join(process.env.SMLT_HOME!, 'local-worker-starts.json'), '{"startsMs": ["x", -5, 1e12, 250]}');
    assert.equal(typicalWorkerStartS(), 0.25);
    recordWorkerStart(Number.NaN);
    assert.equal(typicalWorkerStartS(), 0.25);
  });

  it('does not fail a run when the home folder cannot be written', () => {
    // SMLT_HOME below a plain file: no folder can be made there, not even by root.
    const blocker = join(home, 'a-file');
    writeFileSync(blocker, '');
    process.env.SMLT_HOME = join(blocker, 'home');
    try {
      assert.doesNotThrow(() => recordWorkerStart(300));
      assert.equal(typicalWorkerStartS(), undefined);
    } finally {
      process.env.SMLT_HOME = join(home, 'home');
    }
  });
});
