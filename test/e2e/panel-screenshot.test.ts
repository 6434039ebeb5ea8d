/**
 * The panel in a real browser: recorded runs rendered by `renderPanel` / `renderReportPage`,
 * opened in headless Chromium at a side-bar width (320 px) and an editor width (900 px), in the
 * light and the dark theme. Asserts that the key text is really drawn (non-zero boxes: a
 * visible-but-collapsed element passes a visibility check) and that nothing sticks out of the
 * panel or scrolls sideways. Screenshots go to test-output/panel/ for a human to look at;
 * `SMLT_UPDATE_DOCS=1` also copies the live-run ones to docs/ (tests leave tracked files alone).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { PANEL_CSS, type PanelState, panelStateFromEvents, renderPanel, renderReportPage } from '@smlt/shared/panel/index';
import type { RunReport } from '@smlt/shared/run/outputs';
import type { RunEvent } from '@smlt/shared/run/events';

const CHROMIUM = process.env.SMLT_CHROMIUM ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `${root}test-output/panel`;
const docsDir = `${root}docs`;
const WIDTHS = [320, 900] as const;
const THEMES = ['light', 'dark'] as const;

function fixture(name: string): RunEvent[] {
  return readFileSync(`${root}test/fixtures/runs/${name}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RunEvent);
}

/** The relaunch run as seen live, in its third epoch: running badge, ETA, chart, log. */
function liveState(): PanelState {
  const events = fixture('mnist-relaunch.jsonl');
  const cut = events.findIndex((e) => e.type === 'progress' && e.epoch === 2 && e.iteration >= 60);
  assert.ok(cut > 0, 'the fixture has progress in epoch 3');
  return panelStateFromEvents(events.slice(0, cut + 1), { budgetUsd: 0.05, deadlineS: 60 });
}

/**
 * A host page as an editor would make one: the panel's CSS, a little margin, the panel. With
 * `csp: false` nothing but the escaping stands between input and script (the hostile test).
 */
function hostPage(panel: string, { theme, csp = true }: { theme?: 'light' | 'dark'; csp?: boolean } = {}): string {
  return `<!doctype html><html lang="en"${theme ? ` data-theme="${theme}"` : ''}><head><meta charset="utf-8">
${csp ? `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` : ''}
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${PANEL_CSS} html, body { margin: 0; background: var(--smlt-bg); } #host { padding: 8px; }</style>
</head><body><div id="host">${panel}</div></body></html>`;
}

interface Geometry {
  scrollWidth: number;
  clientWidth: number;
  panelRight: number;
  offenders: string[];
}

/** Every drawn element inside the panel must end within the panel's content box (not even in its padding). */
async function geometry(page: Page, selector: string): Promise<Geometry> {
  return page.evaluate((sel) => {
    const panel = document.querySelector(sel);
    if (!panel) throw new Error(`no ${sel}`);
    const style = getComputedStyle(panel);
    const right = panel.getBoundingClientRect().right - parseFloat(style.borderRightWidth) - parseFloat(style.paddingRight);
    const offenders: string[] = [];
    for (const el of panel.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (box.right > right + 0.5) {
        offenders.push(`<${el.tagName.toLowerCase()} class="${el.getAttribute('class') ?? ''}"> right ${box.right.toFixed(1)} > ${right.toFixed(1)}`);
      }
    }
    return {
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      panelRight: right,
      offenders,
    };
  }, selector);
}

async function assertFits(page: Page, selector: string, what: string): Promise<void> {
  const g = await geometry(page, selector);
  assert.deepEqual(g.offenders, [], `${what}: elements stick out of ${selector}`);
  assert.ok(g.scrollWidth <= g.clientWidth, `${what}: scrolls sideways (${g.scrollWidth} > ${g.clientWidth})`);
}

/** The text is in the page and really drawn: a non-empty box inside the viewport's width. */
async function assertDrawn(page: Page, text: string | RegExp, what: string, within = '.smlt-panel'): Promise<void> {
  const locator = page.locator(within).getByText(text).first();
  await locator.waitFor({ state: 'visible', timeout: 5_000 });
  const box = await locator.boundingBox();
  const width = page.viewportSize()?.width ?? 0;
  assert.ok(box && box.width > 1 && box.height > 1, `${what}: "${text}" has no drawn box (${JSON.stringify(box)})`);
  assert.ok(box.x >= 0 && box.x + box.width <= width + 0.5, `${what}: "${text}" is outside the viewport (${JSON.stringify(box)})`);
}

