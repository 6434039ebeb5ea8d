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
import { s3StoreAt } from '@smlt/shared/backends/aws/s3-store';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import type { ObjectStore } from '@smlt/shared/backends/ports';
import { mulberry32 } from '@smlt/shared/data/order';
import { runKeys } from '@smlt/shared/run/layout';
import { type LambdaEmulator, startLambdaEmulator } from '../emulators/lambda-emulator.js';
import { type S3Emulator, S3RVER_CREDENTIALS, startS3Emulator } from '../emulators/s3-emulator.js';
import { type Cli, cliIn } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TRAIN = ['train', 'iris-csv.ipynb', '--workers', '2', '--epochs', '3', '--json'];

/** Where a case's runs live: a folder store next to the notebook, or S3 (emulated) with Lambda workers. */
interface Backend {
  name: 'local' | 'emulated AWS';
  train: string[];
  /** Sets the case folder up (the AWS config, with its own key prefix) and opens its store. */
  prepare(work: string, caseNumber: number): ObjectStore;
  env: NodeJS.ProcessEnv;
}
const local: Backend = {
  name: 'local',
  train: TRAIN,
  prepare: (work) => new FolderStore(join(work, '.smlt')),
  env: {},
};
const SEED = 20_261_207;
const random = mulberry32(SEED);

interface Scenario {
  fault: `${'kill' | 'kill-after' | 'enospc'}@${number}`;
  phase: string;
}
interface Row extends Scenario {
  backend: Backend['name'];
  first: string;
  recovery: string;
  ok: boolean;
}
const rows: Row[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'smlt-crash-'));
let caseNumber = 0;

/** A fresh folder with the notebook, its own SMLT home, TMPDIR and store: what a case leaves is its own. */
function freshCase(backend: Backend) {
  const work = join(scratch, `case-${++caseNumber}`);
  mkdirSync(join(work, 'tmp'), { recursive: true });
  for (const file of ['iris-csv.ipynb', 'iris.csv']) cpSync(join(root, 'examples', file), join(work, file));
  const store = backend.prepare(work, caseNumber);
  const env = { ...process.env, ...backend.env, SMLT_HOME: join(work, 'home'), TMPDIR: join(work, 'tmp'), SMLT_FAULT_AT: '', SMLT_FAULT_TRACE: '' };
  return { work, env, store, cli: cliIn(work, env) };
}

const result = (cli: Cli) => cli.lines.find((l) => l.type === 'result') as { status: string; runId?: string; error?: { code: string; message: string } } | undefined;
const md5 = (file: string) => createHash('md5').update(readFileSync(file)).digest('hex');

/**
 * The suite on one backend: the traced baseline, then every kill point and a seeded sample of
 * kill-after and disk-full points (`sampled` of each).
 */
function crashSuite(backend: Backend, sampled: { killAfter: number; enospc: number; killBefore?: number }) {
  let baselineWeights = '';
  const scenarios: Scenario[] = [];

  before(async () => {
    // The uninterrupted run, traced: where its writes fall, and the weights every case must reach.
    const { work, env, store } = freshCase(backend);
    const trace = join(work, 'trace.txt');
    const run = await cliIn(work, { ...env, SMLT_FAULT_TRACE: trace }).smlt(backend.train);
    assert.equal(result(run)?.status, 'succeeded', run.stderr);
    const runId = result(run)!.runId!;
    baselineWeights = md5(join(work, '.smlt', 'runs', runId, 'model', 'weights.bin'));
    const types = new Map((await storedEvents(store, runId)).map((e) => [e.seq, e.type]));
    const labels = readFileSync(trace, 'utf8').trim().split('\n').map((line) => line.split('\t')[1]!);
    const phases = phasesOf(labels, (seq) => types.get(seq) ?? '?');
    const points = labels.map((_, i) => i + 1);
    const kills = sampled.killBefore === undefined ? points : spread(points, phases, sampled.killBefore);
    scenarios.push(...kills.map((n) => ({ fault: `kill@${n}` as const, phase: phases[n - 1]! })));
    for (const n of sample(points, sampled.killAfter)) scenarios.push({ fault: `kill-after@${n}`, phase: phases[n - 1]! });
    // (A full disk still lets files be deleted: only writes are struck.)
    const writes = points.filter((n) => labels[n - 1]!.startsWith('write '));
    for (const n of sample(writes, sampled.enospc)) scenarios.push({ fault: `enospc@${n}`, phase: phases[n - 1]! });
  });

  it('strikes every phase: create, upload, each epoch, outputs, finish', () => {
    for (const phase of ['create', 'upload', 'epoch 1', 'epoch 2', 'epoch 3', 'outputs', 'finish']) {
      assert.ok(scenarios.some((s) => s.fault.startsWith('kill') && s.phase.startsWith(phase)), `a kill point in ${phase}`);
    }
    assert.ok(scenarios.some((s) => s.fault.startsWith('enospc')), 'disk-full points');
  });

  it('every case ends succeeded, identical, gapless, with nothing left behind', async () => {
    const failures: string[] = [];
    for (const scenario of scenarios) {
      const row = await runCase(backend, scenario, baselineWeights);
      rows.push(row);
      if (!row.ok) failures.push(`${scenario.fault} (${scenario.phase}): ${row.recovery}`);
    }
    assert.deepEqual(failures, []);
  });
}

