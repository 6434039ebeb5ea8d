/**
 * The JupyterLab extension end to end, in a pip-installed JupyterLab 4.6.4 on jupyter_server
 * 2.21 with SMLT's wheel installed (its server extension proxying `smlt serve`), in Debian's
 * Chromium:
 * 1. examples/mnist.ipynb, with an unsaved edit (epochs 2 → 3) that the run must use: the
 *    toolbar button, the context menu and palette entries, the dialog (a bad value shown beside its field,
 *    the live estimate), the inline panel reaching "Succeeded" with its loss chart, the report
 *    tab and the load cell;
 * 2. a longer copy: the page is reloaded mid-run and the panel re-attaches to the same run;
 *    closing and reopening the notebook re-attaches again; the run is cancelled from the panel;
 * 3. a Python notebook whose model and data exist only in a real ipykernel: the model object's
 *    `to_json()` returns real Keras JSON (a fixture; there is no Keras here) and the arrays
 *    travel as .npy bytes.
 * 4. the TensorFlow quickstart, unmodified, in a real TF 2.21 / Keras 3 kernel: the dialog says
 *    what SMLT found at model.fit, the run succeeds, and the inserted load cell puts the trained
 *    weights into the kernel's own model.
 * Any browser console error fails the file. One server and one browser serve all tests.
 * Screenshots: test-output/jupyterlab/ (`SMLT_UPDATE_DOCS=1` also copies dialog and panel to docs/).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ConsoleWatch, type Lab, assertSeen, hostMissing, kernelNotebook, launchBrowser, repoRoot, startLab, trainFromDialog } from './lab.js';

const outDir = join(repoRoot, 'test-output/jupyterlab');
const RUN_TIMEOUT_MS = 10 * 60_000;
/** A re-attached panel shows its run within this, or the test fails with a screenshot (not a silent test timeout). */
const REATTACH_TIMEOUT_MS = 2 * 60_000;

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') {
  throw new Error(`SMLT_REQUIRE_E2E=1 but the JupyterLab test host is missing: ${missing}`);
}

type Cell = { cell_type: string; source: string | string[]; metadata: Record<string, unknown>; outputs?: unknown[]; execution_count?: null; id?: string };

/** examples/mnist.ipynb with its config cell asking for `epochs`. */
function mnistWithEpochs(epochs: number): string {
  const notebook = JSON.parse(readFileSync(join(repoRoot, 'examples/mnist.ipynb'), 'utf8')) as { cells: Cell[] };
  const config = notebook.cells.find((c) => /^epochs:\s*\d+/m.test([c.source].flat().join('')));
  assert.ok(config, 'examples/mnist.ipynb has an `epochs:` line in its config cell');
  config.source = [config.source].flat().join('').replace(/^epochs:\s*\d+/m, `epochs: ${epochs}`);
  return JSON.stringify(notebook, null, 1);
}

/** A Python notebook whose model (a stand-in for a Keras model) and arrays live in the kernel. */
function kerasKernelNotebook(): string {
  return kernelNotebook({ display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' }, [
    {
      id: 'setup',
      source: [
        'import numpy as np',
        '',
        'class KerasModel:',
        '    """Stands in for a Keras model: to_json() returns what Keras 2.2.4 wrote for an MLP."""',
        '    def __init__(self, path):',
        '        with open(path) as f:',
        '            self._json = f.read()',
        '    def to_json(self):',
        '        return self._json',
        '',
        'rng = np.random.default_rng(0)',
        'x_train = rng.random((512, 784), dtype=np.float32)',
        'y_train = rng.integers(0, 10, 512)',
        'print("kernel ready", x_train.shape, y_train.shape)'
      ].join('\n')
    },
    { id: 'model', source: "# smlt: model\nmodel = KerasModel('k2_mnist_mlp_dropout_keras2.2.4.json')", tags: ['smlt:model'] },
    { id: 'data', source: '# smlt: data\nx: x_train\ny: y_train', tags: ['smlt:data'] },
    {
      id: 'config',
      source: '# smlt: config\nepochs: 1\nbatchSize: 64\noptimizer: adam\nloss: categoricalCrossentropy\nmetrics: [accuracy]\nvalidationSplit: 0.2\nseed: 1',
      tags: ['smlt:config']
    }
  ]);
}


