/**
 * The import graph of every package, read by dpdm the way TypeScript resolves it (type-only
 * imports included): no module may import itself through others. A circle makes load order
 * matter and hides which of two modules is the lower one; shared/src/README.md draws the
 * direction each folder's arrows go.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseCircular, parseDependencyTree } from 'dpdm';

const root = new URL('../..', import.meta.url).pathname;
const PACKAGES = ['shared', 'lambda-worker', 'vscode-ext', 'jupyter-ext'];

describe('import graph', () => {
  for (const pkg of PACKAGES) {
    it(`${pkg} has no import circles`, async () => {
      const tree = await parseDependencyTree(`${pkg}/src/**/*.{ts,tsx}`, {
        cwd: root,
        context: root,
        tsconfig: join(root, pkg, 'tsconfig.json'),
        transform: false,
        skipDynamicImports: false,
      });
      const sources = readdirSync(join(root, pkg, 'src'), { recursive: true }).map(String).filter((f) => /\.tsx?$/.test(f));
      const read = Object.keys(tree).filter((f) => f.startsWith(`${pkg}/src/`));
      assert.equal(read.length, sources.length, `dpdm read every source file of ${pkg}/src`);
      const circles = parseCircular(tree).map((circle) => circle.map((f) => relative(`${pkg}/src`, f)).join(' -> '));
      assert.deepEqual(circles, [], `import circles in ${pkg}/src`);
    });
  }
});
