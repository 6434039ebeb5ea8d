/**
 * `npm run package` in vscode-ext makes a .vsix (bundled, no node_modules) that code-server
 * installs offline, with the manifest's id and version.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CODE_SERVER, NODE24, hostMissing, repoRoot } from './editor-host.js';

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but the VS Code test host is missing: ${missing}`);

describe('VS Code extension package', { skip: missing ? `${missing} (the VS Code e2e host is not set up)` : false }, () => {
  it('packs a .vsix that code-server installs offline', { timeout: 300_000 }, async () => {
    const extensionDir = join(repoRoot, 'vscode-ext');
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key];
    const pack = spawnSync('npm', ['run', 'package'], { cwd: extensionDir, encoding: 'utf8', env });
    assert.equal(pack.status, 0, `npm run package failed:\n${pack.stdout}\n${pack.stderr}`);
    const vsix = join(extensionDir, 'dist/smlt-vscode.vsix');
    assert.ok(existsSync(vsix));
    const listing = pack.stdout;
    assert.match(listing, /dist\/\s*\n.*extension\.js/s);
    assert.doesNotMatch(listing, /node_modules|src\/|\.map/, 'only the bundle, manifest and readme are packed');

    const home = await mkdtemp(join(tmpdir(), 'smlt-vsix-'));
    try {
      const run = (...args: string[]) =>
        spawnSync(NODE24, [CODE_SERVER, '--user-data-dir', join(home, 'ud'), '--extensions-dir', join(home, 'ext'), ...args], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_DATA_HOME: join(home, '.local/share') },
        });
      const install = run('--install-extension', vsix);
      assert.equal(install.status, 0, install.stderr);
      assert.match(install.stdout, /successfully installed/);
      assert.match(run('--list-extensions', '--show-versions').stdout, /^smlt\.smlt-vscode@0\.1\.0$/m);
    } finally {
      await rm(home, { recursive: true, force: true });
      // The e2e test loads the unminified build with source maps.
      spawnSync(process.execPath, ['build.mjs'], { cwd: extensionDir });
    }
  });
});
