/** Runs the ObjectStore contract against FolderStore, plus what only a folder can show. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import { openStore } from '@smlt/shared/backends/open-store';
import { isSmltError } from '@smlt/shared/errors';
import { INVALID_KEYS, objectStoreContract } from './object-store.contract.js';

/** The store's root sits one level inside a temp folder, so an escape would land beside it. */
async function makeFolder(): Promise<{ dir: string; root: string; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'smlt-folder-store-'));
  return { dir, root: join(dir, 'store'), dispose: () => rm(dir, { recursive: true, force: true }) };
}

objectStoreContract('FolderStore', async () => {
  const { root, dispose } = await makeFolder();
  return { store: new FolderStore(root), dispose };
});

describe('FolderStore on disk', () => {
  it('names its root in its url', async () => {
    const { root, dispose } = await makeFolder();
    try {
      assert.equal(new FolderStore(root).url, `file://${root}`);
    } finally {
      await dispose();
    }
  });

  it('writes nothing outside its root for any rejected key', async () => {
    const { dir, root, dispose } = await makeFolder();
    try {
      const store = new FolderStore(root);
      await store.put('inside', 'ok');
      for (const key of INVALID_KEYS) await store.put(key, 'x').catch(() => undefined);
      assert.deepEqual(await readdir(dir), ['store']);
      assert.deepEqual(await readdir(root), ['inside']);
      assert.equal(existsSync('/etc/passwd.smlt'), false);
    } finally {
      await dispose();
    }
  });

  it('hides temp files a crashed writer left behind and refuses keys that look like them', async () => {
    const { root, dispose } = await makeFolder();
    try {
      const store = new FolderStore(root);
      await store.put('a/real', 'x');
      await writeFile(join(root, 'a', '.0123456789abcdef.smlt-tmp'), 'partial');
      assert.deepEqual(await store.list(''), ['a/real']);
      await assert.rejects(store.put('a/b.smlt-tmp', 'x'), (err) => isSmltError(err, 'STORE_KEY_INVALID'));
    } finally {
      await dispose();
    }
  });

  it('removes folders a delete leaves empty, and keeps its root', async () => {
    const { root, dispose } = await makeFolder();
    try {
      const store = new FolderStore(root);
      await store.put('runs/r1/sync/e0000/ab/x', '1');
      await store.put('runs/r1/sync/e0000/cd/y', '2');
      await store.put('runs/r1/spec.json', '{}');
      await store.delete(await store.list('runs/r1/sync/'));
      assert.deepEqual(await readdir(join(root, 'runs', 'r1')), ['spec.json']);
      await store.delete(['runs/r1/spec.json']);
      assert.deepEqual(await readdir(root), []);
    } finally {
      await dispose();
    }
  });

  it('reports a key that is also a folder as a store error, not a crash', async () => {
    const { root, dispose } = await makeFolder();
    try {
      const store = new FolderStore(root);
      await store.put('a/b', 'x');
      await assert.rejects(store.put('a', 'y'), (err) => isSmltError(err, 'STORE_ERROR') && err.message.includes('a/b'));
      await mkdir(join(root, 'c'));
      assert.equal(await store.get('c'), undefined);
    } finally {
      await dispose();
    }
  });
});

describe('openStore', () => {
  it('opens a folder store for a folder location', async () => {
    const { root, dispose } = await makeFolder();
    try {
      const store = openStore({ kind: 'folder', root });
      assert.ok(store instanceof FolderStore);
      await store.put('k', 'v');
      assert.equal(await store.has('k'), true);
    } finally {
      await dispose();
    }
  });
});
