/**
 * Design sweeps in the JupyterLab extension, end to end, in the pip-installed JupyterLab 4.6.4
 * with SMLT's wheel (its server extension proxying `smlt serve`), in Debian's Chromium:
 * 1. a small copy of examples/mnist-sweep.ipynb (4 trials, up to 3 epochs): "Sweep on
 *    serverless" in the toolbar (also in the context menu and the palette), the dialog's
 *    forecast, a budget too small (the advice, Start refused), then a sweep without one, whose
 *    panel reaches "Finished" with 4 trial rows, the best trial and the spend; the report tab
 *    shows the same table;
 * 2. the sweep cell edited to more epochs (unsaved: the command saves it, as the sweep reads the
 *    file), a second sweep started, the page reloaded mid-sweep (the panel re-attaches to it),
 *    and the sweep cancelled from the panel.
 * Any browser console error fails the file. Screenshots: test-output/jupyterlab/sweep-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ConsoleWatch, type Lab, assertSeen, closeTab, hostMissing, launchBrowser, repoRoot, startLab } from './lab.js';

const outDir = join(repoRoot, 'test-output/jupyterlab');
const SWEEP_TIMEOUT_MS = 10 * 60_000;
const NOTEBOOK = 'mnist-sweep-small.ipynb';

const missing = hostMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') {
  throw new Error(`SMLT_REQUIRE_E2E=1 but the JupyterLab test host is missing: ${missing}`);
}

type Cell = { cell_type: string; source: string | string[]; metadata: Record<string, unknown> };

/** examples/mnist-sweep.ipynb with its sweep cell cut to 4 trials of at most 3 epochs (≈ 15 s here). */
function smallSweepNotebook(): string {
  const notebook = JSON.parse(readFileSync(join(repoRoot, 'examples/mnist-sweep.ipynb'), 'utf8')) as { cells: Cell[] };
  const cell = notebook.cells.find((c) => /smlt: sweep/.test([c.source].flat().join('')));
  assert.ok(cell, 'examples/mnist-sweep.ipynb has its smlt:sweep cell');
  const source = [cell.source].flat().join('');
  assert.match(source, /^trials: \d+$/m);
  assert.match(source, /^epochs: \d+$/m);
  cell.source = source.replace(/^trials: \d+$/m, 'trials: 4').replace(/^epochs: \d+$/m, 'epochs: 3');
  return JSON.stringify(notebook, null, 1);
}

