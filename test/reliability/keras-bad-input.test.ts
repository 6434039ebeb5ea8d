/**
 * Keras notebooks SMLT cannot train (test/fixtures/keras/bad-corpus.ts): `smlt train` refuses
 * each with exit code 2 and an error naming the problem, and launches nothing (no run folder).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BAD_CORPUS } from '../fixtures/keras/bad-corpus.js';
import { KERAS_PYTHON, kerasMissing, pythonNotebook } from '../helpers/keras-host.js';

const CLI = fileURLToPath(new URL('../../shared/bin/smlt.js', import.meta.url));
const skip = kerasMissing();
const root = mkdtempSync(join(tmpdir(), 'smlt-keras-bad-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('Keras notebooks SMLT refuses', { skip }, () => {
  BAD_CORPUS.forEach((bad, i) => {
    it(`${bad.name}: ${bad.code}`, () => {
      const dir = join(root, `case-${i}`);
      mkdirSync(dir);
      const path = join(dir, 'notebook.ipynb');
      writeFileSync(path, JSON.stringify(pythonNotebook(bad.cells)));
      const flags = ['--python', KERAS_PYTHON, '--python-timeout', String(bad.pythonTimeoutS ?? 300)];
      const run = spawnSync(process.execPath, [CLI, 'train', path, ...flags], { encoding: 'utf8', timeout: 400_000 });
      assert.equal(run.status, 2, `expected exit 2 (bad input), got ${run.status}:\n${run.stderr.slice(-2000)}`);
      assert.match(run.stderr, new RegExp(`error \\[${bad.code}\\]`), run.stderr.slice(-2000));
      assert.match(run.stderr, bad.message, run.stderr.slice(-2000));
      assert.ok(!existsSync(join(dir, '.smlt', 'runs')), 'nothing was launched');
    });
  });
});
