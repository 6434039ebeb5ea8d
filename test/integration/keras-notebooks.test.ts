/**
 * Unmodified Keras notebooks (test/fixtures/keras/corpus.ts) trained by `smlt train` with a real
 * TensorFlow 2.21 / Keras 3 Python: each run succeeds, its weights load back into the notebook's
 * own Keras model without tensorflowjs, that model evaluates to the run's held-out accuracy, and
 * it is as good as Keras' own fit of the same notebook.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCellSource } from '@smlt/shared/run/load-cell';
import { LocalRunService } from '@smlt/shared/service/local-run-service';
import { CORPUS } from '../fixtures/keras/corpus.js';
import { DIGITS_NPZ, KERAS_PYTHON, kerasMissing, pythonNotebook } from '../helpers/keras-host.js';

const CLI = fileURLToPath(new URL('../../shared/bin/smlt.js', import.meta.url));
const QUICKSTART = fileURLToPath(new URL('../../examples/keras-quickstart.ipynb', import.meta.url));
const EVALUATE = fileURLToPath(new URL('../fixtures/keras/evaluate.py', import.meta.url));
const skip = kerasMissing();
const root = mkdtempSync(join(tmpdir(), 'smlt-keras-'));
after(() => rmSync(root, { recursive: true, force: true }));

interface Result {
  type: 'result';
  status: string;
  runId: string;
  metrics: { loss: number; accuracy?: number };
  modelPath?: string;
  warnings?: string[];
}

function writeNotebook(name: string, cells: string[]): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(DIGITS_NPZ, join(dir, 'digits.npz'));
  const path = join(dir, `${name}.ipynb`);
  writeFileSync(path, JSON.stringify(pythonNotebook(cells)));
  return path;
}

function smltTrain(notebook: string, ...flags: string[]) {
  const run = spawnSync(process.execPath, [CLI, 'train', notebook, '--python', KERAS_PYTHON, '--json', ...flags], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const lines = run.stdout.trim().split('\n').filter(Boolean);
  const last = lines.length > 0 ? (JSON.parse(lines.at(-1)!) as Result | { type: string }) : undefined;
  return { status: run.status, stderr: run.stderr, result: last?.type === 'result' ? (last as Result) : undefined };
}

function evaluate(notebook: string, ...mode: string[]): Record<string, number> {
  const run = spawnSync(KERAS_PYTHON, [EVALUATE, notebook, ...mode], {
    cwd: join(notebook, '..'),
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    timeout: 300_000,
  });
  assert.equal(run.status, 0, `evaluate.py ${mode.join(' ')} failed:\n${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

describe('unmodified Keras notebooks', { skip }, () => {
  for (const notebook of CORPUS) {
    it(`${notebook.name}: trains, loads back into Keras, and matches Keras' own fit`, () => {
      const path = writeNotebook(notebook.name, notebook.cells);
      const { status, stderr, result } = smltTrain(path, '--workers', '2');
      assert.equal(status, 0, `smlt train failed:\n${stderr.slice(-3000)}`);
      assert.equal(result?.status, 'succeeded');
      assert.equal(result!.warnings, undefined, `a model that learns gets no training warning: ${result!.warnings}`);
      assert.match(stderr, /found: model `model` \(/, 'the CLI says what it found');
      const runDir = join(path, '..', '.smlt', 'runs', result!.runId);
      assert.ok(existsSync(join(runDir, 'smlt_keras.py')), 'the run folder carries the Keras helper');

      // The cell the editors insert and the CLI prints, run in the notebook's namespace.
      const loadCell = join(runDir, 'load-cell.py');
      writeFileSync(loadCell, loadCellSource({ language: 'python', modelDir: join(runDir, 'model'), runId: result!.runId, modelVariable: 'model' }));
      const loaded = evaluate(path, 'smlt', loadCell);
      assert.ok(existsSync(join(runDir, 'model.keras')), 'loading wrote model.keras');
      const keras = evaluate(path, 'keras');
      const report = `SMLT run ${JSON.stringify(result!.metrics)}; loaded into Keras ${JSON.stringify(loaded)}; Keras fit ${JSON.stringify(keras)}`;
      console.log(`${notebook.name}: ${report}`);
      const accuracyKey = Object.keys(keras).find((k) => k.endsWith('accuracy'));
      if (accuracyKey) {
        const accuracy = loaded[accuracyKey];
        if (notebook.heldOutIsEval) {
          assert.ok(Math.abs(accuracy - result!.metrics.accuracy!) <= 0.01, `held-out accuracy differs by more than 1 point: ${report}`);
        }
        assert.ok(accuracy >= keras[accuracyKey] - 0.015, `more than 1.5 points below Keras' own fit: ${report}`);
      } else {
        assert.ok(loaded.loss <= keras.loss * 1.5 + 0.02, `loss far above Keras' own fit: ${report}`);
      }
    });
  }

  it('the README example: smlt train prints the cell that puts the weights into the notebook\'s model', () => {
    const dir = join(root, 'quickstart');
    mkdirSync(join(dir, 'data'), { recursive: true });
    copyFileSync(QUICKSTART, join(dir, 'keras-quickstart.ipynb'));
    copyFileSync(DIGITS_NPZ, join(dir, 'data', 'digits.npz'));
    const run = spawnSync(process.execPath, [CLI, 'train', join(dir, 'keras-quickstart.ipynb'), '--python', KERAS_PYTHON, '--epochs', '1', '--workers', '1'], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    assert.equal(run.status, 0, `smlt train failed:\n${run.stderr.slice(-3000)}`);
    const runId = /^run (\S+):/m.exec(run.stdout + run.stderr)?.[1];
    assert.ok(runId, `the run id is printed:\n${run.stderr}`);
    const expected = loadCellSource({ language: 'python', modelDir: join(dir, '.smlt', 'runs', runId, 'model'), runId, modelVariable: 'model' });
    assert.ok(run.stdout.includes(expected.replace(/^/gm, '  ')), `the load cell is printed:\n${run.stdout}`);
  });

  it('sweeps the unmodified quickstart with one raw sweep cell; the best trial\'s weights load into the notebook\'s model', () => {
    const dir = join(root, 'quickstart-sweep');
    mkdirSync(join(dir, 'data'), { recursive: true });
    copyFileSync(DIGITS_NPZ, join(dir, 'data', 'digits.npz'));
    const notebook = JSON.parse(readFileSync(QUICKSTART, 'utf8')) as { cells: unknown[] };
    notebook.cells.push({ cell_type: 'raw', metadata: { tags: ['smlt:sweep'] }, source: 'trials: 3\nepochs: 3\nspace:\n  learningRate: {log: [0.0005, 0.005]}\n  batchSize: [32, 64]' });
    const path = join(dir, 'keras-sweep.ipynb');
    writeFileSync(path, JSON.stringify(notebook));
    const run = spawnSync(process.execPath, [CLI, 'sweep', path, '--python', KERAS_PYTHON, '--json'], { encoding: 'utf8', timeout: 600_000 });
    assert.equal(run.status, 0, `smlt sweep failed:\n${run.stderr.slice(-3000)}`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { type: string; status: string; best?: { runId: string; values: Record<string, unknown>; metric: number; epochs: number } };
    assert.equal(result.type, 'result');
    assert.equal(result.status, 'succeeded');
    assert.ok(result.best && typeof result.best.values.learningRate === 'number' && result.best.epochs === 3, JSON.stringify(result));

    // The notebook's own cells (fit skipped), then the load cell of the best trial's run: its
    // weights in the notebook's `model`, evaluated on the notebook's own test split.
    const runDir = join(dir, '.smlt', 'runs', result.best.runId);
    const script = join(dir, 'load-best.py');
    writeFileSync(script, [
      'import json, sys, keras',
      'keras.Model.fit = lambda self, *a, **k: None',
      `cells = [c for c in json.load(open(${JSON.stringify(path)}))["cells"] if c["cell_type"] == "code"]`,
      'ns = {"__name__": "__main__"}',
      'for c in cells: exec("".join(c["source"]) if isinstance(c["source"], list) else c["source"], ns)',
      `exec(${JSON.stringify(loadCellSource({ language: 'python', modelDir: join(runDir, 'model'), runId: result.best.runId, modelVariable: 'model' }))}, ns)`,
      'print(json.dumps(ns["model"].evaluate(ns["x_test"], ns["y_test"], verbose=0, return_dict=True)))',
    ].join('\n'));
    const loaded = spawnSync(KERAS_PYTHON, [script], { cwd: dir, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' }, timeout: 300_000 });
    assert.equal(loaded.status, 0, loaded.stderr.slice(-2000));
    const accuracy = (JSON.parse(loaded.stdout.trim().split('\n').at(-1)!) as { accuracy: number }).accuracy;
    console.log(`quickstart sweep: best ${JSON.stringify(result.best.values)} held-out ${result.best.metric}; loaded into Keras, test accuracy ${accuracy}`);
    assert.ok(Math.abs(accuracy - result.best.metric) <= 0.03, `the loaded model's test accuracy ${accuracy} is within 3 points of the sweep's held-out ${result.best.metric}`);
  });

  it('an estimate and the start after it run the cells once; an edited cell runs them again', async () => {
    const path = writeNotebook('reuse', CORPUS[0]!.cells);
    const progress: string[] = [];
    const service = new LocalRunService({ onCapture: { progress: (message) => progress.push(message) } });
    const reused = () => progress.filter((m) => m.includes('reusing')).length;
    const ranCells = () => progress.filter((m) => /\(1 of \d+\) to reach model\.fit/.test(m)).length;
    try {
      const request = { source: { path }, python: KERAS_PYTHON, workers: 1, memoryMb: 1769, overrides: { epochs: 1 } };
      const first = await service.estimate(request);
      const second = await service.estimate(request);
      assert.deepEqual([ranCells(), reused()], [1, 1], progress.join('\n'));
      assert.equal(second.found?.summary, first.found?.summary);
      const edited = JSON.parse(readFileSync(path, 'utf8')) as { cells: { source: string | string[] }[] };
      edited.cells.at(-1)!.source = [edited.cells.at(-1)!.source].flat().join('') + '\n# edited';
      writeFileSync(path, JSON.stringify(edited));
      await service.estimate(request);
      assert.deepEqual([ranCells(), reused()], [2, 1], progress.join('\n'));
    } finally {
      await service.close();
    }
  });
});
