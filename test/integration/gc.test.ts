/**
 * `smlt gc`: after a real run, the leftovers of crashes are laid out as a crash leaves them (a run
 * whose creation was cut off, a run folder no index names, a finished run's exchange keys and temp
 * files, a dead process's worker temp folder and run-index temp file, a dataset no run uses, an
 * index entry whose run is gone). `--dry-run` lists each with its reason and removes nothing; `gc` removes exactly those
 * and leaves the finished run, its outputs and a live process's worker folder alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CliRunner, cliIn } from '../helpers/cli.js';

const examples = fileURLToPath(new URL('../../examples', import.meta.url));

describe('smlt gc', () => {
  let work: string;
  let cli: CliRunner;
  let runId: string;
  let store: string;
  const leftovers: string[] = [];
  const kept: string[] = [];

  const put = (path: string, body = 'x') => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body);
    return path;
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'smlt-gc-'));
    for (const file of ['iris-csv.ipynb', 'iris.csv']) cpSync(join(examples, file), join(work, file));
    mkdirSync(join(work, 'tmp'));
    cli = cliIn(work, { ...process.env, SMLT_HOME: join(work, 'home'), TMPDIR: join(work, 'tmp') });
    const run = await cli.smlt(['train', 'iris-csv.ipynb', '--workers', '2', '--epochs', '1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    runId = (run.lines.at(-1) as { runId: string }).runId;
    store = join(work, '.smlt');

    const deadPid = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    const location = { kind: 'folder', root: store };
    const index = JSON.parse(readFileSync(join(work, 'home', 'runs.json'), 'utf8')) as object[];
    index.push(
      { runId: '20261207-010101-aaaaaa', store: location, backend: 'local', createdAt: new Date().toISOString(), creating: { pid: Number(deadPid) } },
      { runId: '20261207-020202-bbbbbb', store: location, backend: 'local', createdAt: new Date().toISOString() },
    );
    writeFileSync(join(work, 'home', 'runs.json'), JSON.stringify(index));
    leftovers.push(
      put(join(store, 'runs', '20261207-010101-aaaaaa', 'spec.json'), '{}'),
      put(join(store, 'runs', '20200101-000000-cccccc', 'spec.json'), '{}'),
      put(join(store, 'runs', runId, 'sync', 'e0000', 'markers', 'w0000', 'i0000001')),
      put(join(store, 'runs', runId, 'events', '.0123456789abcdef.smlt-tmp')),
      put(join(work, 'tmp', `smlt-local-${deadPid}-0badf00d`, 'container-1', 'data.bin')),
      put(join(store, 'artifacts', 'data', 'deadbeef', 'full.bin')),
      put(join(work, 'home', `runs.json.${deadPid}-0a1b2c3d.tmp`), '['),
    );
    kept.push(
      join(store, 'runs', runId, 'model', 'weights.bin'),
      join(store, 'runs', runId, 'report.json'),
      join(store, 'runs', runId, 'events', '000000001.json'),
      put(join(work, 'tmp', `smlt-local-${process.pid}-0000cafe`, 'container-1', 'data.bin')),
      // A run this index does not name that did start (another SMLT_HOME's, or the library API's).
      put(join(store, 'runs', '20200101-000000-dddddd', 'status.json'), readFileSync(join(store, 'runs', runId, 'status.json'), 'utf8')),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('--dry-run lists every leftover with its reason and removes nothing', async () => {
    const dry = await cli.smlt(['gc', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const listed = (dry.lines[0] as { wouldRemove: Array<{ what: string; why: string }> }).wouldRemove;
    const says = (pattern: RegExp) => assert.ok(listed.some((g) => pattern.test(`${g.what}: ${g.why}`)), `lists ${pattern}: ${JSON.stringify(listed, null, 1)}`);
    says(/20261207-010101-aaaaaa.*creation was cut off/);
    says(/20200101-000000-cccccc.*no run index names/);
    says(new RegExp(`${runId}/sync/.*exchange keys`));
    says(/smlt-local-\d+-0badf00d.*process that is gone/);
    says(/deadbeef.*no run in this store uses/);
    says(/index entry 20261207-020202-bbbbbb.*gone/);
    says(/runs\.json\.\d+-0a1b2c3d\.tmp.*run-index update cut off/);
    says(new RegExp(`1 partial write in .*${runId}/.*cut off by a crash`));
    assert.ok(!listed.some((g) => g.what.includes('0000cafe')), 'a live process\'s worker folder is not garbage');
    assert.ok(!listed.some((g) => g.what.includes('dddddd')), 'a run that started is not garbage, indexed here or not');
    for (const path of leftovers) assert.ok(existsSync(path), `dry run kept ${path}`);
  });

  it('removes exactly the leftovers; the finished run stays listed with its outputs', async () => {
    const gc = await cli.smlt(['gc']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /removed .*20261207-010101-aaaaaa/);
    for (const path of leftovers) assert.ok(!existsSync(path), `removed ${path}`);
    for (const path of kept) assert.ok(existsSync(path), `kept ${path}`);
    const runs = JSON.parse((await cli.smlt(['runs', '--json'])).stdout) as Array<{ runId: string; status: string }>;
    assert.deepEqual(runs.map((r) => [r.runId, r.status]), [[runId, 'succeeded']]);
    const index = JSON.parse(readFileSync(join(work, 'home', 'runs.json'), 'utf8')) as Array<{ runId: string }>;
    assert.deepEqual(index.map((r) => r.runId), [runId]);
    assert.equal((await cli.smlt(['report', runId])).code, 0, 'the run still reports');
    assert.match((await cli.smlt(['gc'])).stdout, /Nothing to remove/);
  });
});
