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
 * 3. a Python notebook whose model and data exist only in a real ipykernel: its SMLT YAML cells
 *    become raw cells, so Run All works; the model object's `to_json()` returns real Keras 2
 *    JSON (a fixture) and the arrays travel as .npy bytes.
 * 4. the TensorFlow quickstart in the venv's own Python kernel (TF 2.21 / Keras 3), run up to
 *    compile as a user would: the dialog says what SMLT found at model.fit, the run succeeds,
 *    "Load into kernel" puts the trained weights into the kernel's model, and the notebook's
 *    `model.evaluate(x_test, y_test)` then agrees with the run's accuracy within 1 point.
 * 5. a tfjs notebook opened with a Python kernel is captured from its cells;
 *    a start that fails keeps the dialog working; the dialog fits a 420 px window;
 * 6. Notebook 7.6 on the same server and wheel: the button, a run to "Succeeded", both themes.
 * Any browser console error fails the file. One server and one browser serve all tests.
 * Screenshots: test-output/jupyterlab/ (`SMLT_UPDATE_DOCS=1` also copies dialog and panel to docs/).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ConsoleWatch, type Lab, PYTHON_KERNEL, TSLAB_KERNEL, assertSeen, closeTab, hostMissing, kernelNotebook, launchBrowser, repoRoot, startLab, trainFromDialog } from './lab.js';

const outDir = join(repoRoot, 'test-output/jupyterlab');
/** Screenshots `SMLT_UPDATE_DOCS=1` copies into docs/ (the READMEs show them). */
const DOC_SCREENSHOTS: Record<string, string> = {
  '04-dialog.png': 'jupyterlab-dialog.png',
  '05-panel.png': 'jupyterlab-panel.png',
  '10-keras-dialog.png': 'jupyterlab-keras-dialog.png',
  '11-keras-loaded.png': 'jupyterlab-keras-loaded.png',
  '14-notebook7.png': 'notebook7-panel.png'
};
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


function withKernelspec(notebookText: string, kernelspec: { name: string; display_name: string; language: string }): string {
  const notebook = JSON.parse(notebookText) as { metadata: Record<string, unknown> };
  notebook.metadata = { kernelspec, language_info: { name: kernelspec.language } };
  return JSON.stringify(notebook, null, 1);
}

/**
 * examples/keras-quickstart.ipynb (the TensorFlow beginner quickstart) with the test set as
 * `validation_data`, as many Keras tutorials write fit: the run's held-out set is then x_test, so
 * the run's accuracy and Keras' own evaluate in the kernel measure the same thing.
 */
