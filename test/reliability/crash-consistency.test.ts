/**
 * Crash consistency: `smlt train` killed (SIGKILL) at every durable write of a run — before each
 * one, and after a seeded sample of them — and a full disk (ENOSPC from a seeded write on), over
 * every phase: creation, the upload, each epoch's events, status and exchange clean-up, the
 * outputs, the finish. Then what a user does: `smlt runs`, `smlt resume --force` (or `smlt train`
 * again when the run never came to exist). Every case must end succeeded with weights identical
 * to an uninterrupted run's, a gapless event log ending in run_finished, and nothing left behind:
 * no temp files, no exchange keys, no orphan run folder or index entry, no worker temp folder.
 * The writes are numbered by the fault points of backends/fault-injection.ts (SMLT_FAULT_AT).
 * Prints the table (and writes test-output/crash-consistency.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@smlt/shared/data/order';
import { type Cli, cliIn } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TRAIN = ['train', 'iris-csv.ipynb', '--workers', '2', '--epochs', '3', '--json'];
const SEED = 20_261_207;
const random = mulberry32(SEED);

interface Scenario {
  fault: `${'kill' | 'kill-after' | 'enospc'}@${number}`;
  phase: string;
}
interface Row extends Scenario {
  first: string;
  recovery: string;
  ok: boolean;
}
const rows: Row[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'smlt-crash-'));
let caseNumber = 0;

/** A fresh folder with the notebook, its own SMLT home and TMPDIR: what a case leaves is its own. */
function freshCase() {
  const work = join(scratch, `case-${++caseNumber}`);
  mkdirSync(join(work, 'tmp'), { recursive: true });
  for (const file of ['iris-csv.ipynb', 'iris.csv']) cpSync(join(root, 'examples', file), join(work, file));
  const env = { ...process.env, SMLT_HOME: join(work, 'home'), TMPDIR: join(work, 'tmp'), SMLT_FAULT_AT: '', SMLT_FAULT_TRACE: '' };
  return { work, env, cli: cliIn(work, env) };
}

const result = (cli: Cli) => cli.lines.find((l) => l.type === 'result') as { status: string; runId?: string; error?: { code: string; message: string } } | undefined;
const md5 = (file: string) => createHash('md5').update(readFileSync(file)).digest('hex');

