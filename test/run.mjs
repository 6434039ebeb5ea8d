// Runs the node:test suites written in TypeScript (through tsx). Arguments narrow the files;
// with none, every *.test.ts under test/ runs. The e2e tier is included when its host is set up.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const files = args.length > 0 ? args : findTests(join(root, 'test'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...files.map((f) => relative(process.cwd(), f) || f)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

function findTests(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts') && !f.includes('node_modules'))
    .sort()
    .map((f) => join(dir, f));
}