function kerasTutorial(): string {
  const notebook = JSON.parse(readFileSync(join(repoRoot, 'examples/keras-quickstart.ipynb'), 'utf8')) as { cells: Cell[] };
  const fit = notebook.cells.find((c) => [c.source].flat().join('') === 'model.fit(x_train, y_train, epochs=5)');
  assert.ok(fit, 'examples/keras-quickstart.ipynb has its fit cell');
  fit.source = 'model.fit(x_train, y_train, epochs=5, validation_data=(x_test, y_test))';
  return JSON.stringify(notebook, null, 1);
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
        'keras/keras-tutorial.ipynb': kerasTutorial(),
        // examples/mnist.ipynb as saved after opening it with a Python kernel.
        'mnist-python.ipynb': withKernelspec(readFileSync(join(repoRoot, 'examples/mnist.ipynb'), 'utf8'), PYTHON_KERNEL),
        'no-model.ipynb': kernelNotebook(TSLAB_KERNEL, [{ id: 'data', source: '// smlt: data\nsource: builtin:mnist', tags: ['smlt:data'] }]),
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
    if (process.env.SMLT_UPDATE_DOCS === '1') {
      for (const [shot, doc] of Object.entries(DOC_SCREENSHOTS)) {
        if (existsSync(join(outDir, shot))) copyFileSync(join(outDir, shot), join(repoRoot, 'docs', doc));
      }
    }
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
    // The panel is as tall as its content needs, up to 40 % of the window, and collapses to its
    // header and progress line.
    const tall = (await runPanel.boundingBox())!.height;
    assert.ok(tall > 150 && tall <= 0.4 * 900 + 1, `the panel takes at most 40 % of the window (got ${tall} px)`);
    await runPanel.getByRole('button', { name: 'Hide details' }).click();
    await runPanel.locator('.smlt-chart').waitFor({ state: 'hidden' });
    const short = (await runPanel.boundingBox())!.height;
    assert.ok(short <= 220 && short < tall - 100, `collapsed, the panel is its header and progress line (got ${short} px of ${tall})`);
    assert.ok(await runPanel.evaluate((el) => el.scrollHeight <= el.clientHeight + 1), 'collapsed, the panel does not scroll');
    await assertSeen(runPanel.locator('.smlt-badge'));
    await runPanel.getByRole('button', { name: 'Show details' }).click();
    await runPanel.locator('.smlt-chart').waitFor();
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
    await closeTab(page, 'Report mnist');

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

  }));

  it('keeps the dialog working after a failed start, and fits a 420 px window', { timeout: RUN_TIMEOUT_MS }, shot('dialog', async () => {
    // The refused estimate and starts are this test's own doing, not console noise.
    watch.allow(/\/smlt\/(estimate|runs)\?/, 'status of 400');
    const panel = await openNotebook('no-model.ipynb', { kernel: false });
    const dialog = page.locator('.jp-Dialog.jp-smlt-TrainDialog');
    const trainButton = dialog.getByRole('button', { name: 'Train' });
    await panel.locator('[data-command="smlt:train"]').click();
    await dialog.waitFor();
    // The start fails (the notebook has no model cell): the error shows in the dialog, which
    // keeps its title and answers Train again, then Escape.
    for (let attempt = 1; attempt <= 2; attempt++) {
      const start = page.waitForResponse((r) => new URL(r.url()).pathname === '/smlt/runs' && r.request().method() === 'POST');
      await trainButton.click();
      const status = (await start).status();
      assert.ok(status >= 400 && status < 500, `start ${attempt} was sent and refused (HTTP ${status})`);
      const error = dialog.locator('.jp-smlt-FormError', { hasText: /model/i });
      await error.waitFor();
      await assertSeen(error);
      await assertSeen(dialog.locator('.jp-Dialog-header', { hasText: 'Train on serverless' }));
      assert.equal(await trainButton.isEnabled(), true, `Train works again after failed start ${attempt}`);
    }
    await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, '12-dialog-failed-start.png') });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Opened again, it is a fresh dialog with its title, and Cancel closes it.
    await panel.locator('[data-command="smlt:train"]').click();
    await assertSeen(dialog.locator('.jp-Dialog-header', { hasText: 'Train on serverless' }));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    // In a 420 px wide window (where the toolbar folds the button away: opened before) every
    // field and both buttons are inside the window.
    await panel.locator('[data-command="smlt:train"]').click();
    await dialog.waitFor();
    await page.setViewportSize({ width: 420, height: 800 });
    try {
      for (const part of [dialog.locator('.jp-Dialog-content'), dialog.locator('input[name="budget"]'), dialog.locator('select[name="backend"]'), trainButton, dialog.getByRole('button', { name: 'Cancel' })]) {
        const box = (await part.boundingBox())!;
        assert.ok(box.x >= 0 && box.x + box.width <= 420, `inside the 420 px window: ${JSON.stringify(box)}`);
      }
      await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, '13-dialog-narrow.png') });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
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
    await closeTab(page, 'mnist-long.ipynb');
    panel = await openNotebook('mnist-long.ipynb', { kernel: false, via: 'file-browser' });
    runPanel = panel.locator('.jp-smlt-RunPanel');
    await runPanel.locator(`.smlt-panel[data-run-id="${runId}"][data-status="running"]`).waitFor({ timeout: REATTACH_TIMEOUT_MS });

    await runPanel.getByRole('button', { name: 'Cancel run' }).click();
    const cancelled = runPanel.locator('.smlt-badge[data-status="cancelled"]');
    await cancelled.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(cancelled);
  }));

  it('trains a tfjs notebook opened with a Python kernel from its cells, without asking the kernel', { timeout: RUN_TIMEOUT_MS }, shot('tfjs-python-kernel', async () => {
    const panel = await openNotebook('mnist-python.ipynb', { kernel: true });
    await panel.locator('[data-command="smlt:train"]').click();
    const dialog = page.locator('.jp-Dialog.jp-smlt-TrainDialog');
    const estimate = dialog.locator('.jp-smlt-Estimate[data-kind="ok"]');
    await estimate.waitFor();
    await assertSeen(estimate);
    assert.equal(await dialog.locator('.jp-smlt-FormError').isHidden(), true, 'no capture error (the kernel was not asked for a Python `model`)');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  }));

  it('captures a Keras model and numpy arrays that exist only in a Python kernel', { timeout: RUN_TIMEOUT_MS }, shot('python-kernel', async () => {
    const panel = await openNotebook('keras-kernel.ipynb', { kernel: true });
    // SMLT's YAML cells (data, config) became raw cells, so Run All runs the notebook's Python
    // without an error (as code cells, `x: x_train` and `epochs: 1` would fail in Python).
    await panel.locator('.jp-RawCell').nth(1).waitFor();
    assert.equal(await panel.locator('.jp-RawCell').count(), 2, 'the data and config cells are raw cells');
    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
    await panel.locator('.jp-OutputArea-output', { hasText: 'kernel ready (512, 784) (512,)' }).waitFor({ timeout: 120_000 });
    await panel.locator('.jp-Cell').nth(1).locator('.jp-InputPrompt', { hasText: '[2]' }).waitFor({ timeout: 120_000 });
    await page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first().waitFor();
    assert.equal(await panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').count(), 0, 'Run All raised no error');

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

  it('trains a tutorial Keras notebook from the button and loads the weights into the kernel, where evaluate agrees', { timeout: RUN_TIMEOUT_MS }, shot('keras-tutorial', async () => {
    const panel = await openNotebook('keras/keras-tutorial.ipynb', { kernel: true });
    // As a user would: run the cells up to model.compile (imports, data, model, a prediction, compile).
    const cells = panel.locator('.jp-Cell');
    await cells.nth(1).locator('.jp-InputPrompt').click();
    for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+Enter');
    await cells.nth(5).locator('.jp-InputPrompt', { hasText: '[5]' }).waitFor({ timeout: 180_000 });

    // No SMLT cells: the server runs the cells to model.fit with the kernel's Python, and the
    // dialog shows what it found there before anything starts.
    const runPanel = await trainFromDialog(page, panel, { deadline: '', budget: '1' }, join(outDir, '10-keras-dialog.png'), async (dialog) => {
      const found = dialog.locator('.jp-smlt-FoundSummary');
      await assertSeen(found);
      assert.match(await found.innerText(), /Found: model `model` \(Sequential, 101,770 parameters\) · data `x_train` 8000×28×28, `y_train` 8000 \+ 2000 validation samples · SparseCategoricalCrossentropy\(from_logits=True\) · Adam\(learning_rate=0\.001\) · 5 epochs, batch 32 — from `model\.fit` in cell 7/);
    });
    const badge = runPanel.locator('.smlt-badge[data-status="succeeded"]');
    await badge.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(badge);
    const runId = await runPanel.locator('.smlt-panel').getAttribute('data-run-id');
    const runFolder = join(lab.root, 'keras/.smlt/runs', runId!);
    const report = JSON.parse(readFileSync(join(runFolder, 'report.json'), 'utf8')) as { metrics?: { valAccuracy?: number } };
    const runAccuracy = report.metrics?.valAccuracy;
    assert.ok(runAccuracy !== undefined && runAccuracy > 0.8, `the run measured its held-out (x_test) accuracy: ${runAccuracy}`);

    // Load into kernel: the trained weights go into the kernel's own `model`, no cell added.
    const count = await cells.count();
    await runPanel.getByRole('button', { name: 'Load into kernel' }).click();
    const loaded = runPanel.locator('.jp-smlt-Loaded');
    await loaded.waitFor({ timeout: 120_000 });
    assert.equal((await loaded.innerText()).trim(), 'Loaded into `model` in the kernel');
    assert.equal(await cells.count(), count, 'loading into the kernel adds no cell');
    assert.ok(existsSync(join(runFolder, 'model.keras')), `model.keras written in ${runFolder}`);

    // The notebook's own next step, skipping its fit cell: model.evaluate(x_test, y_test).
    await cells.nth(7).locator('.jp-InputPrompt').click();
    await page.keyboard.press('Control+Enter');
    const output = cells.nth(7).locator('.jp-OutputArea-output', { hasText: /accuracy: \d/ });
    await output.first().waitFor({ timeout: 120_000 });
    const evaluated = Number(/accuracy: (\d+\.\d+)/.exec(await cells.nth(7).locator('.jp-OutputArea').innerText())?.[1]);
    process.stdout.write(`# held-out accuracy: run ${runAccuracy}, Keras evaluate after loading ${evaluated}\n`);
    assert.ok(Math.abs(evaluated - runAccuracy) <= 0.01, `Keras' evaluate in the kernel (${evaluated}) is within 1 point of the run's held-out accuracy (${runAccuracy})`);
    await page.screenshot({ path: join(outDir, '11-keras-loaded.png') });

    // Insert load cell: the same loading, as a cell the notebook keeps.
    await runPanel.getByRole('button', { name: 'Insert load cell' }).click();
    await cells.nth(count).waitFor();
    const loadCell = await cells.last().locator('.jp-InputArea-editor').innerText();
    assert.match(loadCell, /load_weights\(model, /);
    assert.doesNotMatch(loadCell, /tensorflowjs/);
  }));
  it('works the same in Notebook 7 (the same wheel), in light and dark themes', { timeout: RUN_TIMEOUT_MS }, shot('notebook7', async () => {
    await page.goto(lab.url('/notebooks/mnist.ipynb'));
    const panel = page.locator('.jp-NotebookPanel').first();
    await panel.locator('.jp-Cell').first().waitFor();
    const kernelDialog = page.locator('.jp-Dialog', { hasText: 'Select Kernel' }).first();
    if (await kernelDialog.waitFor({ timeout: 30_000 }).then(() => true, () => false)) {
      await kernelDialog.getByRole('button', { name: 'No Kernel', exact: true }).click();
      await kernelDialog.waitFor({ state: 'detached' });
    }
    await assertSeen(panel.locator('[data-command="smlt:train"]'));
    const runPanel = await train(panel, { deadline: '30', budget: '1' });
    const badge = runPanel.locator('.smlt-badge[data-status="succeeded"]');
    await badge.waitFor({ timeout: RUN_TIMEOUT_MS });
    await assertSeen(badge);
    assert.deepEqual(await themeColors(runPanel), { light: true, panelMatchesTheme: true });
    await page.screenshot({ path: join(outDir, '14-notebook7.png') });
    await setTheme('JupyterLab Dark');
    assert.deepEqual(await themeColors(runPanel), { light: false, panelMatchesTheme: true });
    await page.screenshot({ path: join(outDir, '15-notebook7-dark.png') });
    await setTheme('JupyterLab Light');
  }));
});
