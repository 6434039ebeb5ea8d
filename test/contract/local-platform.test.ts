import assert from 'node:assert/strict';
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
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(platform.killRunning((e) => (e as { echo?: string }).echo === 'victim'), 1);
      const [victim, survivor] = await Promise.all([running, other]);
      assert.ok(!victim.ok);
      assert.equal(victim.reason, 'crashed');
      assert.ok(survivor.ok);
    } finally {
      await platform.close();
    }
  });
});
