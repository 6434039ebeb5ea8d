/**
 * The VS Code extension end to end, in a real VS Code (code-server) in Chromium: open
 * examples/mnist.ipynb, run SMLT: Train on Serverless from the command palette, answer the
 * prompt, watch the panel reach "Succeeded" with its loss chart, find the model files and insert
 * the load cell; then a second run is made infeasible in the prompt (explained, with the fix),
 * fixed, started and cancelled from the panel. Last, the unmodified TensorFlow quickstart (a
 * Keras notebook without SMLT cells) trains with the `smlt.python` interpreter, the prompt shows
 * what was found at model.fit, and the load cell puts the weights into the notebook's `model`.
 * One editor and browser serve the whole file.
 * Screenshots: test-output/vscode/ (`SMLT_UPDATE_DOCS=1` also copies prompt and panel to docs/).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Frame, Page } from 'playwright-core';
import { KERAS_PYTHON, kerasMissing } from '../../helpers/keras-host.js';
import { type EditorHost, NODE24, findFrame, hostMissing, normalizeText, quickPick, repoRoot, startEditor } from './editor-host.js';

const outDir = join(repoRoot, 'test-output/vscode');
const extensionDir = join(repoRoot, 'vscode-ext');
const TRAIN = 'SMLT: Train on Serverless';
const SWEEP = 'SMLT: Sweep on Serverless';
const RUN_TIMEOUT_MS = 10 * 60_000;
/** A run's start (capture, probe, worker processes) on a loaded 2-core machine. */
const STARTUP_TIMEOUT_MS = 5 * 60_000;

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') {
  throw new Error(`SMLT_REQUIRE_E2E=1 but the VS Code test host is missing: ${missing}`);
}

/** mnist.ipynb with its config cell asking for `epochs`: a run long enough to cancel. */
function mnistWithEpochs(epochs: number): string {
  const notebook = JSON.parse(readFileSync(join(repoRoot, 'examples/mnist.ipynb'), 'utf8')) as { cells: Array<{ source: string[] | string }> };
  let changed = false;
  for (const cell of notebook.cells) {
    const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    if (/^epochs:\s*\d+/m.test(text)) {
      cell.source = text.replace(/^epochs:\s*\d+/m, `epochs: ${epochs}`);
      changed = true;
    }
  }
  assert.ok(changed, 'examples/mnist.ipynb has an `epochs:` line in its config cell');
  return JSON.stringify(notebook, null, 1);
}

/** examples/mnist-sweep.ipynb cut to 4 trials of at most 3 epochs (rungs of 1 and 3): a sweep of a few seconds per trial. */
function smallSweep(): string {
  const notebook = JSON.parse(readFileSync(join(repoRoot, 'examples/mnist-sweep.ipynb'), 'utf8')) as { cells: Array<{ source: string[] | string }> };
  let changed = false;
  for (const cell of notebook.cells) {
    const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    if (!text.startsWith('// smlt: sweep')) continue;
    cell.source = text.replace(/^trials:\s*\d+/m, 'trials: 4').replace(/^epochs:\s*\d+/m, 'epochs: 3');
    changed = true;
  }
  assert.ok(changed, 'examples/mnist-sweep.ipynb has an `// smlt: sweep` cell');
  return JSON.stringify(notebook, null, 1);
}

const kerasSkip = kerasMissing();

