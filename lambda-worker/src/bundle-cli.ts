/**
 * `npm run bundle -w @smlt/lambda-worker`: builds the Lambda zip, prints its size, and measures
 * its cold load the way a new Lambda execution environment pays it: a fresh `node` process
 * imports the unpacked `index.mjs` and initializes the wasm backend (median of a few runs).
 * `-- --node /path/to/node` (repeatable) measures with other Node binaries too (e.g. 22);
 * `-- --runs N` sets how many processes each (default 7).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { buildWorkerBundle } from './bundle.js';
import type { ProbeResult } from './lambda-entry.js';

const RUNS = 7;
/** The Lambda goal for the zipped package (its hard limit is 50 MB). */
const GOAL_BYTES = 5 * 1024 * 1024;

export interface ColdLoad {
  /** Process start → bundle evaluated (Node's own start-up included). */
  moduleLoadedMs: number;
  /** Initializing the wasm backend from the `.wasm` beside the bundle. */
  backendInitMs: number;
  backend: string;
  node: string;
}

/** Unpacks `zip` into a temp folder and runs `runs` fresh processes of `node` that load it. */
export async function measureColdLoad(zip: Uint8Array, runs = RUNS, node = process.execPath): Promise<ColdLoad[]> {
  const dir = await mkdtemp(join(tmpdir(), 'smlt-bundle-'));
  try {
    for (const [name, bytes] of Object.entries(unzipSync(zip))) await writeFile(join(dir, name), bytes);
    const script = [
      `const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});`,
      "const context = { functionName: 'bundle-cold-load', memoryLimitInMB: '1769', awsRequestId: 'cold-load', getRemainingTimeInMillis: () => 60000 };",
      'console.log(JSON.stringify(await handler({ smltProbe: 1 }, context)));',
    ].join('\n');
    const loads: ColdLoad[] = [];
    for (let i = 0; i < runs; i++) {
      // An empty environment, as in Lambda: nothing from this checkout can help it load.
      const { stdout } = await promisify(execFile)(node, ['--input-type=module', '-e', script], { cwd: dir, env: {} });
      const probe = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ProbeResult;
      loads.push({ moduleLoadedMs: probe.moduleLoadedMs, backendInitMs: probe.backendInitMs, backend: probe.backend, node: probe.node });
    }
    return loads;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

async function main(): Promise<void> {
  const bundle = await buildWorkerBundle();
  const unzipped = bundle.files.reduce((sum, f) => sum + f.bytes, 0);
  console.log(`${bundle.path}`);
  for (const f of bundle.files) console.log(`  ${f.name.padEnd(32)} ${mb(f.bytes)}`);
  console.log(`zipped ${mb(bundle.zip.length)} (goal < ${mb(GOAL_BYTES)}: ${bundle.zip.length < GOAL_BYTES ? 'met' : 'NOT met'}), unzipped ${mb(unzipped)}`);
  console.log(`CodeSha256 ${bundle.codeSha256}; handler index.handler; runtimes nodejs20.x, nodejs22.x; x86_64 and arm64`);
  const flag = (name: string) => process.argv.flatMap((arg, i, all) => (all[i - 1] === name ? [arg] : []));
  const nodes = [process.execPath, ...flag('--node')];
  const runs = Number(flag('--runs')[0] ?? RUNS);
  for (const node of nodes) {
    const loads = await measureColdLoad(bundle.zip, runs, node);
    const load = median(loads.map((l) => l.moduleLoadedMs));
    const init = median(loads.map((l) => l.backendInitMs));
    // The minimum shows the cost without other processes competing for the CPU.
    const fastest = Math.min(...loads.map((l) => l.moduleLoadedMs + l.backendInitMs));
    console.log(
      `cold load, node ${loads[0].node} (${loads.length} fresh processes): median ${load} ms to load the bundle + ${init} ms to initialize the ${loads[0].backend} backend = ${load + init} ms; fastest ${fastest} ms`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
