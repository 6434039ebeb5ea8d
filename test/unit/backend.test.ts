/**
 * The backend registry. Backend choice is per process (a wasm init cannot be undone), so the
 * environment-dependent cases each run in a fresh Node process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '@smlt/shared/tf/backend';
import { backendInfo, initBackend } from '@smlt/shared/tf/backend';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** initBackend() in a fresh process with `env`; its backendInfo(), or the error it threw. */
async function freshProcess(env: Record<string, string>): Promise<BackendInfo | { error: string; code?: string }> {
  const script = `
    import { initBackend, backendInfo } from '@smlt/shared/tf/backend';
    try { await initBackend(); console.log(JSON.stringify(backendInfo())); }
    catch (err) { console.log(JSON.stringify({ error: err.message, code: err.code })); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, SMLT_BACKEND: '', SMLT_WASM_DIR: '', ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as BackendInfo | { error: string };
}

describe('initBackend', () => {
  let bundleDir: string;
  let emptyDir: string;
  before(async () => {
    // A bundled Lambda zip: the .wasm binaries beside the bundle, not in node_modules.
    bundleDir = await mkdtemp(join(tmpdir(), 'smlt-bundle-'));
    emptyDir = await mkdtemp(join(tmpdir(), 'smlt-empty-'));
    const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    for (const file of (await readdir(dist)).filter((f) => f.endsWith('.wasm'))) {
      await copyFile(join(dist, file), join(bundleDir, file));
    }
  });
  after(async () => {
    await rm(bundleDir, { recursive: true, force: true });
    await rm(emptyDir, { recursive: true, force: true });
  });

  it('picks wasm with SIMD on one thread, saying why native was skipped, and is idempotent', async () => {
    const [first, second] = await Promise.all([initBackend(), initBackend()]);
    assert.equal(first, 'wasm');
    assert.equal(second, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const info = backendInfo();
    assert.equal(info.simd, true);
    assert.equal(info.threads, 1);
    assert.equal(info.skipped[0]?.name, 'native');
    assert.match(info.skipped[0]?.reason ?? '', /tfjs-node/);
    assert.equal(await initBackend(), 'wasm');
  });

  it('switches on an explicit preference and back', async () => {
    assert.equal(await initBackend('cpu'), 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.deepEqual(backendInfo(), { name: 'cpu', threads: 1, skipped: [] });
    assert.equal(await initBackend(), 'cpu'); // no preference: keeps the active one
    assert.equal(await initBackend('wasm'), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('loads the wasm binaries from SMLT_WASM_DIR', async () => {
    const info = await freshProcess({ SMLT_WASM_DIR: bundleDir });
    assert.ok('name' in info && info.name === 'wasm', JSON.stringify(info));
  });

  it('falls back to cpu, with the reason, when SMLT_WASM_DIR lacks the binaries', async () => {
    const info = await freshProcess({ SMLT_WASM_DIR: emptyDir });
    assert.ok('name' in info && info.name === 'cpu', JSON.stringify(info));
    const wasm = info.skipped.find((s) => s.name === 'wasm');
    assert.match(wasm?.reason ?? '', /SMLT_WASM_DIR/);
  });

  it('takes its default preference from SMLT_BACKEND and rejects unknown names', async () => {
    const cpu = await freshProcess({ SMLT_BACKEND: 'cpu' });
    assert.ok('name' in cpu && cpu.name === 'cpu' && cpu.skipped.length === 0, JSON.stringify(cpu));
    const bad = await freshProcess({ SMLT_BACKEND: 'gpu' });
    assert.ok('error' in bad && bad.code === 'OPTION_INVALID', JSON.stringify(bad));
  });
});