describe('VS Code extension in code-server', { skip: missing ? `${missing} (the VS Code e2e host is not set up)` : false }, () => {
  let editor: EditorHost;
  let page: Page;

  before(async () => {
    mkdirSync(outDir, { recursive: true });
    const build = spawnSync(process.execPath, ['build.mjs'], { cwd: extensionDir, encoding: 'utf8' });
    assert.equal(build.status, 0, `building the extension failed: ${build.stderr}`);
    editor = await startEditor({
      extensionDir,
      files: {
        'mnist.ipynb': readFileSync(join(repoRoot, 'examples/mnist.ipynb'), 'utf8'),
        'mnist-long.ipynb': mnistWithEpochs(40),
        'mnist-sweep.ipynb': smallSweep(),
        'keras-quickstart.ipynb': readFileSync(join(repoRoot, 'examples/keras-quickstart.ipynb'), 'utf8'),
        'data/digits.npz': readFileSync(join(repoRoot, 'examples/data/digits.npz')),
      },
      logDir: outDir,
      ...(kerasSkip ? {} : { settings: { 'smlt.python': KERAS_PYTHON } }),
    });
    page = editor.page;
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist.ipynb' }).first().waitFor({ state: 'visible' });
    // Open notebooks only once the extensions (ours and the built-in ipynb) have registered:
    // earlier, a .ipynb opens as JSON text.
    await quickPick(page, 'F1', `>${TRAIN}`, TRAIN);
    await page.keyboard.press('Escape');
  });

  // A screenshot per test for diagnosis, and no prompt left open (it ignores focus loss) to
  // swallow the next test's keys after a failure.
  let testNumber = 0;
  afterEach(async () => {
    testNumber += 1;
    await page?.screenshot({ path: join(outDir, `after-test-${testNumber}.png`) }).catch(() => undefined);
    for (let i = 0; i < 3 && (await page?.locator('.quick-input-widget').isVisible().catch(() => false)); i++) await page.keyboard.press('Escape');
  });

  after(async () => {
    if (page) await page.screenshot({ path: join(outDir, 'last.png') }).catch(() => undefined);
    await editor?.close();
  });

  it('trains the open notebook from the palette: prompt, live panel to Succeeded with a loss chart, model files, load cell', { timeout: RUN_TIMEOUT_MS + 300_000 }, async () => {
    await openNotebook(page, 'mnist.ipynb');
    const toolbar = page.locator('.notebook-toolbar-container .action-item a[aria-label*="Train on Serverless"]');
    await toolbar.first().waitFor({ state: 'visible' });

    await startTraining(page, 'mnist.ipynb');
    await answer(page, 1); // Fastest
    await step(page, '2/5');
    const input = page.locator('.quick-input-widget input');
    await input.fill('soon');
    await page.locator('.quick-input-widget', { hasText: 'Deadline must be a positive duration' }).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter'); // refused: still on this step
    await answer(page, 2, '20m');
    await answer(page, 3, '0.50');
    await answer(page, 4); // Local worker processes
    await step(page, '5/5');
    const start = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' });
    await start.waitFor({ state: 'visible' });
    const placeholder = await input.getAttribute('placeholder');
    assert.match(placeholder ?? '', /^Estimate: ≈ .* as if on AWS Lambda/, 'the review step shows the planner estimate');
    await page.screenshot({ path: join(outDir, 'prompt.png') });
    await page.keyboard.press('Enter');

    const panel = await findFrame(page, (t) => t.includes('mnist') && /Succeeded|Failed|Cancelled/.test(t), 'the mnist run ending', RUN_TIMEOUT_MS);
    const text = await panel.evaluate(() => document.body.innerText);
    assert.match(text, /Succeeded/, `the run succeeded (panel says: ${text.slice(0, 600)})`);
    const chart = panel.locator('svg.smlt-chart-svg').first();
    const box = await chart.boundingBox();
    assert.ok(box && box.width > 100 && box.height > 50, `the loss chart is drawn (${JSON.stringify(box)})`);
    assert.ok((await panel.locator('svg.smlt-chart-svg path, svg.smlt-chart-svg polyline').count()) > 0, 'the chart has a curve');
    await panel.locator('button[data-action="open-report"]').waitFor({ state: 'visible' });
    const csp = await panel.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp ?? '', /^default-src 'none'; style-src 'nonce-[\w-]+'; script-src 'nonce-[\w-]+' /, 'the panel runs under the strict CSP');
    // The panel wears VS Code's theme: its colours resolve to the workbench's variables.
    const theme = await panel.evaluate(() => {
      const probe = document.createElement('div');
      probe.style.color = 'var(--vscode-foreground)';
      probe.style.backgroundColor = 'var(--vscode-editor-background)';
      document.body.append(probe);
      const expected = getComputedStyle(probe);
      const panelStyle = getComputedStyle(document.querySelector('.smlt-panel')!);
      const result = { vscodeFg: expected.color, vscodeBg: expected.backgroundColor, panelFg: panelStyle.color, bodyBg: getComputedStyle(document.body).backgroundColor };
      probe.remove();
      return result;
    });
    assert.equal(theme.panelFg, theme.vscodeFg, 'panel text uses --vscode-foreground');
    assert.equal(theme.bodyBg, theme.vscodeBg, 'panel background uses --vscode-editor-background');

    const statusBar = page.locator('.statusbar-item', { hasText: 'SMLT succeeded' });
    await statusBar.first().waitFor({ state: 'visible' });

    const runsDir = join(editor.workspace, '.smlt/runs');
    const models = readdirSync(runsDir).filter((id) => existsSync(join(runsDir, id, 'model/model.json')));
    assert.equal(models.length, 1, `one run saved model/model.json under ${runsDir}`);
    // code-server's extension host runs on Node 24: the smlt serve it started, and its workers
    // (tfjs on the wasm backend), ran there.
    const serve = JSON.parse(readFileSync(join(editor.smltHome, 'serve.json'), 'utf8')) as { pid: number };
    assert.equal(realpathSync(`/proc/${serve.pid}/exe`), realpathSync(NODE24), 'smlt serve runs on the extension host\'s Node');
    const eventsDir = join(runsDir, models[0]!, 'events');
    const backends = readdirSync(eventsDir)
      .map((f) => JSON.parse(readFileSync(join(eventsDir, f), 'utf8')) as { type: string; backend?: string })
      .filter((e) => e.type === 'worker_finished')
      .map((e) => e.backend);
    assert.ok(backends.length > 0 && backends.every((b) => b === 'wasm'), `workers trained on the wasm backend (got ${backends.join(', ')})`);

    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'succeeded in' });
    await toast.first().waitFor({ state: 'visible' });
    assert.match(normalizeText(await toast.first().innerText()), /Model saved to \.smlt\/runs\/.+\/model\/model\.json/);
    await toast.first().locator('a.monaco-button, .monaco-button', { hasText: 'Insert load cell' }).first().click();
    const loadCell = page.locator('.notebook-editor .code-cell-row .view-lines', { hasText: 'loadLayersModelFromDir' });
    await loadCell.first().waitFor({ state: 'visible' });
    assert.match(normalizeText(await loadCell.first().innerText()), new RegExp(`loadLayersModelFromDir\\("\\./\\.smlt/runs/${models[0]}/model"\\)`));
    await page.screenshot({ path: join(outDir, 'panel.png') }); // the toast is gone by now
    if (process.env.SMLT_UPDATE_DOCS === '1') {
      copyFileSync(join(outDir, 'prompt.png'), join(repoRoot, 'docs/vscode-prompt.png'));
      copyFileSync(join(outDir, 'panel.png'), join(repoRoot, 'docs/vscode-panel.png'));
    }
  });

  it('explains an infeasible deadline with its fix; the run outlives its closed panel, is re-attached and cancelled from it', { timeout: RUN_TIMEOUT_MS }, async () => {
    await openNotebook(page, 'mnist-long.ipynb');
    await startTraining(page, 'mnist-long.ipynb');
    await answer(page, 1);
    await answer(page, 2, '1s');
    await answer(page, 3);
    await answer(page, 4);
    await step(page, '5/5');
    const changeDeadline = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Change the deadline' });
    await changeDeadline.waitFor({ state: 'visible' });
    assert.match(await page.locator('.quick-input-widget input').getAttribute('placeholder') ?? '', /^Not feasible: .*1 s deadline/, 'the review step says why');
    assert.equal(await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).count(), 0, 'an infeasible run cannot be started');
    await page.screenshot({ path: join(outDir, 'prompt-infeasible.png') });
    await changeDeadline.click();
    await answer(page, 2, ''); // no deadline
    await answer(page, 3);
    await answer(page, 4);
    await step(page, '5/5');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');

    const panel = await findFrame(page, (t) => t.includes('mnist-long') && t.includes('Cancel run'), 'the mnist-long run with a Cancel button', STARTUP_TIMEOUT_MS);
    // While it runs: a progress notification, and the status bar with the epoch and the spend.
    await page.locator('.notifications-toasts .notification-list-item', { hasText: 'SMLT: training mnist-long' }).first().waitFor({ state: 'visible' });
    await page.locator('.statusbar-item', { hasText: /SMLT epoch \d+\/40 · \$/ }).first().waitFor({ state: 'visible' });

    // Closing the panel does not stop the run: Show Runs re-attaches to it, still running.
    await page.locator('.tabs-container .tab', { hasText: 'SMLT: mnist-long' }).first().click({ button: 'middle' });
    await page.locator('.tabs-container .tab', { hasText: 'SMLT: mnist-long' }).waitFor({ state: 'detached' });
    await quickPick(page, 'F1', '>SMLT: Show Runs', 'SMLT: Show Runs');
    await page.keyboard.press('Enter');
    const running = page.locator('.quick-input-list .monaco-list-row', { hasText: 'running' }).first();
    await running.waitFor({ state: 'visible' });
    assert.match(await running.innerText(), /mnist-long/);
    await running.click();
    const reopened = await findFrame(page, (t) => t.includes('mnist-long') && t.includes('Cancel run') && /iteration [1-9]/.test(t), 'the re-attached mnist-long run, still training', STARTUP_TIMEOUT_MS);
    await reopened.locator('button[data-action="cancel"]').click();
    await waitForText(reopened, /Cancelled/, 'the panel showing Cancelled', STARTUP_TIMEOUT_MS);
    await page.screenshot({ path: join(outDir, 'panel-cancelled.png') });
  });

  it('re-attaches to a finished run after its panel was closed (Show Runs), and opens its report', { timeout: 300_000 }, async () => {
    // Close every run panel: the runs live in smlt serve, not in the panels.
    for (;;) {
      const tab = page.locator('.tabs-container .tab', { hasText: 'SMLT: ' }).first();
      if ((await tab.count()) === 0) break;
      await tab.click({ button: 'middle' }); // closes an editor tab in VS Code
    }
    await quickPick(page, 'F1', '>SMLT: Show Runs', 'SMLT: Show Runs');
    await page.keyboard.press('Enter');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'succeeded' }).first();
    await row.waitFor({ state: 'visible' });
    await row.click();
    const panel = await findFrame(page, (t) => t.includes('Succeeded') && t.includes('All 2 epochs done') && !t.includes('mnist-long'), 'the re-attached mnist run');
    assert.ok((await panel.locator('svg.smlt-chart-svg').count()) > 0, 'the re-attached panel has the loss chart from the run history');

    await panel.locator('button[data-action="open-report"]').click();
    await findFrame(page, (t) => t.includes('Epochs') && t.includes('Costs are what the run would cost'), 'the report page');
    const runsDir = join(editor.workspace, '.smlt/runs');
    assert.ok(readdirSync(runsDir).some((id) => existsSync(join(runsDir, id, 'report.html'))), 'the report page is saved beside report.json');
    await page.screenshot({ path: join(outDir, 'report.png') });
  });
  it('remembers the answers per notebook; Estimate Time and Cost ends with the estimate; the explorer menu offers training', { timeout: 300_000 }, async () => {
    await openNotebook(page, 'mnist.ipynb');
    await quickPick(page, 'F1', '>SMLT: Estimate Time and Cost', 'SMLT: Estimate Time and Cost');
    await page.keyboard.press('Enter');
    const input = page.locator('.quick-input-widget input');
    await step(page, '1/5');
    await page.keyboard.press('Enter');
    await step(page, '2/5');
    assert.equal(await input.inputValue(), '20m', 'the deadline given for mnist.ipynb before');
    await page.keyboard.press('Enter');
    await step(page, '3/5');
    assert.equal(await input.inputValue(), '0.50', 'the budget given for mnist.ipynb before');
    await page.keyboard.press('Enter');
    await step(page, '4/5');
    await page.keyboard.press('Enter');
    await step(page, '5/5');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Done' }).waitFor({ state: 'visible' });
    await page.keyboard.press('Enter');
    const toast = page.locator('.notifications-toasts .notification-list-item-message', { hasText: 'fastest, deadline 20m, budget $0.50, local workers' });
    await toast.first().waitFor({ state: 'visible' });
    assert.match(normalizeText(await toast.first().innerText()), /≈ .+ as if on AWS Lambda, \d+ × \d+ MB/);

    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mnist-long.ipynb' }).first().click({ button: 'right' });
    const item = page.locator('.context-view .action-item', { hasText: 'Train on Serverless' });
    await item.first().waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
  });

  it('restores an open run panel after the window reloads, attached to its run again', { timeout: 300_000 }, async () => {
    await page.locator('.tabs-container .tab', { hasText: 'SMLT: mnist' }).first().waitFor({ state: 'visible' });
    page.on('dialog', (dialog) => void dialog.accept());
    await quickPick(page, 'F1', '>Developer: Reload Window', 'Developer: Reload Window');
    await page.keyboard.press('Enter');
    await page.waitForEvent('load');
    await page.locator('.monaco-workbench').waitFor({ state: 'visible' });
    // A webview is only created when its tab is shown.
    await page.locator('.tabs-container .tab', { hasText: 'SMLT: mnist' }).first().click();
    const panel = await findFrame(page, (t) => t.includes('All 2 epochs done') && t.includes('Open report'), 'the restored mnist panel');
    assert.ok((await panel.locator('svg.smlt-chart-svg').count()) > 0, 'the restored panel has its chart');
  });

  it('trains the unmodified TensorFlow quickstart with the smlt.python interpreter; the load cell loads into its model', { timeout: RUN_TIMEOUT_MS, skip: kerasSkip }, async () => {
    await openNotebook(page, 'keras-quickstart.ipynb');
    await startTraining(page, 'keras-quickstart.ipynb');
    await answer(page, 1);
    await answer(page, 2, '');
    await answer(page, 3, '1');
    await answer(page, 4);
    await step(page, '5/5');
    // Before anything starts, the review lists what the cells' model.fit gave, and its warnings.
    const found = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Found: model' });
    await found.waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
    assert.match(normalizeText(await found.innerText()), /Found: model `model` \(Sequential, 101,770 parameters\)/);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'SparseCategoricalCrossentropy(from_logits=True)' }).waitFor({ state: 'visible' });
    await page.screenshot({ path: join(outDir, 'prompt-keras.png') });
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).click();

    const panel = await findFrame(page, (t) => t.includes('keras-quickstart') && /Succeeded|Failed|Cancelled/.test(t), 'the keras-quickstart run ending', RUN_TIMEOUT_MS);
    assert.match(await panel.evaluate(() => document.body.innerText), /Succeeded/);
    const runsDir = join(editor.workspace, '.smlt/runs');
    const kerasRun = readdirSync(runsDir).find((id) => existsSync(join(runsDir, id, 'smlt_keras.py')));
    assert.ok(kerasRun, `the Keras run folder carries smlt_keras.py (${readdirSync(runsDir).join(', ')})`);
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'keras-quickstart' }).filter({ hasText: 'succeeded in' });
    await toast.first().waitFor({ state: 'visible' });
    await toast.first().locator('a.monaco-button, .monaco-button', { hasText: 'Insert load cell' }).first().click();
    const loadCell = page.locator('.notebook-editor .code-cell-row .view-lines', { hasText: 'load_weights' });
    await loadCell.first().waitFor({ state: 'visible' });
    const text = normalizeText(await loadCell.first().innerText());
    assert.match(text, new RegExp(`load_weights\\(model, "\\./\\.smlt/runs/${kerasRun}"\\)`));
    assert.doesNotMatch(text, /tensorflowjs/);
  });

  it('sweeps the notebook: the forecast, a budget it cannot hold refused with the fix, the live sweep panel, the winning settings and the report', { timeout: RUN_TIMEOUT_MS }, async () => {
    await openNotebook(page, 'mnist-sweep.ipynb');
    // From the palette: with panels open beside it, the notebook's toolbar puts its SMLT buttons in its overflow menu.
    await startTraining(page, 'mnist-sweep.ipynb', SWEEP);
    await answer(page, 1, '', 4); // no deadline
    await answer(page, 2, '0.00001', 4);
    await answer(page, 3, undefined, 4); // local workers
    await step(page, '4/4');
    const changeBudget = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Change the budget' });
    await changeBudget.waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
    const input = page.locator('.quick-input-widget input');
    assert.match(await input.getAttribute('placeholder') ?? '', /^Not feasible: .*budget of at least \$/, 'the review says what budget the sweep needs');
    assert.equal(await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start sweep' }).count(), 0, 'a sweep that cannot hold its budget cannot be started');
    // By keys: the row's long detail pops a hover over it that takes the mouse's click.
    await page.mouse.move(0, 0);
    await input.press('ArrowDown'); // from "Change the deadline" to "Change the budget"
    await page.keyboard.press('Enter');
    await answer(page, 2, '', 4);
    await answer(page, 3, undefined, 4);
    await step(page, '4/4');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start sweep' }).waitFor({ state: 'visible', timeout: STARTUP_TIMEOUT_MS });
    assert.match(await input.getAttribute('placeholder') ?? '', /^Estimate: 4 trials, rungs of 1, 3 epochs: ≈ .* trials? at once$/, 'the review shows the whole sweep');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'maximize val_accuracy' }).waitFor({ state: 'visible' });
    await page.screenshot({ path: join(outDir, 'sweep-prompt.png') });
    await page.keyboard.press('Enter');

    const panel = await findFrame(page, (t) => t.includes('Sweep mnist-sweep') && /: (Finished|Stopped|Failed|Cancelled)/.test(t), 'the mnist-sweep sweep ending', RUN_TIMEOUT_MS);
    const text = normalizeText(await panel.evaluate(() => document.body.innerText));
    assert.match(text, /Sweep mnist-sweep: Finished/, `the sweep finished (panel says: ${text.slice(0, 600)})`);
    assert.match(text, /4 trials, rungs of 1, 3 epochs/);
    assert.match(text, /Best: trial \d \(learningRate=/);
    assert.equal(await panel.locator('.smlt-sweep table tbody tr').count(), 4, 'a row per trial');
    assert.ok((await panel.locator('.smlt-sweep svg circle').count()) >= 5, 'the chart has a point per finished rung (4 first rungs, at least one promotion)');
    await page.screenshot({ path: join(outDir, 'sweep-panel.png') });

    const sweepsDir = join(editor.workspace, '.smlt/sweeps');
    const [sweepId] = readdirSync(sweepsDir);
    assert.ok(sweepId && existsSync(join(sweepsDir, sweepId, 'best-model/model.json')), 'the best model is next to the notebook');
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'sweep mnist-sweep succeeded' });
    await toast.first().waitFor({ state: 'visible' });
    assert.match(normalizeText(await toast.first().innerText()), /best trial \d \(learningRate=.*\) val_accuracy \d+\.\d\d ?%/);
    await toast.first().locator('a.monaco-button, .monaco-button', { hasText: 'Open best settings' }).first().click();
    const settings = page.locator('.editor-instance .view-lines', { hasText: 'learningRate' });
    await settings.first().waitFor({ state: 'visible' });
    const learningRate = /^\s*learningRate: .+$/m.exec(readFileSync(join(sweepsDir, sweepId, 'best-settings.yaml'), 'utf8'))?.[0].trim();
    assert.ok(learningRate, 'best-settings.yaml names the winning learning rate');
    assert.ok(normalizeText(await settings.first().innerText()).includes(learningRate), `the editor shows ${learningRate}`);

    // The settings opened in the panel's group, which hid (and so unloaded) the panel's webview: show it again.
    await page.locator('.tabs-container .tab', { hasText: 'SMLT sweep: mnist-sweep' }).first().click();
    const shown = await findFrame(page, (t) => t.includes('Sweep mnist-sweep: Finished') && t.includes('Open report'), 'the sweep panel, shown again with its history');
    await shown.locator('button[data-action="open-report"]').click();
    const report = await findFrame(page, (t) => t.includes('Sweep mnist-sweep: Finished') && !t.includes('Open report'), 'the sweep report page');
    assert.equal(await report.locator('.smlt-sweep table tbody tr').count(), 4, 'the report shows the same table');
    assert.ok(existsSync(join(sweepsDir, sweepId, 'report.html')), 'the report page is saved with the sweep');
  });
});

