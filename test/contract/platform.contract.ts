/**
 * What every Platform adapter must do, whatever runs the workers (local child processes, a
 * Lambda emulator, AWS): warm reuse, isolation of concurrent invocations, handler errors with
 * their code, and Lambda's limits — memory, time — enforced by killing the invocation.
 * The adapter runs `SCRIPTED_WORKER` (a local container) or `SCRIPTED_LAMBDA` (a Lambda handler),
 * which do what each event asks. Time assertions are relative to the adapter's `timeLimitMs`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Platform } from '@smlt/shared/backends/ports';

export const SCRIPTED_WORKER = fileURLToPath(new URL('../fixtures/workers/scripted-runtime.mjs', import.meta.url));
export const SCRIPTED_LAMBDA = fileURLToPath(new URL('../fixtures/workers/scripted-lambda.mjs', import.meta.url));

export type PlatformFactory = (options: { workerEntry: string; timeLimitMs: number }) => Promise<{ platform: Platform; dispose(): Promise<void> }>;

interface Echo {
  echo: string;
  pid: number;
  invocations: number;
  tmp: string;
  remainingMs: number;
}

export function platformContract(name: string, make: PlatformFactory): void {
  describe(`Platform contract: ${name}`, () => {
    let platform: Platform;
    let dispose: () => Promise<void>;
    before(async () => ({ platform, dispose } = await make({ workerEntry: SCRIPTED_WORKER, timeLimitMs: 1500 })));
    after(() => dispose());

    it('runs an invocation in a container and reuses it warm for the same memory size', async () => {
      const first = await platform.invoke<object, Echo>({ echo: 'a' }, { memoryMb: 256 });
      const second = await platform.invoke<object, Echo>({ echo: 'b' }, { memoryMb: 256 });
      assert.ok(first.ok && second.ok);
      assert.equal(first.result.echo, 'a');
      assert.equal(first.coldStart, true);
      assert.equal(second.coldStart, false);
      assert.equal(second.result.pid, first.result.pid);
      assert.equal(second.result.invocations, 2);
      const limit = platform.timeLimitMs;
      assert.ok(first.result.remainingMs > limit - 500 && first.result.remainingMs <= limit, `remaining ${first.result.remainingMs} of ${limit} ms`);
      assert.ok(first.peakMemoryMb !== undefined && first.peakMemoryMb > 10);
    });

    it('gives concurrent invocations their own containers and temp folders', async () => {
      const outcomes = await Promise.all(
        [1, 2, 3].map((i) => platform.invoke<object, Echo>({ echo: String(i), sleepMs: 200 }, { memoryMb: 300 })),
      );
      const results = outcomes.map((o) => (assert.ok(o.ok), o.result));
      assert.equal(new Set(results.map((r) => r.pid)).size, 3);
      assert.equal(new Set(results.map((r) => r.tmp)).size, 3);
    });

    it('reports a handler error with its code and keeps the container', async () => {
      const outcome = await platform.invoke<object, Echo>({ throw: 'shard missing' }, { memoryMb: 256 });
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok);
      assert.equal(outcome.reason, 'error');
      assert.equal(outcome.code, 'SYNC_TIMEOUT');
      assert.match(outcome.message, /shard missing/);
    });

    it('kills an invocation that goes over its memory size', async () => {
      const outcome = await platform.invoke<object, Echo>({ allocateMb: 400 }, { memoryMb: 200 });
      assert.ok(!outcome.ok);
      assert.equal(outcome.reason, 'out-of-memory');
      assert.match(outcome.message, /out of memory at \d+ MB \(limit 200 MB\)/);
    });

    it('kills an invocation that runs past the time limit', async () => {
      const outcome = await platform.invoke<object, Echo>({ sleepMs: platform.timeLimitMs + 3000 }, { memoryMb: 256 });
      assert.ok(!outcome.ok);
      assert.equal(outcome.reason, 'timeout');
      assert.ok(outcome.billedMs >= platform.timeLimitMs - 100, `billed ${outcome.billedMs} ms`);
    });

    it('reports a crashed process and starts a fresh container next time', async () => {
      const crashed = await platform.invoke<object, Echo>({ exit: 3 }, { memoryMb: 400 });
      assert.ok(!crashed.ok);
      assert.equal(crashed.reason, 'crashed');
      assert.match(crashed.message, /(code|status) 3/);
      const next = await platform.invoke<object, Echo>({ echo: 'again' }, { memoryMb: 400 });
      assert.ok(next.ok);
      assert.equal(next.coldStart, true);
    });

    it('stops an invocation when its signal aborts', async () => {
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 100);
      const outcome = await platform.invoke<object, Echo>({ sleepMs: 3000 }, { memoryMb: 256, signal: abort.signal });
      assert.ok(!outcome.ok);
      assert.equal(outcome.reason, 'aborted');
    });
  });
}
