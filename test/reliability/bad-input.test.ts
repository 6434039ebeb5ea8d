/**
 * The bad-input corpus (test/fixtures/bad/cases.json): every case goes through the run service,
 * as every client's request does, and must be refused with its SmltError code and a message that
 * says what to change — without crashing this process, launching a worker, or leaving a run
 * folder or index entry behind.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSmltError } from '@smlt/shared/errors';
import { makeSpecialFiles } from '../fixtures/bad/special-files.js';
import { BAD_CORPUS } from '../fixtures/keras/bad-corpus.js';
import { LocalRunService } from '@smlt/shared/service/local-run-service';
import type { RunRequest } from '@smlt/shared/service/run-service';

interface Case {
  file: string;
  request?: Record<string, unknown>;
  code?: string;
  codes?: string[];
  message: string;
  about: string;
}

const fixtures = fileURLToPath(new URL('../fixtures/bad', import.meta.url));
const cases = (await import(join(fixtures, 'cases.json'), { with: { type: 'json' } })).default as Case[];

/** JSON has no NaN or Infinity: the table spells them as strings. */
function numbers(value: unknown): unknown {
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numbers(v)]));
  return value;
}

/** Local worker containers get their temp folders under smlt-local-<this pid>-*: none may appear. */
const containerFolders = () => readdirSync(tmpdir()).filter((name) => name.startsWith(`smlt-local-${process.pid}-`));

describe('the bad-input corpus', () => {
  let work: string;
  let home: string;
  let service: LocalRunService;
  const homeBefore = process.env.SMLT_HOME;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  let removeSpecialFiles: () => Promise<void>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'smlt-bad-'));
    cpSync(fixtures, work, { recursive: true });
    removeSpecialFiles = await makeSpecialFiles(work);
    home = join(work, '.home');
    process.env.SMLT_HOME = home;
    process.on('unhandledRejection', onUnhandled);
    service = new LocalRunService();
  });
  after(async () => {
    await removeSpecialFiles();
    process.off('unhandledRejection', onUnhandled);
    if (homeBefore === undefined) delete process.env.SMLT_HOME;
    else process.env.SMLT_HOME = homeBefore;
    rmSync(work, { recursive: true, force: true });
  });

  it('has, with the Keras corpus, at least 100 cases, each with a reason', () => {
    assert.ok(cases.length + BAD_CORPUS.length >= 100, `${cases.length} + ${BAD_CORPUS.length} cases`);
    for (const c of cases) assert.ok(c.about && c.message && (c.code || c.codes), `case ${c.file} is complete`);
  });

  for (const c of cases) {
    const name = `${c.file}${c.request ? ` ${JSON.stringify(c.request)}` : ''}: ${c.about}`;
    it(`refuses ${name}`, async () => {
      const request = { source: { path: join(work, c.file) }, ...(numbers(c.request ?? {}) as object) } as RunRequest;
      const expected = c.codes ?? [c.code!];
      let error: unknown;
      try {
        const started = await service.start(request);
        assert.fail(`it started run ${started.runId}`);
      } catch (err) {
        error = err;
      }
      assert.ok(isSmltError(error), `an SmltError, not ${String(error)}`);
      assert.ok(expected.includes(error.code), `code ${error.code} (${error.message}), expected ${expected.join(' or ')}`);
      assert.match(error.message, new RegExp(c.message), 'the message says what is wrong and what to do');
      assert.ok(error.message.length < 600, `a readable message (${error.message.length} characters)`);
      assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace in the message');

      assert.equal(existsSync(join(work, '.smlt')), false, 'no run folder is left next to the notebook');
      assert.equal(existsSync(join(home, 'runs.json')), false, 'no run is indexed');
      assert.deepEqual(containerFolders(), [], 'no worker was launched');
      assert.equal(existsSync(join(work, 'pwned')) || existsSync(join(process.cwd(), 'pwned')), false, 'no shell ran a file name');
      assert.deepEqual(unhandled, [], 'no unhandled rejection');
      assert.deepEqual((await service.list()).map((r) => r.runId), [], 'the service lists no run');
    });
  }
});
