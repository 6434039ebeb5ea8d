/** Runs the real orchestrator on the local platform in a temporary folder, for tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalPlatform, type LocalPlatformOptions } from '@smlt/shared/backends/local/local-platform';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import type { RunEvent } from '@smlt/shared/run/events';
import { type Captured, type RunOptions, type RunResult, train } from '@smlt/shared/run/orchestrator';

export interface LocalRun {
  root: string;
  store: FolderStore;
  platform: LocalPlatform;
  events: RunEvent[];
  options(extra?: Partial<RunOptions>): RunOptions;
  train(captured: Captured, extra?: Partial<RunOptions>): Promise<RunResult>;
  dispose(): Promise<void>;
}

export async function localRun(platformOptions: LocalPlatformOptions = {}): Promise<LocalRun> {
  const root = await mkdtemp(join(tmpdir(), 'smlt-test-'));
  const storeRoot = join(root, '.smlt');
  const store = new FolderStore(storeRoot);
  const platform = new LocalPlatform({ tmpRoot: join(root, 'containers'), ...platformOptions });
  const events: RunEvent[] = [];
  const options = (extra: Partial<RunOptions> = {}): RunOptions => ({
    platform,
    store,
    storeLocation: { kind: 'folder', root: storeRoot },
    workers: 4,
    memoryMb: 1769,
    syncTimeoutMs: 30_000,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return {
    root,
    store,
    platform,
    events,
    options,
    train: (captured, extra) => train(captured, options(extra)),
    async dispose() {
      await platform.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function withEpochs(captured: Captured, epochs: number): Captured {
  return { ...captured, spec: { ...captured.spec, training: { ...captured.spec.training, epochs } } };
}