const missing = existsSync(CHROMIUM) ? false : `Chromium is not at ${CHROMIUM}: apt-get install -y chromium fonts-dejavu-core (bash .ci/run installs it)`;
if (missing && process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${missing}`);

describe('panel in a real browser', { skip: missing }, () => {
  let browser: Browser;

  before(async () => {
    mkdirSync(outDir, { recursive: true });
    if (process.env.SMLT_UPDATE_DOCS === '1') mkdirSync(docsDir, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
  });

  async function open(html: string, width: number, colorScheme: 'light' | 'dark'): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 }, colorScheme, reducedMotion: 'reduce' });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setContent(html, { waitUntil: 'load' });
    return { page, errors };
  }

  for (const width of WIDTHS) {
    for (const theme of THEMES) {
      it(`draws a live run at ${width} px, ${theme}`, async () => {
        const state = liveState();
        const { page, errors } = await open(hostPage(renderPanel(state, { width, cancelButton: true, reportButton: true })), width, theme);
        try {
          const file = `${outDir}/panel-${width}-${theme}.png`;
          await page.screenshot({ path: file, fullPage: true });
          if (process.env.SMLT_UPDATE_DOCS === '1') copyFileSync(file, `${docsDir}/panel-${width}-${theme}.png`);

          await assertDrawn(page, 'Running', 'status badge');
          await assertDrawn(page, 'Epoch 3 of 3', 'epoch');
          await assertDrawn(page, /iteration \d+ of 125/, 'iteration');
          await assertDrawn(page, /about .* left/, 'ETA');
          await assertDrawn(page, '91.45%', 'held-out accuracy');
          await assertDrawn(page, 'Cancel run', 'cancel button');
          await assertDrawn(page, /deadline binds/, 'scheduler reason');
          await assertDrawn(page, /Worker 2 crashed in epoch 1/, 'failure in the log');
          const chart = await page.locator('svg[role="img"]').boundingBox();
          assert.ok(chart && chart.width > 100 && chart.height > 80, `chart drawn: ${JSON.stringify(chart)}`);
          await assertFits(page, '.smlt-panel', `${width} px ${theme}`);

          const background = await page.locator('.smlt-panel').evaluate((el) => getComputedStyle(el).backgroundColor);
          assert.equal(background, theme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(255, 255, 255)', 'theme colours applied');
          assert.deepEqual(errors, []);
        } finally {
          await page.close();
        }
      });
    }
  }

  it('pins the theme with data-theme, whatever the OS prefers', async () => {
    const { page } = await open(hostPage(renderPanel(liveState(), { width: 900 }), { theme: 'dark' }), 900, 'light');
    try {
      const background = await page.locator('.smlt-panel').evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(background, 'rgb(13, 17, 23)');
    } finally {
      await page.close();
    }
  });

  for (const width of WIDTHS) {
    it(`fits a failed run with a long error at ${width} px`, async () => {
      const state = panelStateFromEvents(fixture('mnist-failed.jsonl'));
      const { page, errors } = await open(hostPage(renderPanel(state, { width, reportButton: true })), width, 'light');
      try {
        await page.screenshot({ path: `${outDir}/failed-${width}.png`, fullPage: true });
        await assertDrawn(page, 'Failed', 'status badge');
        await assertDrawn(page, 'WORKER_FAILED', 'error code');
        await assertDrawn(page, 'Open report', 'report button');
        await assertFits(page, '.smlt-panel', `failed run at ${width} px`);
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    it(`renders the report page at ${width} px under its CSP, without errors`, async () => {
      const state = panelStateFromEvents(fixture('mnist-relaunch.jsonl'));
      const report = JSON.parse(readFileSync(`${root}test/fixtures/runs/mnist-relaunch.report.json`, 'utf8')) as RunReport;
      const { page, errors } = await open(renderReportPage(state, report), width, 'light');
      try {
        await page.screenshot({ path: `${outDir}/report-${width}.png`, fullPage: true });
        await assertDrawn(page, 'Succeeded', 'status badge');
        await assertDrawn(page, 'Scheduler decisions', 'decisions heading', 'main');
        await assertDrawn(page, '91.90%', 'last epoch accuracy in the table', '.smlt-report');
        await assertFits(page, '.smlt-page', `report page at ${width} px`);
        assert.deepEqual(errors, [], 'no CSP violations or script errors');
      } finally {
        await page.close();
      }
    });
  }

  it('shows hostile names as text: nothing runs, nothing overflows at 320 px', async () => {
    const hostile = '<script>window.__pwned=1</script>"onload="window.__pwned=2"</svg><img src=x onerror="window.__pwned=3">';
    const longWord = 'x'.repeat(400);
    const events = fixture('mnist-relaunch.jsonl').map((e): RunEvent => {
      if (e.type === 'run_started') return { ...e, name: `${hostile} \u202Eevil.exe ${longWord} 模型 🚀` };
      if (e.type === 'plan') return { ...e, reason: `${hostile} ${longWord}` };
      if (e.type === 'worker_failed') return { ...e, message: `${hostile}${longWord}` };
      if (e.type === 'worker_finished') return { ...e, backend: `${hostile}${longWord}` };
      return e;
    });
    const state = panelStateFromEvents(events, { budgetUsd: 0.01, deadlineS: 10 });
    const { page } = await open(hostPage(renderPanel(state, { width: 320, reportButton: true }), { csp: false }), 320, 'light');
    try {
      await page.screenshot({ path: `${outDir}/hostile-320.png`, fullPage: true });
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('.smlt-panel script, .smlt-panel img').count(), 0, 'no element made from input');
      await assertDrawn(page, 'Succeeded', 'status badge');
      const name = await page.locator('.smlt-name').textContent();
      assert.ok(name?.includes('<script>window.__pwned=1</script>'), 'the name is shown as text');
      await assertFits(page, '.smlt-panel', 'hostile names at 320 px');
    } finally {
      await page.close();
    }
  });
});