async function openNotebook(page: Page, name: string): Promise<void> {
  // Always in the first editor group, so run panels (opened beside) do not push notebooks into others.
  await quickPick(page, 'F1', '>View: Focus First Editor Group', 'View: Focus First Editor Group');
  await page.keyboard.press('Enter');
  // From the explorer: Quick Open's rows move while its results arrive (and list other matching notebooks first).
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first().dblclick();
  // (A notebook opened before keeps its scroll position: wait for any cell, not a given one.)
  await page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor({ state: 'visible' });
  await page.locator('.notebook-editor .code-cell-row').first().waitFor({ state: 'visible' });
}

/**
 * Runs the train command on the notebook just opened. The extension host learns which notebook is
 * active a moment after the workbench shows it (longer after a window reload): while the prompt
 * names another notebook, it is closed and the command run again.
 */
async function startTraining(page: Page, name: string, command = TRAIN): Promise<void> {
  const [verb, steps] = command === SWEEP ? ['Sweep', 4] : ['Train', 5];
  for (let attempt = 1; ; attempt++) {
    await quickPick(page, 'F1', `>${command}`, command);
    await page.keyboard.press('Enter');
    await step(page, `1/${steps}`);
    const text = await promptTitle(page).innerText();
    // The title names the notebook without its extension: "SMLT: Train mnist (1/5)"; a sweep has no objective step.
    if (text.includes(`${verb} ${name.replace(/\.ipynb$/, '')} (`)) return;
    if (attempt >= 10) throw new Error(`the train prompt names another notebook: "${text}" (wanted ${name})`);
    await page.keyboard.press('Escape');
    await page.waitForTimeout(1000);
  }
}

const promptTitle = (page: Page) => page.locator('.quick-input-widget .quick-input-title');

/** Waits until the quick input's title says it is on step `n/5`. */
async function step(page: Page, n: string): Promise<void> {
  await promptTitle(page).filter({ hasText: `(${n})` }).waitFor({ state: 'visible' });
}

/** Answers step `n` of the train (5 steps) or sweep (4) prompt: types `value` over what it offers (when given), then Enter. */
async function answer(page: Page, n: number, value?: string, steps = 5): Promise<void> {
  await step(page, `${n}/${steps}`);
  if (value !== undefined) await page.locator('.quick-input-widget input').fill(value);
  await page.keyboard.press('Enter');
}

async function waitForText(frame: Frame, pattern: RegExp, what: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(await frame.evaluate(() => document.body.innerText).catch(() => ''))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Timed out waiting for ${what}.`);
}
