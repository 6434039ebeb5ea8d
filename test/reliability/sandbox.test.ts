/**
 * Notebook code runs only in the capture sandbox: a child process with Node's permission model,
 * an empty environment, a wall-clock limit and a memory limit. Each test escapes node:vm the
 * documented way (DESIGN.md) and reports what the escaped code could do through its error.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { captureModelCell } from '@smlt/shared/capture/model-cell';
import { isSmltError } from '@smlt/shared/errors';
import { modelCell } from '../unit/notebook-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'smlt-sandbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs hostile code that escapes vm and throws what it saw; resolves with that report. */
async function escaped(body: string): Promise<Record<string, unknown>> {
  const source = `const p = this.constructor.constructor('return process')();
const seen = {};
${body}
throw new Error('REPORT' + JSON.stringify(seen));`;
  try {
    await captureModelCell(modelCell(source), { notebookDir: dir });
  } catch (err) {
    assert.ok(isSmltError(err, 'MODEL_CODE_FAILED'), `expected MODEL_CODE_FAILED, got ${String(err)}`);
    const report = /REPORT(\{.*\})/.exec(err.message)?.[1];
    assert.ok(report, `the cell's report is in the message: ${err.message}`);
    return JSON.parse(report) as Record<string, unknown>;
  }
  assert.fail('the hostile cell was accepted');
}

describe('the capture sandbox', () => {
  it('gives escaped code a process without this process\'s environment or credentials', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'sandbox-test-secret-do-not-leak';
    try {
      const seen = await escaped(`seen.pid = p.pid; seen.env = Object.keys(p.env); seen.secret = p.env.AWS_SECRET_ACCESS_KEY ?? null;`);
      assert.notEqual(seen.pid, process.pid, 'the cell runs in another process');
      assert.deepEqual(seen.env, [], 'the sandbox has an empty environment');
      assert.equal(seen.secret, null, 'no credential reaches notebook code');
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('refuses file writes, reads outside SMLT, child processes and worker threads', async () => {
    const target = join(dir, 'written-by-notebook.txt');
    const seen = await escaped(`
const fs = p.getBuiltinModule ? p.getBuiltinModule('fs') : p.mainModule?.require('fs');
const cp = p.getBuiltinModule ? p.getBuiltinModule('child_process') : undefined;
const attempt = (name, f) => { try { f(); seen[name] = 'allowed'; } catch (e) { seen[name] = e.code ?? String(e); } };
attempt('binding', () => { if (!fs) throw Object.assign(new Error('no fs'), { code: 'NO_MODULE' }); });
if (fs) {
  attempt('write', () => fs.writeFileSync(${JSON.stringify(target)}, 'x'));
  attempt('readPasswd', () => fs.readFileSync('/etc/passwd'));
  attempt('readHome', () => fs.readdirSync(${JSON.stringify(process.env.HOME ?? '/root')}));
}
if (cp) attempt('spawn', () => cp.execSync('true'));
seen.permission = typeof p.permission?.has === 'function' ? p.permission.has('fs.write') : 'no permission api';
`);
    // Node 20 has no process.getBuiltinModule and an ESM main has no mainModule: then escaped
    // code has no fs at all, which is stricter still.
    if (seen.binding === 'allowed') {
      assert.equal(seen.write, 'ERR_ACCESS_DENIED', `write: ${JSON.stringify(seen)}`);
      assert.equal(seen.readPasswd, 'ERR_ACCESS_DENIED', `read: ${JSON.stringify(seen)}`);
      assert.equal(seen.readHome, 'ERR_ACCESS_DENIED', `readdir: ${JSON.stringify(seen)}`);
    }
    if ('spawn' in seen) assert.equal(seen.spawn, 'ERR_ACCESS_DENIED', `spawn: ${JSON.stringify(seen)}`);
    assert.equal(seen.permission, false, `the permission model is on and denies writes: ${JSON.stringify(seen)}`);
    assert.equal(existsSync(target), false, 'nothing was written');
  });

  it('answers even when escaped code replaces process.send, and fails clearly when it exits the sandbox', async () => {
    const silenced = "const p = this.constructor.constructor('return process')(); p.send = () => true; const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });";
    assert.equal((await captureModelCell(modelCell(silenced), { notebookDir: dir })).paramCount, 3);
    const exits = "this.constructor.constructor('return process')().exit(3);";
    await assert.rejects(
      captureModelCell(modelCell(exits), { notebookDir: dir, timeoutMs: 300 }),
      (err) => isSmltError(err, 'MODEL_CODE_FAILED') && /exited \(code 3\) without answering/.test(err.message) && !/ExperimentalWarning/.test(err.message),
    );
  });

  it('stops an endless loop and an endless promise chain with MODEL_CODE_TIMEOUT', async () => {
    for (const source of ['while (true) {}', 'const spin = () => Promise.resolve().then(spin); spin(); const model = 1;']) {
      await assert.rejects(
        captureModelCell(modelCell(source), { notebookDir: dir, timeoutMs: 300 }),
        (err) => isSmltError(err, 'MODEL_CODE_TIMEOUT') && /endless loop/.test(err.message),
        source,
      );
    }
  });

  it('stops model code that allocates more than the memory limit, naming the limit', async () => {
    // Layers are built shapes-only (a large model is refused by its parameter count instead), so allocate a tensor.
    const source = `const filler = tf.ones([80000000]);\nconst model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 1 })] });`;
    await assert.rejects(
      captureModelCell(modelCell(source), { notebookDir: dir, memoryMb: 200 }),
      (err) => isSmltError(err, 'MODEL_INVALID') && /200 MB/.test(err.message) && /too large/.test(err.message),
    );
  });

  it('still captures a normal model, with its shapes and parameter count', async () => {
    const spec = await captureModelCell(
      modelCell(`const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });`),
      { notebookDir: dir },
    );
    assert.deepEqual([spec.inputShape, spec.outputShape, spec.paramCount], [[4], [3], 15]);
  });
});
