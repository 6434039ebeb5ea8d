/**
 * The VS Code extension's pure parts (no `vscode` import): prompt validation and the request it
 * builds, stored choices, the estimate's words, notebook JSON from editor cells (through the real
 * shared capture), the webview message protocol and page CSP, the load cell, and the manifest.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureNotebookJson } from '@smlt/shared/capture/capture';
import type { Estimate } from '@smlt/shared/service/run-service';
import type { SweepEstimate } from '@smlt/shared/sweep/run-sweep';
import { DEFAULT_CHOICES, budgetProblem, choicesFromStored, deadlineProblem, describeChoices, requestFromChoices, sweepRequestFromChoices } from '../../vscode-ext/src/prompt/choices.js';
import { estimateLine, foundLines, infeasibleText, runPromptEstimate, sweepPromptEstimate } from '../../vscode-ext/src/prompt/estimate-text.js';
import { type EstimateState, LiveEstimate } from '../../vscode-ext/src/prompt/live-estimate.js';
import { ipynbMetadata, notebookJson } from '../../vscode-ext/src/notebook-json.js';
import { parseFromWebview, parseToWebview } from '../../vscode-ext/src/panel/protocol.js';
import { contentSecurityPolicy, webviewPage } from '../../vscode-ext/src/panel/webview-html.js';
import { loadCellText } from '../../vscode-ext/src/runs/load-cell.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const source = { notebook: {}, notebookDir: '/work/nb', name: 'mnist', notebookPath: '/work/nb/mnist.ipynb' };

describe('prompt validation', () => {
  it('accepts durations and dollars as the CLI does, and empty for none', () => {
    for (const ok of ['', '  ', '90s', '20m', '1.5h', '600']) assert.equal(deadlineProblem(ok), undefined, ok);
    for (const ok of ['', '1', '0.50', '$1.50', '.25']) assert.equal(budgetProblem(ok), undefined, ok);
  });

  it('refuses bad values with a reason naming the field and the form expected', () => {
    assert.match(deadlineProblem('soon')!, /^Deadline must be a positive duration such as 90s, 20m, 1h .*"soon"/);
    assert.match(deadlineProblem('0s')!, /^Deadline must be a positive duration/);
    assert.match(deadlineProblem('-5m')!, /^Deadline/);
    assert.match(budgetProblem('ten dollars')!, /^Budget must be a positive amount of US dollars such as 1\.50/);
    assert.match(budgetProblem('0')!, /^Budget/);
  });

  it('builds the adaptive request: objective always, deadline and budget when given', () => {
    assert.deepEqual(requestFromChoices({ objective: 'cost', deadline: '20m', budget: '$0.50', backend: 'local' }, source), {
      source,
      backend: 'local',
      objective: 'cost',
      deadlineS: 1200,
      budgetUsd: 0.5,
    });
    assert.deepEqual(requestFromChoices(DEFAULT_CHOICES, source), { source, backend: 'local', objective: 'time' });
    assert.throws(() => requestFromChoices({ ...DEFAULT_CHOICES, deadline: 'soon' }, source), /^Error: Deadline must be/);
  });

  it('reads stored choices defensively: bad or foreign values fall back to defaults', () => {
    assert.deepEqual(choicesFromStored(undefined), DEFAULT_CHOICES);
    assert.deepEqual(choicesFromStored('junk'), DEFAULT_CHOICES);
    assert.deepEqual(choicesFromStored({ objective: 'cost', deadline: '1h', budget: '2', backend: 'aws' }), {
      objective: 'cost',
      deadline: '1h',
      budget: '2',
      backend: 'aws',
    });
    assert.deepEqual(choicesFromStored({ objective: 'speed', deadline: 'tomorrow', budget: -1, backend: 'gcp' }), DEFAULT_CHOICES);
  });

  it('summarises the choices in one line', () => {
    assert.equal(describeChoices({ objective: 'time', deadline: '20m', budget: '$0.50', backend: 'local' }), 'fastest, deadline 20m, budget $0.50, local workers');
    assert.equal(describeChoices({ objective: 'cost', deadline: '', budget: '', backend: 'aws' }), 'cheapest, no deadline, no budget, AWS Lambda');
  });
});

describe('estimate text', () => {
  const estimate: Estimate = {
    workers: 2,
    memoryMb: 1769,
    iterationsPerEpoch: 62,
    epochs: 2,
    timeS: { expected: 25, low: 15, high: 38 },
    costUsd: { expected: 0.0033, low: 0.003, high: 0.004 },
    computeMsPerSample: 0.2,
    probe: { steps: 4, seconds: 0.1, costUsd: 1e-6 },
    feasible: true,
  };

  it('shows time with its interval, cost and configuration', () => {
    assert.equal(estimateLine(estimate), '≈ 25 s (15 s – 38 s), $0.0033 as if on AWS Lambda, 2 × 1769 MB');
    assert.equal(infeasibleText(estimate), undefined);
  });

  it('names the backend the workers compute on, when the estimate has one', () => {
    const backend = { name: 'webgpu', reason: 'webgpu on NVIDIA H100: faster' };
    assert.equal(estimateLine({ ...estimate, backend }), '≈ 25 s (15 s – 38 s), $0.0033 as if on AWS Lambda, 2 × 1769 MB on webgpu');
  });

  it('says a run on local workers is free, and a run on AWS a bill', () => {
    assert.equal(estimateLine({ ...estimate, platform: 'local' }), '≈ 25 s (15 s – 38 s), free here, $0.0033 as if on AWS Lambda, 2 × 1769 MB');
    assert.equal(estimateLine({ ...estimate, platform: 'aws-lambda' }), '≈ 25 s (15 s – 38 s), $0.0033 on AWS Lambda, 2 × 1769 MB');
  });

  it('explains an infeasible estimate with the planner advice', () => {
    const advice = 'No configuration meets the 1 s deadline; the fastest plan needs 24 s and $0.0033.';
    assert.equal(infeasibleText({ ...estimate, feasible: false, advice }), advice);
    assert.match(infeasibleText({ ...estimate, feasible: false })!, /allow more time or money/);
  });

  it('lists what capture found and each warning, so the user can check them before starting', () => {
    assert.deepEqual(foundLines(estimate), []);
    const found = { summary: 'model `model` (Sequential, 101,770 parameters) · 5 epochs, batch 32', warnings: ['callbacks are not run'] };
    assert.deepEqual(foundLines({ ...estimate, found }), [
      { label: '$(search) Found: model `model` (Sequential, 101,770 parameters)' },
      { label: '$(search) 5 epochs, batch 32' },
      { label: '$(warning) Check', detail: 'callbacks are not run' },
    ]);
  });
});

describe('the sweep prompt', () => {
  const estimate: SweepEstimate = {
    name: 'mnist-sweep',
    backend: 'local',
    trials: 12,
    rungs: [1, 3, 9],
    eta: 3,
    objective: { metric: 'accuracy', direction: 'maximize' },
    constraints: {},
    forecast: { concurrency: 2, trialEpochs: 40, timeS: { expected: 34, high: 50 }, costUsd: { expected: 0.021, high: 0.03 }, feasible: true },
  };

  it('asks for the sweep of the saved notebook: deadline, budget, backend and interpreter, no objective', () => {
    assert.deepEqual(sweepRequestFromChoices({ objective: 'cost', deadline: '2m', budget: '0.05', backend: 'aws' }, '/work/nb/mnist-sweep.ipynb', '/venv/bin/python'), {
      notebook: '/work/nb/mnist-sweep.ipynb',
      python: '/venv/bin/python',
      backend: 'aws',
      deadlineS: 120,
      budgetUsd: 0.05,
    });
    assert.deepEqual(sweepRequestFromChoices(DEFAULT_CHOICES, '/nb.ipynb'), { notebook: '/nb.ipynb', backend: 'local' });
    assert.throws(() => sweepRequestFromChoices({ ...DEFAULT_CHOICES, budget: 'lots' }, '/nb.ipynb'), /^Error: Budget must be/);
    assert.equal(describeChoices({ ...DEFAULT_CHOICES, deadline: '2m' }, false), 'deadline 2m, no budget, local workers');
  });

  it('shows the whole sweep: trials, rungs, time and cost with their pessimistic bound, trials at once, the objective', () => {
    const shown = sweepPromptEstimate(estimate);
    assert.equal(shown.line, '12 trials, rungs of 1, 3, 9 epochs: ≈ 34 s (up to 50 s), free here, $0.02 (up to $0.03) as if on AWS Lambda, 2 trials at once');
    assert.equal(shown.problem, undefined);
    assert.deepEqual(shown.found, [{ label: '$(target) maximize val_accuracy; the best 1/3 of each rung go on' }]);
    assert.match(sweepPromptEstimate({ ...estimate, backend: 'aws' }).line, /\(up to \$0\.03\) on AWS Lambda, 2 trials at once$/);
  });

  it('says why a sweep cannot hold its budget, with the fix the scheduler gave', () => {
    const advice = 'give at most 5 trials (trials: 5), or a budget of at least $0.021';
    assert.equal(sweepPromptEstimate({ ...estimate, forecast: { ...estimate.forecast, feasible: false, advice } }).problem, advice);
    assert.match(sweepPromptEstimate({ ...estimate, forecast: { ...estimate.forecast, feasible: false } }).problem!, /fewer trials/);
  });

  it('gives a run estimate the same three parts', () => {
    const run = { workers: 1, memoryMb: 512, iterationsPerEpoch: 1, epochs: 1, timeS: { expected: 5, low: 4, high: 6 }, costUsd: { expected: 0.001, low: 0.001, high: 0.002 }, computeMsPerSample: 1, probe: { steps: 1, seconds: 0.1, costUsd: 0 }, feasible: false, advice: 'allow 10 s' } as Estimate;
    assert.deepEqual(runPromptEstimate(run), { line: estimateLine(run), problem: 'allow 10 s', found: [] });
  });
});

describe('live estimate', () => {
  const estimateFor = (deadline: string) => ({ deadline }) as unknown as Estimate;
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('asks once per answer set, for the latest answer only, and reports what it got', async () => {
    const asked: string[] = [];
    const seen: EstimateState<Estimate>[] = [];
    const live = new LiveEstimate(async (c) => {
      asked.push(c.deadline);
      return estimateFor(c.deadline);
    }, (state) => seen.push(state));
    for (const typed of ['1', '1m', '10m']) live.update({ ...DEFAULT_CHOICES, deadline: typed });
    live.update({ ...DEFAULT_CHOICES, deadline: 'soo' }); // invalid while typing: not asked
    await wait(600);
    assert.deepEqual(asked, ['10m'], 'typing is debounced');
    const last = seen.at(-1)!;
    assert.equal(last.kind, 'ready');
    assert.equal((last as unknown as { estimate: { deadline: string } }).estimate.deadline, '10m');
    const settled = await live.settle({ ...DEFAULT_CHOICES, deadline: '10m' });
    assert.equal(settled.kind, 'ready');
    assert.deepEqual(asked, ['10m'], 'the same answers are not estimated twice');
    live.dispose();
  });

  it('reports a failure with its message and asks again next time', async () => {
    let calls = 0;
    const live = new LiveEstimate(async () => {
      calls += 1;
      throw new Error('No AWS settings found in smlt.config.json: run `smlt deploy` first.');
    }, () => undefined);
    const first = await live.settle({ ...DEFAULT_CHOICES, backend: 'aws' });
    assert.deepEqual(first, { kind: 'failed', message: 'No AWS settings found in smlt.config.json: run `smlt deploy` first.' });
    await live.settle({ ...DEFAULT_CHOICES, backend: 'aws' });
    assert.equal(calls, 2, 'a failed estimate is not cached: asked again');
    live.dispose();
  });
});

describe('notebook JSON from editor cells', () => {
  it('finds ipynb metadata where VS Code keeps it', () => {
    assert.deepEqual(ipynbMetadata({ metadata: { tags: ['a'] } }), { tags: ['a'] });
    assert.deepEqual(ipynbMetadata({ custom: { metadata: { tags: ['b'] } } }), { tags: ['b'] });
    assert.deepEqual(ipynbMetadata({ tags: ['c'], custom: {} }), { tags: ['c'] });
    assert.deepEqual(ipynbMetadata(undefined), {});
  });

  it('is captured by the shared capture code, unsaved edits included', async () => {
    const file = JSON.parse(readFileSync(join(root, 'examples/mnist.ipynb'), 'utf8')) as {
      cells: Array<{ cell_type: 'code' | 'markdown'; source: string[]; metadata: Record<string, unknown> }>;
      metadata: Record<string, unknown>;
    };
    // As VS Code's document gives them: one text per cell, ipynb metadata under `metadata`; one edit not saved.
    const cells = file.cells.map((cell) => ({
      kind: cell.cell_type,
      text: cell.source.join('').replace(/^epochs: \d+/m, 'epochs: 7'),
      metadata: { metadata: cell.metadata },
    }));
    const json = notebookJson(cells, { metadata: file.metadata });
    assert.deepEqual(json.cells[1]!.metadata, file.cells[1]!.metadata);
    assert.deepEqual(json.cells[1]!.source, file.cells[1]!.source, 'lines keep their newlines as nbformat does');
    const captured = await captureNotebookJson(json, { notebookDir: join(root, 'examples'), name: 'mnist' });
    assert.equal(captured.spec.training.epochs, 7);
    assert.equal(captured.spec.model.paramCount, 101_770);
  });
});

describe('webview protocol and page', () => {
  it('accepts only the messages the webview may send', () => {
    assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromWebview({ type: 'cancel', runId: '20261125-115534-0d808a', extra: 1 }), { type: 'cancel', runId: '20261125-115534-0d808a' });
    assert.deepEqual(parseFromWebview({ type: 'open-report', runId: 'r1' }), { type: 'open-report', runId: 'r1' });
    for (const bad of [null, 'ready', { type: 'cancel' }, { type: 'cancel', runId: '../../etc' }, { type: 'cancel', runId: 'x'.repeat(200) }, { type: 'eval', code: '1' }]) {
      assert.equal(parseFromWebview(bad), undefined, JSON.stringify(bad));
    }
  });

  it('checks what the extension sends on the webview side too', () => {
    assert.deepEqual(parseToWebview({ type: 'render', runId: 'r', status: 'running', html: '<p>x</p>' }), { type: 'render', runId: 'r', status: 'running', html: '<p>x</p>' });
    assert.deepEqual(parseToWebview({ type: 'notice', text: '' }), { type: 'notice', text: '' });
    assert.equal(parseToWebview({ type: 'render', html: 1 }), undefined);
  });

  it('has a strict CSP: nonce-only scripts and styles, nothing else', () => {
    const csp = contentSecurityPolicy('https://*.vscode-cdn.net', 'N0NCE');
    assert.match(csp, /^default-src 'none'; /);
    assert.match(csp, /script-src 'nonce-N0NCE' https:\/\/\*\.vscode-cdn\.net/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const page = webviewPage({ cspSource: 'https://*.vscode-cdn.net', scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webview.js', title: 'SMLT: <mnist>', nonce: 'N0NCE' });
    assert.match(page, /<style nonce="N0NCE">/);
    assert.match(page, /<script nonce="N0NCE" src="https:\/\/file\+\.vscode-resource[^"]+webview\.js"><\/script>/);
    assert.match(page, /<title>SMLT: &lt;mnist&gt;<\/title>/);
    assert.doesNotMatch(page, /\son[a-z]+=/i, 'no inline event handlers');
    assert.equal((page.match(/<script/g) ?? []).length, 1);
    assert.match(page, /--smlt-fg: var\(--vscode-foreground\)/, 'theme colours come from VS Code');
  });
});

describe('load cell', () => {
  it('loads the model relative to the notebook with the loader SMLT saves with', () => {
    const text = loadCellText('/work/nb/.smlt/runs/r1/model/model.json', '/work/nb/mnist.ipynb', 'r1');
    assert.equal(
      text,
      [
        '// Trained by SMLT (run r1): load the model it saved',
        "import { loadLayersModelFromDir } from '@smlt/shared/model/save';",
        '',
        'const trained = await loadLayersModelFromDir("./.smlt/runs/r1/model");',
        'trained.summary();',
      ].join('\n'),
    );
    assert.match(loadCellText('/work/out/model/model.json', '/work/nb/mnist.ipynb', 'r2'), /loadLayersModelFromDir\("\.\.\/out\/model"\)/);
    assert.throws(() => loadCellText('model/model.json', '/work/nb/mnist.ipynb', 'r3'), /must be absolute/);
  });
});

describe('extension manifest and entry', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'vscode-ext/package.json'), 'utf8')) as {
    main: string;
    contributes: { commands: Array<{ command: string; title: string; category: string }>; menus: Record<string, Array<{ command: string; when?: string }>> };
  };

  it('contributes the seven commands, training and sweeping in the notebook toolbar, training in the .ipynb explorer menu', () => {
    assert.deepEqual(
      manifest.contributes.commands.map((c) => `${c.category}: ${c.title}`),
      ['SMLT: Train on Serverless', 'SMLT: Estimate Time and Cost', 'SMLT: Show Runs', 'SMLT: Cancel Run', 'SMLT: Open Report', 'SMLT: Sweep on Serverless', 'SMLT: Show Sweeps'],
    );
    assert.deepEqual(manifest.contributes.menus['notebook/toolbar']!.map((m) => m.command), ['smlt.train', 'smlt.sweep']);
    assert.deepEqual(manifest.contributes.menus['explorer/context']![0], { command: 'smlt.train', when: 'resourceExtname == .ipynb', group: 'navigation@90' });
    assert.equal(manifest.main, './dist/extension.js');
  });

  it('keeps the entry file thin: at most 40 lines, every command registered by a module', () => {
    const entry = readFileSync(join(root, 'vscode-ext/src/extension.ts'), 'utf8');
    assert.ok(entry.split('\n').length <= 40, `extension.ts has ${entry.split('\n').length} lines`);
    const registered = readFileSync(join(root, 'vscode-ext/src/commands/register.ts'), 'utf8');
    for (const { command } of manifest.contributes.commands) assert.ok(registered.includes(`'${command}'`), `${command} is registered`);
  });
});