describe('crash consistency: killed or out of disk at every write, then resumed', () => {
  let baselineWeights = '';
  const scenarios: Scenario[] = [];

  before(async () => {
    // The uninterrupted run, traced: where its writes fall, and the weights every case must reach.
    const { work, env } = freshCase();
    const trace = join(work, 'trace.txt');
    const run = await cliIn(work, { ...env, SMLT_FAULT_TRACE: trace }).smlt(TRAIN);
    assert.equal(result(run)?.status, 'succeeded', run.stderr);
    const runId = result(run)!.runId!;
    baselineWeights = md5(join(work, '.smlt', 'runs', runId, 'model', 'weights.bin'));
    const events = join(work, '.smlt', 'runs', runId, 'events');
    const typeOf = (seq: number) => (JSON.parse(readFileSync(join(events, `${String(seq).padStart(9, '0')}.json`), 'utf8')) as { type: string }).type;
    const labels = readFileSync(trace, 'utf8').trim().split('\n').map((line) => line.split('\t')[1]!);
    const phases = phasesOf(labels, typeOf);
    const points = labels.map((_, i) => i + 1);
    // Before every write; after a seeded sample; a full disk from a seeded sample on.
    scenarios.push(...points.map((n) => ({ fault: `kill@${n}` as const, phase: phases[n - 1]! })));
    for (const n of sample(points, 8)) scenarios.push({ fault: `kill-after@${n}`, phase: phases[n - 1]! });
    // (A full disk still lets files be deleted: only writes are struck.)
    const writes = points.filter((n) => labels[n - 1]!.startsWith('write '));
    for (const n of sample(writes, 16)) scenarios.push({ fault: `enospc@${n}`, phase: phases[n - 1]! });
  });

  after(() => {
    const lines = [
      '| fault | phase (the write struck) | first try | recovery | resumed identical, gapless, nothing left |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.fault} | ${r.phase} | ${r.first} | ${r.recovery} | ${r.ok ? 'yes' : '**no**'} |`),
    ];
    const kills = rows.filter((r) => r.fault.startsWith('kill'));
    const full = rows.filter((r) => r.fault.startsWith('enospc'));
    const count = (list: Row[]) => `${list.filter((r) => r.ok).length}/${list.length}`;
    const table = `${lines.join('\n')}\n\nKilled: ${count(kills)} resumed identical with nothing left behind; disk full: ${count(full)}.\n`;
    console.log(`\nCrash consistency (examples/iris-csv.ipynb, 2 workers, 3 epochs; seed ${SEED}):\n${table}`);
    mkdirSync(join(root, 'test-output'), { recursive: true });
    writeFileSync(join(root, 'test-output/crash-consistency.md'), table);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('has at least 50 kill points over every phase, and disk-full points', () => {
    const kills = scenarios.filter((s) => s.fault.startsWith('kill'));
    assert.ok(kills.length >= 50, `${kills.length} kill points`);
    for (const phase of ['create', 'upload', 'epoch 1', 'epoch 2', 'epoch 3', 'outputs', 'finish']) {
      assert.ok(kills.some((s) => s.phase.startsWith(phase)), `a kill point in ${phase}`);
    }
    assert.ok(scenarios.filter((s) => s.fault.startsWith('enospc')).length >= 10);
  });

  it('every case ends succeeded, identical, gapless, with nothing left behind', async () => {
    const failures: string[] = [];
    for (const scenario of scenarios) {
      const row = await runCase(scenario, baselineWeights);
      rows.push(row);
      if (!row.ok) failures.push(`${scenario.fault} (${scenario.phase}): ${row.recovery}`);
    }
    assert.deepEqual(failures, []);
  });
});

async function runCase(scenario: Scenario, baselineWeights: string): Promise<Row> {
  const { work, env, cli } = freshCase();
  const first = await cliIn(work, { ...env, SMLT_FAULT_AT: scenario.fault }).smlt(TRAIN);
  const firstOutcome = first.code === null ? 'killed' : result(first)?.error ? `${result(first)!.error!.code}` : `exit ${first.code}`;
  const row: Row = { ...scenario, first: firstOutcome, recovery: '', ok: false };
  try {
    const { steps, runId } = await recover(cli);
    const problems = checkRun(work, runId, baselineWeights);
    row.recovery = problems.length === 0 ? steps.join(', ') : `${steps.join(', ')}: ${problems.join('; ')}`;
    row.ok = problems.length === 0;
  } catch (err) {
    row.recovery = String(err).slice(0, 300);
  }
  return row;
}

/** What the user does after a crash: look at `smlt runs`, resume what is listed, or train again. */
async function recover(cli: ReturnType<typeof cliIn>): Promise<{ steps: string[]; runId: string }> {
  const steps: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const runs = JSON.parse((await cli.smlt(['runs', '--json'])).stdout) as Array<{ runId: string; status: string }>;
    if (runs.length > 1) throw new Error(`${runs.length} runs listed`);
    if (runs.length === 0) {
      steps.push('not listed: train again');
      const again = await cli.smlt(TRAIN);
      if (result(again)?.status === 'succeeded') return { steps, runId: result(again)!.runId! };
      continue;
    }
    const runId = runs[0]!.runId;
    const resumed = await cli.smlt(['resume', runId, '--force', '--json']);
    const end = result(resumed);
    if (end?.status === 'succeeded') return { steps: [...steps, 'resume'], runId };
    if (end?.error?.code === 'RUN_BUSY' && /already succeeded/.test(end.error.message)) return { steps: [...steps, 'already complete'], runId };
    steps.push(`resume: ${end?.error?.code ?? `exit ${resumed.code}`}`);
  }
  throw new Error(`not recovered after ${steps.join(', ')}`);
}

/** What must hold once recovered; each broken rule, in words. */
function checkRun(work: string, runId: string, baselineWeights: string): string[] {
  const problems: string[] = [];
  const store = join(work, '.smlt');
  const run = join(store, 'runs', runId);
  const weights = join(run, 'model', 'weights.bin');
  if (!existsSync(weights) || md5(weights) !== baselineWeights) problems.push('weights differ from the uninterrupted run');
  const seqs = readdirSync(join(run, 'events')).filter((f) => f.endsWith('.json')).map((f) => Number(f.slice(0, -5)));
  if (seqs.some((seq, i) => seq !== i + 1)) problems.push(`event log has a gap or a reused number (${seqs.length} events, last ${seqs.at(-1)})`);
  const last = JSON.parse(readFileSync(join(run, 'events', `${String(seqs.at(-1)).padStart(9, '0')}.json`), 'utf8')) as { type: string; status?: string };
  if (last.type !== 'run_finished' || last.status !== 'succeeded') problems.push(`the log ends with ${last.type} ${last.status ?? ''}`);
  const files = readdirSync(work, { recursive: true }).map(String);
  const temps = files.filter((f) => f.endsWith('.smlt-tmp') || f.endsWith('.tmp'));
  if (temps.length > 0) problems.push(`temp files left: ${temps.join(', ')}`);
  if (existsSync(join(run, 'sync'))) problems.push('exchange keys left in sync/');
  const runFolders = readdirSync(join(store, 'runs'));
  if (runFolders.length !== 1) problems.push(`run folders: ${runFolders.join(', ')}`);
  const index = JSON.parse(readFileSync(join(work, 'home', 'runs.json'), 'utf8')) as Array<{ runId: string; creating?: unknown }>;
  if (index.length !== 1 || index[0]!.runId !== runId || index[0]!.creating) problems.push(`run index: ${JSON.stringify(index)}`);
  const workerFolders = readdirSync(join(work, 'tmp')).filter((f) => f.startsWith('smlt-local-'));
  if (workerFolders.length > 0) problems.push(`worker temp folders left: ${workerFolders.join(', ')}`);
  return problems;
}

/**
 * Each write's phase, read off its label: the creation (index entry, spec, manifest, first
 * checkpoint, status), the dataset upload, each epoch (its events by type, status, exchange
 * clean-up), the outputs (model, report) and the finish (final status, run_finished, index).
 */
function phasesOf(labels: string[], typeOf: (seq: number) => string): string[] {
  let epoch = 0;
  let started = false;
  let outputs = false;
  return labels.map((label) => {
    const event = /events\/(\d+)\.json$/.exec(label);
    if (/\/model$|report\.json$/.test(label)) outputs = true;
    if (event && typeOf(Number(event[1])) === 'epoch_started') epoch++;
    if (event && typeOf(Number(event[1])) === 'run_started') started = true;
    const what = event ? `event ${typeOf(Number(event[1]))}` : label.includes('/sync/') ? 'exchange clean-up' : label.replace(/^.*\/(?=[^/]+$)/, '').replace(/^(write|delete) /, '');
    if (label.includes('artifacts/data')) return `upload (${/full\.bin$/.test(label) ? 'dataset' : 'partition'})`;
    if (!started) return `create (${what})`;
    if (outputs) return /\/model$|report\.json$/.test(label) ? `outputs (${what})` : `finish (${what})`;
    return `epoch ${Math.max(1, epoch)} (${what})`;
  });
}

/** `count` distinct points at seeded random. */
function sample(points: number[], count: number): number[] {
  const pool = [...points];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}
