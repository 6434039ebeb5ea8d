/**
 * The TypeScript-kernel path of the JupyterLab extension, in a real JupyterLab 4.6.4 with a real
 * tslab kernel (installed by the setup, registered as `tslab` install would). The model cell
 * builds a tfjs model from a variable an earlier, untagged cell defined: captured on the server
 * from the cell alone it could not be built, so a run that trains it with the kernel's width
 * shows the topology came from the live kernel (`JSON.stringify(model.toJSON(null, false))`).
 * Screenshot and console log: test-output/jupyterlab-tslab/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ConsoleWatch, type Lab, hostMissing, kernelNotebook, launchBrowser, repoRoot, startLab, trainFromDialog, TSLAB_KERNEL, tslabMissing } from './lab.js';

const outDir = join(repoRoot, 'test-output/jupyterlab-tslab');
const RUN_TIMEOUT_MS = 10 * 60_000;
const HIDDEN_UNITS = 24;

const missing = hostMissing() ?? tslabMissing();
if (missing && process.env.SMLT_REQUIRE_E2E === '1') {
  throw new Error(`SMLT_REQUIRE_E2E=1 but the JupyterLab test host is missing: ${missing}`);
}

function tslabNotebook(): string {
  return kernelNotebook(TSLAB_KERNEL, [
    { id: 'setup', source: `import * as tf from '@tensorflow/tfjs';\nconst hidden = ${HIDDEN_UNITS};\nconsole.log('kernel ready, hidden =', hidden);` },
    {
      id: 'model',
      source: [
        '// smlt: model',
        'const model = tf.sequential();',
        "model.add(tf.layers.dense({ inputShape: [784], units: hidden, activation: 'relu' }));",
        "model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));"
      ].join('\n'),
      tags: ['smlt:model']
    },
    { id: 'data', source: '// smlt: data\nsource: builtin:mnist', tags: ['smlt:data'] },
    {
      id: 'config',
      source: '// smlt: config\nepochs: 1\nbatchSize: 64\noptimizer: adam\nloss: categoricalCrossentropy\nmetrics: [accuracy]\nvalidationSplit: 0.2\nseed: 7',
      tags: ['smlt:config']
    }
  ]);
}

describe('JupyterLab extension with a TypeScript kernel (tslab)', { skip: missing ? `${missing} (the JupyterLab e2e host is not set up)` : false }, () => {
  let lab: Lab;
  let browser: Browser;
  let page: Page;
  const watch = new ConsoleWatch();

  before(async () => {
    mkdirSync(outDir, { recursive: true });
    lab = await startLab({ files: { 'tslab-kernel.ipynb': tslabNotebook() }, logFile: join(outDir, 'server.log'), tslab: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(90_000);
    watch.attach(page);
  });

  after(async () => {
    watch.save(join(outDir, 'console.log'));
    await browser?.close();
    await lab?.stop();
    // JupyterLab's own debugger plugin throws this for a kernel without a debug session (tslab
    // has none): not the extension's error.
    const errors = watch.errors.filter((e) => e !== 'No active debugger session');
    assert.deepEqual(errors, [], 'the browser console had errors');
  });

  /**
   * Runs cell `index` (Shift+Enter). The indicator can say "idle" while the session is still
   * connecting its kernel, and a cell run then is only a cursor move: run again until the
   * prompt shows the cell queued or run.
   */
  async function runCell(panel: Locator, index: number): Promise<void> {
    const prompt = panel.locator('.jp-Cell').nth(index).locator('.jp-InputPrompt');
    for (let attempt = 1; ; attempt++) {
      await prompt.click();
      await page.keyboard.press('Shift+Enter');
      const started = await prompt.filter({ hasText: /\[(\*|\d+)\]/ }).waitFor({ timeout: 10_000 }).then(() => true, () => false);
      if (started) return;
      if (attempt === 6) throw new Error(`cell ${index + 1} did not run in the kernel after ${attempt} tries`);
    }
  }

  it('trains the model as the kernel holds it, built from an earlier cell’s variable', { timeout: RUN_TIMEOUT_MS }, async () => {
    try {
      await page.goto(lab.url('/lab/tree/tslab-kernel.ipynb?reset'));
      const panel = page.locator('.jp-NotebookPanel:visible').first();
      await panel.locator('[data-command="smlt:train"]').waitFor();
      await panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').waitFor({ timeout: 120_000 });
      // Run the setup and model cells in the kernel; the data and config cells are not code.
      await runCell(panel, 0);
      await panel.locator('.jp-OutputArea-output', { hasText: `kernel ready, hidden = ${HIDDEN_UNITS}` }).waitFor({ timeout: 120_000 });
      await runCell(panel, 1);
      await panel.locator('.jp-Cell').nth(1).locator('.jp-InputPrompt', { hasText: '[2]' }).waitFor({ timeout: 120_000 });

      const runPanel = await trainFromDialog(page, panel, { deadline: '30', budget: '1' });
      await runPanel.locator('.smlt-badge[data-status="succeeded"]').waitFor({ timeout: RUN_TIMEOUT_MS });
      // 784·24 + 24 + 24·10 + 10: the width the kernel's `hidden` gave the model.
      const parameters = 784 * HIDDEN_UNITS + HIDDEN_UNITS + HIDDEN_UNITS * 10 + 10;
      assert.match(await runPanel.locator('.smlt-meta').innerText(), new RegExp(`${parameters.toLocaleString('en-US')} parameters`));
      await page.screenshot({ path: join(outDir, 'tslab-kernel.png') });
    } catch (err) {
      await page.screenshot({ path: join(outDir, 'failure.png') }).catch(() => undefined);
      throw err;
    }
  });
});