describe('design sweeps in JupyterLab', { skip: missing ? `${missing} (the JupyterLab e2e host is not set up)` : false }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  const watch = new ConsoleWatch();

  before(async () => {
    mkdirSync(outDir, { recursive: true });
    lab = await startLab({ files: { [NOTEBOOK]: smallSweepNotebook() }, logFile: join(outDir, 'sweep-server.log') });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(90_000);
    watch.attach(page);
  });

  after(async () => {
    watch.save(join(outDir, 'sweep-console.log'));
    await browser?.close();
    await lab?.stop();
    assert.deepEqual(watch.errors, [], 'the browser console had errors');
  });

  /** Runs a test body; on failure the page is saved as test-output/jupyterlab/99-failure-sweep-<tag>.png. */
  const shot = (tag: string, body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (err) {
      await page.screenshot({ path: join(outDir, `99-failure-sweep-${tag}.png`) }).catch(() => undefined);
      throw err;
    }
  };

  /** Opens the notebook (at its URL, or as the reloaded page restores it), declining a kernel: its tfjs cells are read by the server. */
  async function openNotebook(via: 'url' | 'reload'): Promise<Locator> {
    if (via === 'url') await page.goto(lab.url(`/lab/tree/${NOTEBOOK}?reset`));
    const panel = page.locator('.jp-NotebookPanel:visible').first();
    await panel.locator('.jp-Cell').first().waitFor();
    await panel.locator('[data-command="smlt:sweep"]').waitFor();
    // The notebook wants tslab, which this server lacks: JupyterLab asks which kernel to start.
    const dialog = page.locator('.jp-Dialog', { hasText: 'Select Kernel' }).first();
    if (await dialog.waitFor({ timeout: 30_000 }).then(() => true, () => false)) {
      await dialog.getByRole('button', { name: 'No Kernel', exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    return panel;
  }

  /** Clicks "Sweep on serverless" and waits for the dialog's first forecast. */
  async function openSweepDialog(panel: Locator): Promise<Locator> {
    await panel.locator('[data-command="smlt:sweep"]').click();
    const dialog = page.locator('.jp-Dialog.jp-smlt-SweepDialog');
    await dialog.waitFor();
    await assertSeen(dialog.locator('.jp-Dialog-header', { hasText: 'Sweep on serverless' }));
    await dialog.locator('.jp-smlt-Estimate[data-kind="ok"]').waitFor();
    return dialog;
  }

  async function startSweep(dialog: Locator, panel: Locator): Promise<Locator> {
    await dialog.getByRole('button', { name: 'Start sweep' }).click();
    await dialog.waitFor({ state: 'detached' });
    const sweepPanel = panel.locator('.jp-smlt-SweepPanel');
    await sweepPanel.locator('.smlt-sweep').waitFor();
    return sweepPanel;
  }

  const trialRows = (where: Locator) => where.locator('table[aria-label="Trials"] tbody tr');

  it('forecasts a sweep, refuses one over its budget, and shows a sweep to the end with its report', { timeout: SWEEP_TIMEOUT_MS }, shot('finished', async () => {
    const panel = await openNotebook('url');
    await assertSeen(panel.locator('[data-command="smlt:sweep"]'));

    // The forecast: trials, rungs, time and cost with their pessimistic ends, trials at once.
    let dialog = await openSweepDialog(panel);
    const estimate = dialog.locator('.jp-smlt-Estimate');
    assert.match(await estimate.innerText(), /^4 trials, rungs of 1, 3 epochs: ≈ .+ \(up to .+\), .*\$[\d.]+ .*\(up to \$[\d.]+\).*; (one trial at a time|\d+ trials at once)\.$/);
    await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, 'sweep-dialog.png') });

    // A budget too small: the advice names the budget it needs, and Start is refused.
    await dialog.locator('input[name="budget"]').fill('0.000001');
    const infeasible = dialog.locator('.jp-smlt-Estimate[data-kind="infeasible"]');
    await infeasible.waitFor();
    await assertSeen(infeasible);
    assert.match(await infeasible.innerText(), /Cannot hold these limits: .*budget of at least \$[\d.]+/);
    await dialog.getByRole('button', { name: 'Start sweep' }).click();
    const refused = dialog.locator('.jp-smlt-FormError', { hasText: 'Not started' });
    await refused.waitFor();
    await assertSeen(refused);
    await dialog.locator('.jp-Dialog-content').screenshot({ path: join(outDir, 'sweep-dialog-infeasible.png') });
    assert.equal(await panel.locator('.jp-smlt-SweepPanel').count(), 0, 'no sweep was started');

    // Without a budget the sweep starts, and its panel follows it to the end.
    await dialog.locator('input[name="budget"]').fill('');
    await dialog.locator('.jp-smlt-Estimate[data-kind="ok"]').waitFor();
    const sweepPanel = await startSweep(dialog, panel);
    await assertSeen(sweepPanel.getByRole('button', { name: 'Cancel sweep' }));
    const title = sweepPanel.locator('.smlt-sweep h2');
    await title.filter({ hasText: /: Finished$/ }).waitFor({ timeout: SWEEP_TIMEOUT_MS });
    await assertSeen(title);
    assert.match(await title.innerText(), /^Sweep .+: Finished$/);
    assert.equal(await trialRows(sweepPanel).count(), 4, 'a row per trial');
    await assertSeen(sweepPanel.locator('.smlt-sweep-summary', { hasText: /Best: trial \d+ \(.+\), val_accuracy \d+\.\d+%/ }));
    assert.equal(await trialRows(sweepPanel).filter({ hasText: /\bbest\b/ }).count(), 1, 'one trial is marked best');
    assert.match(await sweepPanel.locator('.smlt-sweep-meter', { hasText: 'Spend' }).innerText(), /Spend\s+\$[\d.]+/);
    assert.equal(await sweepPanel.getByRole('button', { name: 'Cancel sweep' }).count(), 0, 'nothing to cancel once finished');
    const panelRows = await trialRows(sweepPanel).allInnerTexts();
    await sweepPanel.screenshot({ path: join(outDir, 'sweep-panel.png') });

    // The command is also in the notebook's context menu and in the command palette.
    await panel.locator('.jp-Cell').first().click({ button: 'right' });
    await assertSeen(page.locator('.lm-Menu .lm-Menu-itemLabel', { hasText: /^Sweep on serverless$/ }));
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+C');
    await page.locator('.lm-CommandPalette-input').fill('Sweep on serverless');
    await assertSeen(page.locator('.lm-CommandPalette-item', { hasText: 'Sweep on serverless' }).locator('.lm-CommandPalette-itemLabel'));
    await page.keyboard.press('Escape');

    // Open report: a main-area tab with the sweep's report page, the same table in it.
    await sweepPanel.getByRole('button', { name: 'Open report' }).click();
    await page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: 'Sweep report' }).waitFor();
    const report = page.frameLocator('.jp-smlt-Report:visible iframe');
    await report.locator('.smlt-sweep h2', { hasText: /: Finished$/ }).waitFor();
    assert.deepEqual(await trialRows(report.locator('body')).allInnerTexts(), panelRows, 'the report shows the panel\'s trials');
    await page.screenshot({ path: join(outDir, 'sweep-report.png') });
    await closeTab(page, 'Sweep report');

    await sweepPanel.getByRole('button', { name: 'Close panel' }).click();
    await sweepPanel.waitFor({ state: 'detached' });
  }));

  it('saves an edited sweep cell, re-attaches after a reload, and cancels the sweep from its panel', { timeout: SWEEP_TIMEOUT_MS }, shot('cancel', async () => {
    let panel = page.locator('.jp-NotebookPanel:visible').first();
    // More epochs, typed into the sweep cell: long enough to still run after the reload.
    await panel.locator('.cm-line', { hasText: /^epochs: 3$/ }).click();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('27');
    await panel.locator('.cm-line', { hasText: /^epochs: 27$/ }).waitFor();

    const dialog = await openSweepDialog(panel);
    assert.match(readFileSync(join(lab.root, NOTEBOOK), 'utf8'), /epochs: 27/, 'the command saved the notebook before the forecast');
    assert.match(await dialog.locator('.jp-smlt-Estimate').innerText(), /rungs of 1, 3, 9, 27 epochs/);
    let sweepPanel = await startSweep(dialog, panel);
    await trialRows(sweepPanel).filter({ hasText: /\btraining\b/ }).first().waitFor({ timeout: SWEEP_TIMEOUT_MS });
    const title = await sweepPanel.locator('.smlt-sweep h2').innerText();
    assert.match(title, /: Running$/);

    // Reloaded mid-sweep, the notebook shows the running sweep's panel again, its history replayed.
    await page.reload();
    panel = await openNotebook('reload');
    sweepPanel = panel.locator('.jp-smlt-SweepPanel');
    await sweepPanel.locator('.smlt-sweep h2', { hasText: title }).waitFor({ timeout: 2 * 60_000 });
    // The replayed sweep_started event brings the trials (before it, the panel knows only the name).
    await trialRows(sweepPanel).nth(3).waitFor();
    assert.equal(await trialRows(sweepPanel).count(), 4);
    await page.screenshot({ path: join(outDir, 'sweep-reattached.png') });

    await sweepPanel.getByRole('button', { name: 'Cancel sweep' }).click();
    const cancelled = sweepPanel.locator('.smlt-sweep h2', { hasText: /: Cancelled$/ });
    await cancelled.waitFor({ timeout: SWEEP_TIMEOUT_MS });
    await assertSeen(cancelled);
    await assertSeen(sweepPanel.getByRole('button', { name: 'Open report' }));
    assert.equal(await sweepPanel.getByRole('button', { name: /Cancel sweep|Cancelling/ }).count(), 0);
    await sweepPanel.screenshot({ path: join(outDir, 'sweep-cancelled.png') });
  }));
});
