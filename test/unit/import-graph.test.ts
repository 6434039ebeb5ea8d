/**
 * The import graph of every package, read by dpdm the way TypeScript resolves it (type-only
 * imports included): no module may import itself through others (a circle makes load order
 * matter and hides which of two modules is the lower one), and the core's folders import only
 * folders below them, in the layers shared/src/README.md draws.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseCircular, parseDependencyTree } from 'dpdm';

const root = new URL('../..', import.meta.url).pathname;
const PACKAGES = ['shared', 'lambda-worker', 'vscode-ext', 'jupyter-ext'];

/** shared/src's folders (and top-level files), lowest first: each may import only from layers before its own. */
const LAYERS = [
  ['errors.ts', 'processes.ts', 'home.ts'],
  ['tf', 'spec', 'net'],
  ['cost', 'data', 'model', 'sizing'],
  ['backends', 'scheduler', 'capture'],
  ['sync', 'sim', 'run'],
  ['panel', 'service'],
  ['sweep'],
  ['serve'],
  ['cli', 'index.ts'],
];

const readTree = (pkg: string) =>
  parseDependencyTree(`${pkg}/src/**/*.{ts,tsx}`, {
    cwd: root,
    context: root,
    tsconfig: join(root, pkg, 'tsconfig.json'),
    transform: false,
    skipDynamicImports: false,
  });

describe('import graph', () => {
  for (const pkg of PACKAGES) {
    it(`${pkg} has no import circles`, async () => {
      const tree = await readTree(pkg);
      const sources = readdirSync(join(root, pkg, 'src'), { recursive: true }).map(String).filter((f) => /\.tsx?$/.test(f));
      const read = Object.keys(tree).filter((f) => f.startsWith(`${pkg}/src/`));
      assert.equal(read.length, sources.length, `dpdm read every source file of ${pkg}/src`);
      const circles = parseCircular(tree).map((circle) => circle.map((f) => relative(`${pkg}/src`, f)).join(' -> '));
      assert.deepEqual(circles, [], `import circles in ${pkg}/src`);
    });
  }

  it('shared/src imports downward only: each folder from the layers below it', async () => {
    const tree = await readTree('shared');
    const layerOf = (file: string) => {
      const top = relative('shared/src', file).split('/')[0]!;
      const layer = LAYERS.findIndex((names) => names.includes(top));
      assert.ok(layer >= 0, `shared/src/${top} is in no layer: add it to LAYERS here and to shared/src/README.md`);
      return { top, layer };
    };
    const upward: string[] = [];
    for (const [file, deps] of Object.entries(tree)) {
      if (!file.startsWith('shared/src/') || !deps) continue;
      const from = layerOf(file);
      for (const dep of deps) {
        if (!dep.id?.startsWith('shared/src/')) continue;
        const to = layerOf(dep.id);
        if (to.top !== from.top && to.layer >= from.layer) upward.push(`${relative('shared/src', file)} -> ${relative('shared/src', dep.id)}`);
      }
    }
    assert.deepEqual(upward, [], 'imports from a folder in the same layer or above');
  });
});
