// Runs the node:test suites written in TypeScript (through tsx), in two tiers:
//   node test/run.mjs          the quick tier (`npm test`): every suite but those listed in FULL_TIER
//   node test/run.mjs --all    every suite (`npm run test:all`, what CI runs)
// File arguments narrow either tier to those files (and run them even if they are full-tier).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Suites that need a real editor, a browser, Python with TensorFlow, or minutes of real runs:
 * folders (ending in /) or files, relative to test/. Each still skips, naming its setup command,
 * when its host is missing (in CI, `SMLT_REQUIRE_E2E=1`, a missing host fails instead).
 */
const FULL_TIER = [
  'e2e/', // the panel in Chromium, VS Code in code-server, JupyterLab in a real browser
  'emulators/', // the Lambda emulator and the bundled worker on it
  'reliability/', // faults injected into whole runs (killed workers and orchestrator, time limits), hostile notebooks, load, secrets, the sandbox
  'integration/aws.test.ts', // whole runs against the Lambda and S3 emulators, with faults
  'integration/keras-notebooks.test.ts', // the Keras corpus on TF 2.21 (about 5 min)
  'integration/redis-channel.test.ts', // runs through a real redis-server
  'integration/webgpu.test.ts', // the webgpu backend on a real adapter (lavapipe in CI): gradients, runs, exits (about 2 min)
];

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'test');
const args = process.argv.slice(2);
const all = args.includes('--all');
const named = args.filter((a) => a !== '--all');
const files = named.length > 0 ? named : findTests(testDir).filter((f) => all || !inFullTier(f));
if (named.length === 0) {
  process.stdout.write(all ? '# every suite (the full tier)\n' : `# the quick tier: full-tier suites are left out (npm run test:all runs them)\n`);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...files.map((f) => relative(process.cwd(), f) || f)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

function inFullTier(file) {
  const path = relative(testDir, file);
  return FULL_TIER.some((entry) => (entry.endsWith('/') ? path.startsWith(entry) : path === entry));
}

function findTests(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts') && !f.includes('node_modules'))
    .sort()
    .map((f) => join(dir, f));
}