describe('crash consistency: killed or out of disk at every write, then resumed', () => {
  after(() => {
    const lines = [
      '| backend | fault | phase (the write struck) | first try | recovery | resumed identical, gapless, nothing left |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.backend} | ${r.fault} | ${r.phase} | ${r.first} | ${r.recovery} | ${r.ok ? 'yes' : '**no**'} |`),
    ];
    const count = (backend: string, kind: string) => {
      const list = rows.filter((r) => r.backend === backend && r.fault.startsWith(kind));
      return `${list.filter((r) => r.ok).length}/${list.length}`;
    };
    const summary = [local.name, 'emulated AWS']
      .map((b) => `${b}: killed ${count(b, 'kill')}, disk full ${count(b, 'enospc')} resumed identical with nothing left behind`)
      .join('; ');
    const table = `${lines.join('\n')}\n\n${summary}.\n`;
    console.log(`\nCrash consistency (examples/iris-csv.ipynb, 2 workers, 3 epochs; seed ${SEED}):\n${table}`);
    mkdirSync(join(root, 'test-output'), { recursive: true });
    writeFileSync(join(root, 'test-output/crash-consistency.md'), table);
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('local workers, folder store', () => {
    crashSuite(local, { killAfter: 8, enospc: 16 });
    it('has at least 50 kill points', () => assert.ok(rows.filter((r) => r.backend === 'local' && r.fault.startsWith('kill')).length >= 50));
  });

  describe('emulated Lambda and S3', () => {
    let s3: S3Emulator;
    let lambda: LambdaEmulator;
    let config = '';
    const aws: Backend = {
      name: 'emulated AWS',
      train: [...TRAIN, '--backend', 'aws'],
      prepare: (work, n) => {
        const settings = JSON.parse(config) as { aws: { prefix: string } };
        settings.aws.prefix = `crash/case-${n}`;
        writeFileSync(join(work, 'smlt.config.json'), JSON.stringify(settings));
        return s3StoreAt({ kind: 's3', root: s3.bucket, prefix: settings.aws.prefix, region: s3.region, endpoint: s3.endpoint });
      },
      env: {},
    };
    before(async () => {
      s3 = await startS3Emulator();
      lambda = await startLambdaEmulator({ functionCredentials: S3RVER_CREDENTIALS });
      Object.assign(aws.env, s3.env);
      // The S3 client of this process (reading the stores) takes the emulator's credentials too.
      Object.assign(process.env, s3.env);
      const project = join(scratch, 'deploy');
      mkdirSync(project, { recursive: true });
      const deploy = await cliIn(project, { ...process.env, SMLT_HOME: join(project, 'home') }).smlt(
        ['deploy', '--region', s3.region, '--bucket', s3.bucket, '--role', 'arn:aws:iam::123456789012:role/smlt-worker',
          '--s3-endpoint', s3.endpoint, '--lambda-endpoint', lambda.endpoint, '--json'],
      );
      assert.equal(deploy.code, 0, deploy.stderr.slice(-2000));
      config = readFileSync(join(project, 'smlt.config.json'), 'utf8');
    });
    after(async () => {
      await lambda?.stop();
      await s3?.stop();
    });
    crashSuite(aws, { killBefore: 12, killAfter: 4, enospc: 4 });
  });
});

async function runCase(backend: Backend, scenario: Scenario, baselineWeights: string): Promise<Row> {
  const { work, env, cli, store } = freshCase(backend);
  const first = await cliIn(work, { ...env, SMLT_FAULT_AT: scenario.fault }).smlt(backend.train);
  const firstOutcome = first.code === null ? 'killed' : result(first)?.error ? `${result(first)!.error!.code}` : `exit ${first.code}`;
  const row: Row = { backend: backend.name, ...scenario, first: firstOutcome, recovery: '', ok: false };
  try {
    const { steps, runId } = await recover(cli, backend.train);
    const problems = await checkRun(work, store, runId, baselineWeights);
    row.recovery = problems.length === 0 ? steps.join(', ') : `${steps.join(', ')}: ${problems.join('; ')}`;
    row.ok = problems.length === 0;
  } catch (err) {
    row.recovery = String(err).slice(0, 300);
  }
  return row;
}

/** What the user does after a crash: look at `smlt runs`, resume what is listed, or train again. */
async function recover(cli: ReturnType<typeof cliIn>, train: string[]): Promise<{ steps: string[]; runId: string }> {
  const steps: string[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const runs = JSON.parse((await cli.smlt(['runs', '--json'])).stdout) as Array<{ runId: string; status: string }>;
    if (runs.length > 1) throw new Error(`${runs.length} runs listed`);
    if (runs.length === 0) {
      steps.push('not listed: train again');
      const again = await cli.smlt(train);
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

async function storedEvents(store: ObjectStore, runId: string): Promise<Array<{ seq: number; type: string; status?: string }>> {
  const keys = await store.list(runKeys(runId).eventsPrefix);
  return Promise.all(keys.map(async (key) => JSON.parse(Buffer.from((await store.get(key))!).toString('utf8')) as { seq: number; type: string; status?: string }));
}

/** What must hold once recovered; each broken rule, in words. */
async function checkRun(work: string, store: ObjectStore, runId: string, baselineWeights: string): Promise<string[]> {
  const problems: string[] = [];
  const weights = join(work, '.smlt', 'runs', runId, 'model', 'weights.bin');
  if (!existsSync(weights) || md5(weights) !== baselineWeights) problems.push('weights differ from the uninterrupted run');
  const events = await storedEvents(store, runId);
  if (events.some((e, i) => e.seq !== i + 1)) problems.push(`event log has a gap or a reused number (${events.length} events, last ${events.at(-1)?.seq})`);
  const last = events.at(-1);
  if (last?.type !== 'run_finished' || last.status !== 'succeeded') problems.push(`the log ends with ${last?.type} ${last?.status ?? ''}`);
  const temps = readdirSync(work, { recursive: true }).map(String).filter((f) => f.endsWith('.smlt-tmp') || f.endsWith('.tmp'));
  if (temps.length > 0) problems.push(`temp files left: ${temps.join(', ')}`);
  if ((await store.list(runKeys(runId).syncRoot)).length > 0) problems.push('exchange keys left in sync/');
  const runIds = [...new Set((await store.list('runs/')).map((key) => key.split('/')[1]))];
  if (runIds.length !== 1) problems.push(`run folders in the store: ${runIds.join(', ')}`);
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

/** `count` distinct points at seeded random, one in each phase (create, upload, epoch k, outputs, finish) first. */
function spread(points: number[], phases: string[], count: number): number[] {
  const phaseOf = (n: number) => phases[n - 1]!.replace(/ \(.*$/, '');
  const firsts = [...new Set(points.map(phaseOf))].map((phase) => sample(points.filter((n) => phaseOf(n) === phase), 1)[0]!);
  const rest = sample(points.filter((n) => !firsts.includes(n)), Math.max(0, count - firsts.length));
  return [...firsts, ...rest].sort((a, b) => a - b);
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