describe('JupyterLab extension in a real JupyterLab 4', { skip: missing ? `${missing} (the JupyterLab e2e host is not set up)` : false }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  const watch = new ConsoleWatch();
  const smltBodies: Promise<string>[] = [];

  before(async () => {
    mkdirSync(outDir, { recursive: true });
    lab = await startLab({
      files: {
        'mnist.ipynb': readFileSync(join(repoRoot, 'examples/mnist.ipynb')),
        // Long enough (≈ 8 min here) to still be running after a reload and a reopen, each of which
        // may wait 30 s for a kernel dialog; 40 epochs once finished first and the test hung.
        'mnist-long.ipynb': mnistWithEpochs(200),
        'keras-kernel.ipynb': kerasKernelNotebook(),
        'k2_mnist_mlp_dropout_keras2.2.4.json': readFileSync(join(repoRoot, 'test/fixtures/models/keras/k2_mnist_mlp_dropout_keras2.2.4.json')),
        'keras/keras-quickstart.ipynb': readFileSync(join(repoRoot, 'examples/keras-quickstart.ipynb')),
        'keras/data/digits.npz': readFileSync(join(repoRoot, 'examples/data/digits.npz'))
      },
      logFile: join(outDir, 'server.log')
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(90_000);
    watch.attach(page);
    // Every answer of the server extension the browser reads (the event streams aside) is kept,
    // to check that the token of smlt serve never reaches the page.
    page.on('response', (response) => {
      if (!new URL(response.url()).pathname.startsWith('/smlt/') || response.url().includes('/events')) return;
      smltBodies.push(response.text().catch(() => ''));
    });
  });

  after(async () => {
    watch.save(join(outDir, 'console.log'));
    let token: string | undefined;
    try {
      token = (JSON.parse(readFileSync(join(lab.smltHome, 'serve.json'), 'utf8')) as { token: string }).token;
    } catch {
      // no server or no side process: the tests have failed already
    }
    const bodies = await Promise.all(smltBodies);
    await browser?.close();
    await lab?.stop();
    assert.deepEqual(watch.errors, [], 'the browser console had errors');
    assert.ok(bodies.length > 5, `the page called the server extension (${bodies.length} answers)`);
    assert.ok(token && !bodies.some((b) => b.includes(token)), 'an answer to the browser carried the token of smlt serve');
  });

  /** Runs a test body; on failure the page is saved as test-output/jupyterlab/99-failure-<tag>.png. */
  const shot = (tag: string, body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (err) {
      await page.screenshot({ path: join(outDir, `99-failure-${tag}.png`) }).catch(() => undefined);
      throw err;
    }
  };

  /** Switches the theme from the Settings menu and waits until the page shows it. */
  async function setTheme(name: 'JupyterLab Dark' | 'JupyterLab Light'): Promise<void> {
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Settings$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Theme$/ }).hover();
    await page.locator('.lm-Menu-itemLabel', { hasText: new RegExp(`^${name}$`) }).click();
    await page.locator(`body[data-jp-theme-light="${name === 'JupyterLab Light'}"]`).waitFor({ state: 'attached' });
  }

  /** Whether the page is light, and whether the panel's background is the theme's --jp-layout-color1. */
  async function themeColors(runPanel: Locator): Promise<{ light: boolean; panelMatchesTheme: boolean }> {
    // The theme's stylesheet loads after the switch: give it a few seconds to apply.
    let seen = await colorsNow(runPanel);
    for (let i = 0; i < 50 && !seen.panelMatchesTheme; i++) {
      await page.waitForTimeout(200);
      seen = await colorsNow(runPanel);
    }
    return seen;
  }

  function colorsNow(runPanel: Locator): Promise<{ light: boolean; panelMatchesTheme: boolean }> {
    return runPanel.locator('.smlt-panel').evaluate((el) => {
      const probe = document.createElement('div');
      probe.style.background = 'var(--jp-layout-color1)';
      document.body.appendChild(probe);
      const theme = getComputedStyle(probe).backgroundColor;
      probe.remove();
      return { light: document.body.dataset.jpThemeLight === 'true', panelMatchesTheme: getComputedStyle(el).backgroundColor === theme };
    });
  }

  /** Opens a notebook and waits for its toolbar button; a missing kernel (tslab) is declined. */
  /** `via`: a fresh page at the notebook's URL, the page as it reloaded, or the file browser. */
  async function openNotebook(name: string, { kernel, via = 'url' }: { kernel: boolean; via?: 'url' | 'reload' | 'file-browser' }): Promise<Locator> {
    if (via === 'url') await page.goto(lab.url(`/lab/tree/${name}?reset`));
    if (via === 'file-browser') {
      // A notebook JupyterLab restored may still be asking for its kernel, and that dialog is
      // modal: decline it whenever it is up, then open the file.
      const pending = page.locator('.jp-Dialog', { hasText: 'Select Kernel' });
      for (let attempt = 1; ; attempt++) {
        if ((await pending.count()) > 0 && attempt < 12) {
          await pending.first().getByRole('button', { name: 'No Kernel', exact: true }).click();
          continue;
        }
        try {
          await page.locator('.jp-DirListing-item', { hasText: name }).dblclick({ timeout: 15_000 });
          break;
        } catch (err) {
          if (attempt >= 6) throw err;
        }
      }
    }
    const panel = page.locator('.jp-NotebookPanel:visible').first();
    await panel.locator('.jp-Cell').first().waitFor();
    await panel.locator('[data-command="smlt:train"]').waitFor();
    // JupyterLab asks which kernel to start. examples/mnist.ipynb wants tslab, which is not
    // installed here; its tfjs cells are captured by the server, so it runs with no kernel.
    const dialog = page.locator('.jp-Dialog', { hasText: 'Select Kernel' }).first();
    const asked = await dialog.waitFor({ timeout: 30_000 }).then(() => true, () => false);
    if (asked) {
      await dialog.getByRole('button', { name: kernel ? 'Select' : 'No Kernel', exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    if (kernel) await page.locator('.jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status="idle"]').waitFor({ timeout: 120_000 });
    return panel;
  }

  const train = (panel: Locator, values: { deadline: string; budget: string }, screenshot?: string): Promise<Locator> =>
    trainFromDialog(page, panel, values, screenshot === undefined ? undefined : join(outDir, screenshot));

  it('trains examples/mnist.ipynb from the toolbar button and shows the run succeed in the notebook', { timeout: RUN_TIMEOUT_MS }, shot('mnist', async () => {
    const panel = await openNotebook('mnist.ipynb', { kernel: false });
    await page.screenshot({ path: join(outDir, '01-notebook.png') });
    // An unsaved edit: the run must train what the editor shows, not the file on disk.
    await panel.locator('.cm-line', { hasText: /^epochs: 2$/ }).click();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('3');
    await panel.locator('.cm-line', { hasText: /^epochs: 3$/ }).waitFor();

    // A bad value is shown beside its field and keeps the dialog open.
    await panel.locator('[data-command="smlt:train"]').click();
    const dialog = page.locator('.jp-Dialog.jp-smlt-TrainDialog');
    await dialog.locator('input[name="deadline"]').fill('-5');
    await dialog.getByRole('button', { name: 'Train' }).click();
    const fieldError = dialog.locator('[data-error-for="deadline"]');
    await assertSeen(fieldError);
    assert.match(await fieldError.innerText(), /deadline must be a positive number of minutes/i);
    assert.equal(await dialog.locator('input[name="deadline"]').getAttribute('aria-invalid'), 'true');
    await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, '02-dialog-error.png') });
    // An impossible budget: the planner's explanation and its fix, and Train does not launch.
    await dialog.locator('input[name="deadline"]').fill('30');
    await dialog.locator('input[name="budget"]').fill('0.000001');
    const infeasible = dialog.locator('.jp-smlt-Estimate[data-kind="infeasible"]');
    await infeasible.waitFor();
    await assertSeen(infeasible);
    assert.match(await infeasible.innerText(), /Cannot meet these limits/);
    await dialog.getByRole('button', { name: 'Train' }).click();
    await assertSeen(dialog.locator('.jp-smlt-FormError'));
    await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, '03-dialog-infeasible.png') });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await panel.locator('.jp-smlt-RunPanel').count(), 0, 'no run was started');

    const runPanel = await train(panel, { deadline: '30', budget: '1' }, '04-dialog.png');
    const badge = runPanel.locator('.smlt-badge[data-status="succeeded"]');
    await badge.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(badge);
    assert.equal((await badge.innerText()).trim(), 'Succeeded');
    assert.match(await runPanel.locator('.smlt-progress-label').innerText(), /All 3 epochs done/);
    assert.match(readFileSync(join(lab.root, 'mnist.ipynb'), 'utf8'), /epochs: 2/, 'the edit stayed unsaved');
    // The loss chart is drawn: a curve with a real size, inside the visible panel.
    const curve = runPanel.locator('svg.smlt-chart-svg polyline.smlt-series-iter').first();
    const box = await curve.boundingBox();
    assert.ok(box && box.width > 50 && box.height > 5, `the loss curve has a drawn size (got ${JSON.stringify(box)})`);
    const points = (await curve.getAttribute('points'))?.trim().split(/\s+/) ?? [];
    assert.ok(points.length >= 2, `the loss curve has points (got ${points.length})`);
    await assertSeen(runPanel.locator('.smlt-chart h3', { hasText: 'Training curve' }));
    await runPanel.screenshot({ path: join(outDir, '05-panel.png') });
    await page.screenshot({ path: join(outDir, '06-notebook-with-panel.png') });
    assert.deepEqual(await themeColors(runPanel), { light: true, panelMatchesTheme: true });

    // The dark theme re-colours the panel through JupyterLab's CSS variables.
    await setTheme('JupyterLab Dark');
    assert.deepEqual(await themeColors(runPanel), { light: false, panelMatchesTheme: true });
    await runPanel.screenshot({ path: join(outDir, '05-panel-dark.png') });
    await setTheme('JupyterLab Light');

    // The command is also in the notebook's context menu.
    await panel.locator('.jp-Cell').first().click({ button: 'right' });
    await assertSeen(page.locator('.lm-Menu .lm-Menu-itemLabel', { hasText: /^Train on serverless$/ }));
    await page.keyboard.press('Escape');
    // And in the command palette.
    await page.keyboard.press('Control+Shift+C');
    await page.locator('.lm-CommandPalette-input').fill('Train on serverless');
    await assertSeen(page.locator('.lm-CommandPalette-item', { hasText: 'Train on serverless' }).locator('.lm-CommandPalette-itemLabel'));
    await page.keyboard.press('Escape');

    // Open report: a main-area tab with the shared report page.
    await runPanel.getByRole('button', { name: 'Open report' }).click();
    const reportTab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Report mnist' });
    await reportTab.waitFor();
    const frame = page.frameLocator('.jp-smlt-Report iframe');
    await frame.locator('.smlt-panel[data-status="succeeded"]').first().waitFor();
    await page.screenshot({ path: join(outDir, '07-report-tab.png') });
    await reportTab.locator('.lm-TabBar-tabCloseIcon').click();

    // Insert load cell: a new cell that loads the model this run saved.
    const cells = panel.locator('.jp-Cell');
    const before = await cells.count();
    await runPanel.getByRole('button', { name: 'Insert load cell' }).click();
    await assert.doesNotReject(async () => {
      for (let i = 0; i < 100 && (await cells.count()) === before; i++) await page.waitForTimeout(100);
    });
    assert.equal(await cells.count(), before + 1);
    const loadCell = await cells.last().locator('.jp-InputArea-editor').innerText();
    assert.match(loadCell, /tf\.loadLayersModel\("file:\/\/.*\/\.smlt\/runs\/[^/]+\/model\/model\.json"\)/);

    if (process.env.SMLT_UPDATE_DOCS === '1') {
      copyFileSync(join(outDir, '04-dialog.png'), join(repoRoot, 'docs/jupyterlab-dialog.png'));
      copyFileSync(join(outDir, '05-panel.png'), join(repoRoot, 'docs/jupyterlab-panel.png'));
    }
  }));

  it('re-attaches the panel to the running run after the page is reloaded', { timeout: RUN_TIMEOUT_MS }, shot('reload', async () => {
    let panel = await openNotebook('mnist-long.ipynb', { kernel: false });
    let runPanel = await train(panel, { deadline: '60', budget: '5' });
    const runId = await runPanel.locator('.smlt-panel').getAttribute('data-run-id');
    assert.ok(runId);
    // Mid-run: the workers report progress.
    await runPanel.locator('.smlt-panel[data-status="running"] .smlt-progress-label', { hasText: 'iteration' }).waitFor({ timeout: RUN_TIMEOUT_MS });

    await page.reload();
    panel = await openNotebook('mnist-long.ipynb', { kernel: false, via: 'reload' });
    runPanel = panel.locator('.jp-smlt-RunPanel');
    const attached = runPanel.locator(`.smlt-panel[data-run-id="${runId}"][data-status="running"]`);
    await attached.waitFor({ timeout: REATTACH_TIMEOUT_MS });
    await assertSeen(attached.locator('.smlt-badge'));
    // The replayed history is there: the curve already has points from before the reload.
    await runPanel.locator('svg.smlt-chart-svg polyline.smlt-series-iter').first().waitFor();
    await page.screenshot({ path: join(outDir, '08-reattached.png') });

    // Closing the notebook and opening it again from the file browser re-attaches too.
    await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'mnist-long.ipynb' }).locator('.lm-TabBar-tabCloseIcon').click();
    await panel.waitFor({ state: 'detached' });
    panel = await openNotebook('mnist-long.ipynb', { kernel: false, via: 'file-browser' });
    runPanel = panel.locator('.jp-smlt-RunPanel');
    await runPanel.locator(`.smlt-panel[data-run-id="${runId}"][data-status="running"]`).waitFor({ timeout: REATTACH_TIMEOUT_MS });

    await runPanel.getByRole('button', { name: 'Cancel run' }).click();
    const cancelled = runPanel.locator('.smlt-badge[data-status="cancelled"]');
    await cancelled.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(cancelled);
  }));

  it('captures a Keras model and numpy arrays that exist only in a Python kernel', { timeout: RUN_TIMEOUT_MS }, shot('python-kernel', async () => {
    const panel = await openNotebook('keras-kernel.ipynb', { kernel: true });
    // Run the setup and model cells (Shift+Enter), so the model object and the arrays exist
    // only in the kernel; the data and config cells are not Python and are not run.
    await panel.locator('.jp-Cell').first().locator('.jp-InputPrompt').click();
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.press('Shift+Enter');
    await panel.locator('.jp-OutputArea-output', { hasText: 'kernel ready (512, 784) (512,)' }).waitFor({ timeout: 120_000 });
    await panel.locator('.jp-Cell').nth(1).locator('.jp-InputPrompt', { hasText: '[2]' }).waitFor({ timeout: 120_000 });

    const runPanel = await train(panel, { deadline: '30', budget: '1' });
    const badge = runPanel.locator('.smlt-badge[data-status="succeeded"]');
    await badge.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(badge);
    // The Keras 2.2.4 MLP (784-512-512-10 with dropout) and the kernel's 512 samples reached the run.
    const meta = await runPanel.locator('.smlt-meta').innerText();
    assert.match(meta, /669,706 parameters/);
    assert.match(meta, /410 training \/ 102 held-out samples|409 training \/ 103 held-out samples/);
    const stored = readdirSync(join(lab.root, '.smlt/kernel-data')).filter((f) => f.endsWith('.npy'));
    assert.equal(stored.length, 2, `x and y were stored as .npy files (${stored.join(', ')})`);
    await page.screenshot({ path: join(outDir, '09-python-kernel.png') });
  }));

  it('trains the unmodified TensorFlow quickstart in a Keras kernel and loads the weights into its model', { timeout: RUN_TIMEOUT_MS }, shot('keras-quickstart', async () => {
    const panel = await openNotebook('keras/keras-quickstart.ipynb', { kernel: true });
    // No SMLT cells: the server runs the cells to model.fit with the kernel's Python, and the
    // dialog shows what it found there before anything starts.
    const runPanel = await trainFromDialog(page, panel, { deadline: '', budget: '1' }, join(outDir, '10-keras-dialog.png'), async (dialog) => {
      const found = dialog.locator('.jp-smlt-FoundSummary');
      await assertSeen(found);
      assert.match(await found.innerText(), /Found: model `model` \(Sequential, 101,770 parameters\) · data `x_train` 8000×28×28, `y_train` 8000 · SparseCategoricalCrossentropy\(from_logits=True\) · Adam\(learning_rate=0\.001\) · 5 epochs, batch 32 — from `model\.fit` in cell 7/);
      assert.match(await dialog.locator('.jp-smlt-FoundWarnings').innerText(), /holds out 10 %/);
    });
    const badge = runPanel.locator('.smlt-badge[data-status="succeeded"]');
    await badge.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(badge);

    const cells = panel.locator('.jp-Cell');
    const count = await cells.count();
    await runPanel.getByRole('button', { name: 'Insert load cell' }).click();
    await cells.nth(count).waitFor();
    const loadCell = await cells.last().locator('.jp-InputArea-editor').innerText();
    const runDir = /sys\.path\.insert\(0, "([^"]+)"\)/.exec(loadCell)?.[1];
    assert.ok(runDir, `the load cell names the run folder:\n${loadCell}`);
    assert.match(loadCell, /load_weights\(model, /);
    assert.doesNotMatch(loadCell, /tensorflowjs/);

    // Run every cell in the kernel (Keras' own fit included), then the load cell: the kernel's
    // model takes the run's weights and saves itself as model.keras in the run folder.
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
    await cells.last().locator('.jp-InputPrompt', { hasText: /\[\d+\]/ }).waitFor({ timeout: RUN_TIMEOUT_MS });
    const output = await cells.last().locator('.jp-OutputArea').innerText();
    assert.doesNotMatch(output, /Error|Traceback/, `the load cell ran without an error:\n${output}`);
    const runFolder = isAbsolute(runDir) ? runDir : join(lab.root, 'keras', runDir);
    assert.ok(existsSync(join(runFolder, 'model.keras')), `model.keras written in ${runFolder}`);
    await page.screenshot({ path: join(outDir, '11-keras-loaded.png') });
  }));
});
