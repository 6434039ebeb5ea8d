/**
 * The server extension's Python unit tests (jupyter-ext/tests), run with Debian's python3:
 * an idle event stream closed upstream when its browser leaves, notebook paths kept inside the
 * Jupyter root, and the side process's token-file checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { SETUP_COMMAND, repoRoot } from './lab.js';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import jupyter_server, tornado'], { encoding: 'utf8' });
const missing = probe.status === 0 ? undefined : `Debian's python3 has no jupyter_server; run ${SETUP_COMMAND}`;
if (missing && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${missing}`);

it('smlt_jupyter unit tests pass under Debian python3', { skip: missing ?? false, timeout: 120_000 }, () => {
  const run = spawnSync(PYTHON, ['-m', 'unittest', 'discover', '-s', join(repoRoot, 'jupyter-ext/tests'), '-v'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `python3 -m unittest failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stderr, /Ran [1-9]\d* tests/);
});
