/**
 * SMLT's wheel as JupyterLab users install it: built offline from the checkout, `pip install`ed
 * into a fresh venv that has only JupyterLab (from the machine's wheelhouse), where Jupyter then
 * lists the labextension and the server extension as enabled, the Keras weights helper imports,
 * and `pip uninstall` removes every file it put there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXTENSION_DIR, hostMissing, installWheel, repoRoot } from './lab.js';

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${missing}`);

function run(command: string, args: string[], env: Record<string, string> = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}\n${result.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
}

describe('the smlt-jupyterlab wheel in a fresh venv', { skip: missing ?? false, timeout: 300_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'smlt-wheel-'));
  const venv = join(work, 'venv');
  const bin = (name: string) => join(venv, 'bin', name);
  // A user's Jupyter config folders would hide what the venv enabled: look only at the venv's.
  const jupyterEnv = { JUPYTER_CONFIG_DIR: join(work, 'config'), JUPYTER_DATA_DIR: join(work, 'data') };
  let wheel: string;

  before(() => {
    installWheel();
    const dist = join(EXTENSION_DIR, 'dist');
    wheel = join(dist, readdirSync(dist).find((f) => /^smlt_jupyterlab-.*\.whl$/.test(f))!);
    const requirements = join(work, 'requirements.txt');
    writeFileSync(requirements, 'jupyterlab==4.6.4\njupyter_server==2.21.1\n');
    run('bash', [join(repoRoot, '.ci/wheelhouse-venv'), venv, requirements]);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('carries the prebuilt labextension, the server extension config and the Python modules', () => {
    const listing = run(bin('python'), ['-m', 'zipfile', '-l', wheel]);
    for (const path of [
      'smlt_jupyter/__init__.py',
      'smlt_jupyter/handlers.py',
      'smlt_jupyter/side_process.py',
      'smlt_keras.py',
      'data/etc/jupyter/jupyter_server_config.d/smlt_jupyter.json',
      'data/share/jupyter/labextensions/smlt-jupyterlab/package.json',
      'data/share/jupyter/labextensions/smlt-jupyterlab/install.json',
      'data/share/jupyter/labextensions/smlt-jupyterlab/static/remoteEntry.'
    ]) {
      assert.ok(listing.includes(path), `the wheel holds ${path}`);
    }
    process.stdout.write(`# wheel ${wheel.split('/').pop()}: ${(statSync(wheel).size / 1024).toFixed(0)} KiB\n`);
  });

  it('is enabled on install, as Jupyter lists it, and pip uninstall removes it', () => {
    run(bin('pip'), ['install', '--quiet', '--no-index', wheel]);
    const labextensions = run(bin('jupyter'), ['labextension', 'list'], jupyterEnv);
    assert.match(labextensions, /smlt-jupyterlab v0\.1\.0 enabled\s+OK \(python, smlt-jupyterlab\)/);
    const serverExtensions = run(bin('jupyter'), ['server', 'extension', 'list'], jupyterEnv);
    assert.match(serverExtensions, /smlt_jupyter enabled/);
    assert.match(serverExtensions, /smlt_jupyter\s+OK/);
    run(bin('python'), ['-c', 'import smlt_jupyter, smlt_keras; assert callable(smlt_keras.load_weights)']);

    run(bin('pip'), ['uninstall', '--yes', '--quiet', 'smlt-jupyterlab']);
    assert.doesNotMatch(run(bin('jupyter'), ['labextension', 'list'], jupyterEnv), /smlt-jupyterlab/);
    assert.doesNotMatch(run(bin('jupyter'), ['server', 'extension', 'list'], jupyterEnv), /smlt_jupyter/);
    for (const left of ['share/jupyter/labextensions/smlt-jupyterlab', 'etc/jupyter/jupyter_server_config.d/smlt_jupyter.json']) {
      assert.equal(existsSync(join(venv, left)), false, `${left} was removed`);
    }
  });
});
