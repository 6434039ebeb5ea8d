import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalPlatform } from '@smlt/shared/backends/local/local-platform';
import { SCRIPTED_WORKER as workerEntry, platformContract } from '../contract/platform.contract.js';

platformContract('LocalPlatform', async ({ workerEntry: entry, timeLimitMs }) => {
  const platform = new LocalPlatform({ workerEntry: entry, timeLimitMs, memoryPollMs: 20 });
  return { platform, dispose: () => platform.close() };
});

interface Echo {
  echo: string;
}

describe('LocalPlatform fault injection', () => {
  it('kills the container running a matching invocation', async () => {
    const platform = new LocalPlatform({ workerEntry, timeLimitMs: 5000 });
    try {
      const running = platform.invoke<{ echo: string; sleepMs: number }, Echo>({ echo: 'victim', sleepMs: 2000 }, { memoryMb: 256 });
      const other = platform.invoke<{ echo: string; sleepMs: number }, Echo>({ echo: 'other', sleepMs: 300 }, { memoryMb: 256 });
      // A container starts slowly on a loaded machine: kill the victim as soon as one runs it.
      let killed = 0;
      for (let i = 0; i < 500 && killed === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        killed = platform.killRunning((e) => (e as { echo?: string }).echo === 'victim');
      }
      assert.equal(killed, 1);
      const [victim, survivor] = await Promise.all([running, other]);
      assert.ok(!victim.ok);
      assert.equal(victim.reason, 'crashed');
      assert.ok(survivor.ok);
    } finally {
      await platform.close();
    }
  });
});

describe('LocalPlatform env', () => {
  it("gives containers the environment it is configured with, not this process's", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smlt-env-'));
    const entry = join(dir, 'env-runtime.mjs');
    await writeFile(
      entry,
      `process.on('message', (m) => process.send({ type: 'result', requestId: m.requestId, ok: true, result: { ...process.env } }));
process.send({ type: 'ready' });`,
    );
    process.env.SMLT_TEST_HOST_ONLY = 'host';
    const platform = new LocalPlatform({ workerEntry: entry, env: { FUNCTION_SETTING: 'on' } });
    try {
      const outcome = await platform.invoke<object, Record<string, string>>({}, { memoryMb: 256 });
      assert.ok(outcome.ok);
      assert.equal(outcome.result.FUNCTION_SETTING, 'on');
      assert.equal(outcome.result.SMLT_TEST_HOST_ONLY, undefined);
      assert.ok(outcome.result.SMLT_TMP);
    } finally {
      delete process.env.SMLT_TEST_HOST_ONLY;
      await platform.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
