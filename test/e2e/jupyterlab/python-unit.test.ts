/**
 * The server extension's Python unit tests (jupyter-ext/tests), run with the JupyterLab venv's
 * Python (jupyter_server 2.21): an idle event stream closed upstream when its browser leaves,
 * notebook paths kept inside the Jupyter root, and the side process's token-file checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { VENV_PYTHON, hostMissing, repoRoot } from './lab.js';

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${missing}`);

it('smlt_jupyter unit tests pass on jupyter_server 2', { skip: missing ?? false, timeout: 120_000 }, () => {
  const run = spawnSync(VENV_PYTHON, ['-m', 'unittest', 'discover', '-s', join(repoRoot, 'jupyter-ext/tests'), '-v'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `python -m unittest failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, /Ran [1-9]\d* tests/);
});
