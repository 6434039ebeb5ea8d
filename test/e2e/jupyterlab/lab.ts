/**
 * A real JupyterLab 4.6.4 for the e2e tests, as users run it: `jupyter lab` from a venv with
 * pip-installed JupyterLab, Notebook 7, jupyter_server 2, TensorFlow and Keras, and SMLT's wheel
 * installed into it (.ci/setup.d/jupyterlab.sh), nothing put on PYTHONPATH or the command line;
 * Debian's Chromium through playwright-core. One server and one browser serve a whole test file.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Locator, type Page, chromium } from 'playwright-core';
import { freePort } from '@smlt/shared/net/free-port';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const SETUP_COMMAND = 'bash .ci/setup.d/jupyterlab.sh';
export const VENV = process.env.SMLT_JUPYTERLAB_VENV ?? join(repoRoot, '.cache/jupyterlab-venv');
/** The venv's Python: JupyterLab's, and the kernel's (it has TensorFlow and Keras). */
export const VENV_PYTHON = join(VENV, 'bin/python');
const JUPYTER = join(VENV, 'bin/jupyter');
export const EXTENSION_DIR = join(repoRoot, 'jupyter-ext');
/** Where the wheel put the prebuilt labextension. */
export const INSTALLED_LABEXTENSION = join(VENV, 'share/jupyter/labextensions/smlt-jupyterlab');
/** The CLI the server extension finds as `smlt` on PATH, as `npm link -w shared` puts it there. */
const SMLT_CLI = join(repoRoot, 'shared/bin/smlt.js');
/** The TypeScript kernel (tslab) and the tfjs its notebooks import, installed by the setup. */
export const TSLAB_HOST = process.env.SMLT_TSLAB_HOST ?? join(repoRoot, '.cache/tslab-host');
const TSLAB = join(TSLAB_HOST, 'node_modules/tslab/bin/tslab');
/** The kernelspec `tslab install` registers, which notebooks name in their metadata. */
export const TSLAB_KERNEL = { name: 'tslab', display_name: 'TypeScript', language: 'typescript' };
/** The venv's own kernel, as ipykernel installs it into a venv. */
export const PYTHON_KERNEL = { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' };
const CHROMIUM = process.env.SMLT_CHROMIUM ?? '/usr/bin/chromium';

/** Why this machine cannot run the JupyterLab tests, or undefined when it can. */
export function hostMissing(): string | undefined {
  if (!existsSync(JUPYTER)) return `the JupyterLab venv is missing (${VENV}); run ${SETUP_COMMAND}`;
  if (!existsSync(join(INSTALLED_LABEXTENSION, 'package.json'))) return `SMLT's wheel is not installed in ${VENV}; run ${SETUP_COMMAND}`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing; run ${SETUP_COMMAND}`;
  return undefined;
}

/** Why this machine cannot run tslab (the TypeScript kernel), or undefined when it can. */
export function tslabMissing(): string | undefined {
  return existsSync(TSLAB) ? undefined : `tslab is not installed in ${TSLAB_HOST}; run ${SETUP_COMMAND}`;
}

/** A notebook (nbformat 4.5) of code cells, none run yet, for `kernel`: its JSON text. */
export function kernelNotebook(
  kernel: { name: string; display_name: string; language: string },
  cells: Array<{ id: string; source: string; tags?: string[] }>
): string {
  return JSON.stringify({
    cells: cells.map(({ id, source, tags = [] }) => ({
      cell_type: 'code',
      id,
      source,
      metadata: tags.length ? { tags } : {},
      outputs: [],
      execution_count: null
    })),
    metadata: { kernelspec: kernel, language_info: { name: kernel.language } },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/** Rebuilds SMLT's wheel and reinstalls it in the venv when the extension's sources changed (seconds when not). */
export function installWheel(): void {
  const run = spawnSync('bash', [join(EXTENSION_DIR, 'install-wheel.sh'), VENV], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`building or installing SMLT's wheel failed:\n${run.stdout}\n${run.stderr}`);
}

function withoutUndefined(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export interface Lab {
  root: string;
  smltHome: string;
  url(path: string): string;
  /** The pid of the server, and of its smlt serve side process once known. */
  serverPid: number;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Installs a kernelspec where the server's JUPYTER_PATH looks, as `<kernel> install` would. */
function installKernel(jupyterPath: string, kernel: { name: string; display_name: string; language: string }, argv: string[]): void {
  const { name, display_name, language } = kernel;
  mkdirSync(join(jupyterPath, 'kernels', name), { recursive: true });
  writeFileSync(join(jupyterPath, 'kernels', name, 'kernel.json'), JSON.stringify({ argv, display_name, language }));
}

/**
 * Starts the server on a free port with a fresh root folder holding `files`, and waits for it.
 * With `tslab`, the TypeScript kernel is installed as `tslab` (as `tslab install` would) and the
 * root gets its `node_modules`, so notebooks there can import `@tensorflow/tfjs`.
 */
export async function startLab(options: {
  files: Record<string, string | Buffer>;
  logFile: string;
  tslab?: boolean;
  /** Environment for the server over the test's own (e.g. a `PATH` without `smlt`). */
  env?: Record<string, string | undefined>;
}): Promise<Lab> {
  installWheel();
  const root = mkdtempSync(join(tmpdir(), 'smlt-lab-root-'));
  const state = mkdtempSync(join(tmpdir(), 'smlt-lab-state-'));
  const smltHome = mkdtempSync(join(tmpdir(), 'smlt-lab-home-'));
  for (const [name, content] of Object.entries(options.files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  const jupyterPath = join(state, 'jupyter-data');
  // No "get notified about Jupyter news?" toast over the page (there is no internet here anyway).
  const notificationSettings = join(state, 'lab-settings/@jupyterlab/apputils-extension');
  mkdirSync(notificationSettings, { recursive: true });
  writeFileSync(join(notificationSettings, 'notification.jupyterlab-settings'), JSON.stringify({ fetchNews: 'false' }));
  // `smlt` on PATH, and the Node that runs these tests (>= 20) first on it.
  const bin = join(state, 'bin');
  mkdirSync(bin);
  symlinkSync(SMLT_CLI, join(bin, 'smlt'));
  symlinkSync(process.execPath, join(bin, 'node'));
  if (options.tslab) {
    installKernel(jupyterPath, TSLAB_KERNEL, [process.execPath, TSLAB, 'kernel', '--config-path', '{connection_file}']);
    symlinkSync(join(TSLAB_HOST, 'node_modules'), join(root, 'node_modules'));
  }
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'w');
  const server: ChildProcess = spawn(
    JUPYTER,
    [
      'lab',
      '--no-browser',
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      '--ServerApp.allow_root=True',
      `--ServerApp.root_dir=${root}`,
      `--IdentityProvider.token=${token}`,
      // No internet here: no news feed and no update check.
      '--LabApp.news_url=None',
      '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'
    ],
    {
      stdio: ['ignore', log, log],
      env: withoutUndefined({
        ...process.env,
        // A fresh user: config, data and runtime in the test's state folder (the venv's own
        // sys-prefix paths, where the wheel installed, are searched as always).
        JUPYTER_CONFIG_DIR: join(state, 'config'),
        JUPYTER_DATA_DIR: join(state, 'data'),
        JUPYTER_RUNTIME_DIR: join(state, 'runtime'),
        JUPYTERLAB_SETTINGS_DIR: join(state, 'lab-settings'),
        JUPYTERLAB_WORKSPACES_DIR: join(state, 'lab-workspaces'),
        JUPYTER_PATH: jupyterPath,
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        SMLT_HOME: smltHome,
        SMLT_JUPYTER_COMMAND: undefined,
        PYDEVD_DISABLE_FILE_VALIDATION: '1',
        ...options.env
      })
    }
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= halt());
  const halt = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      // jupyter_server stops its kernels, and our extension its side process, on SIGTERM.
      server.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(r, 15_000, false)))]);
      clearTimeout(timer);
      if (!stopped) {
        server.kill('SIGKILL');
        await exited;
      }
    }
    closeSync(log);
    for (const dir of [root, state, smltHome]) rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 120_000;
  for (;;) {
    if (server.exitCode !== null) {
      await stop();
      throw new Error(`jupyter lab exited with ${server.exitCode}; see ${options.logFile}`);
    }
    try {
      if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`JupyterLab did not answer within 120 s; see ${options.logFile}`);
    }
    await sleep(250);
  }
  return {
    root,
    smltHome,
    serverPid: server.pid!,
    url: (path) => `${base}${path}${path.includes('?') ? '&' : '?'}token=${token}`,
    stop
  };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
  });
}

/**
 * Errors of the test host, not of SMLT, seen with the Keras kernel: JupyterLab 4.6 links the file
 * paths in Keras' warnings and asks /api/resolvePath and /api/contents for them, which 404 for
 * the venv's files outside the Jupyter root; and its debugger panel, offered because ipykernel 7
 * supports debugging, rejects "No active debugger session" when none was started.
 */
const HOST_NOISE = {
  resource: /\/api\/resolvePath\?|\/api\/contents\/.*\/site-packages\//,
  page: /^No active debugger session$/,
  /**
   * Notebook 7.6's own page errors: "reading 'schema'" on every load of /notebooks/ (also with
   * SMLT's extension disabled), and its notebook page lacks the file browser command that state
   * left by JupyterLab sessions on the same server asks for (SMLT never calls it).
   */
  notebook7: /^Cannot read properties of undefined \(reading 'schema'\)$|^Command 'filebrowser:open-path' not registered\.$/,
};

/** Collects console errors and page errors of every page opened with `openPage`. */
export class ConsoleWatch {
  readonly errors: string[] = [];
  readonly lines: string[] = [];
  private readonly allowed: Array<{ url: RegExp; text: string }> = [];

  /** Errors a test causes on purpose: a failed request to a URL matching `url` whose message has `text`. */
  allow(url: RegExp, text: string): void {
    this.allowed.push({ url, text });
  }

  attach(page: Page): void {
    page.on('console', (m) => {
      const url = m.location().url;
      this.lines.push(`[${m.type()}] ${m.text()}${url ? ` (${url})` : ''}`);
      const expected = HOST_NOISE.resource.test(url) || this.allowed.some((a) => a.url.test(url) && m.text().includes(a.text));
      if (m.type() === 'error' && !expected) this.errors.push(m.text());
    });
    page.on('pageerror', (e) => {
      this.lines.push(`[pageerror] ${e.message}`);
      const onNotebook7 = new URL(page.url()).pathname.startsWith('/notebooks/');
      if (!HOST_NOISE.page.test(e.message) && !(onNotebook7 && HOST_NOISE.notebook7.test(e.message))) this.errors.push(e.message);
    });
  }

  save(file: string): void {
    writeFileSync(file, `${this.lines.join('\n')}\n`);
  }
}

/**
 * Playwright's "visible" means a non-empty box, which a widget laid out at height 0 (text
 * clipped) still has. This waits until the element's text is the topmost thing drawn where it is.
 */
export async function assertSeen(locator: Locator, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let why = '';
  for (;;) {
    why = await locator.evaluate((el) => {
      el.scrollIntoView({ block: 'nearest' });
      const range = document.createRange();
      range.selectNodeContents(el);
      const box = range.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) return 'its text has no area';
      const x = box.left + Math.min(box.width / 2, 16);
      const y = box.top + box.height / 2;
      if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return `its text is off screen at (${x}, ${y})`;
      const top = document.elementFromPoint(x, y);
      if (top && (top === el || el.contains(top))) return '';
      return `at its text the page shows <${top?.tagName.toLowerCase()} class="${top?.getAttribute('class') ?? ''}">`;
    });
    if (why === '') return;
    if (Date.now() > until) throw new Error(`in the DOM but not drawn on screen: ${why}`);
    await sleep(150);
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Clicks the notebook's Train button and fills the dialog; resolves with the run panel once it shows. */
export async function trainFromDialog(
  page: Page,
  panel: Locator,
  values: { deadline: string; budget: string },
  screenshotPath?: string,
  /** Checks the dialog once its estimate shows, before Train is clicked. */
  check?: (dialog: Locator) => Promise<void>
): Promise<Locator> {
  await panel.locator('[data-command="smlt:train"]').click();
  const dialog = page.locator('.jp-Dialog.jp-smlt-TrainDialog');
  await dialog.waitFor();
  await dialog.locator('select[name="objective"]').selectOption('time');
  await dialog.locator('input[name="deadline"]').fill(values.deadline);
  await dialog.locator('input[name="budget"]').fill(values.budget);
  const estimate = dialog.locator('.jp-smlt-Estimate[data-kind="ok"]');
  await estimate.waitFor();
  await assertSeen(estimate);
  if (screenshotPath) await dialog.locator('.jp-Dialog-content').screenshot({ path: screenshotPath });
  await check?.(dialog);
  await dialog.getByRole('button', { name: 'Train' }).click();
  await dialog.waitFor({ state: 'detached' });
  const runPanel = panel.locator('.jp-smlt-RunPanel');
  await runPanel.locator('.smlt-panel[data-run-id]').waitFor();
  return runPanel;
}

/**
 * Closes a document's tab and waits until the tab is gone. JupyterLab may put a modal dialog up
 * meanwhile (a restored notebook still asking for its kernel, "Save changes?"): each is answered
 * without saving or starting anything. A click lost in a re-layout is repeated. On timeout the
 * error names the dialogs seen, so a failure says what stood in the way.
 */
export async function closeTab(page: Page, name: string, timeoutMs = 90_000): Promise<void> {
  const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: name });
  const answers = ['No Kernel', 'Discard', "Don't Save", 'Close'];
  const seen: string[] = [];
  const until = Date.now() + timeoutMs;
  let clickedAt = 0;
  while ((await tab.count()) > 0) {
    if (Date.now() > until) throw new Error(`the tab of ${name} did not close in ${timeoutMs / 1000} s; dialogs seen: ${seen.join(' | ') || 'none'}`);
    const dialog = page.locator('.jp-Dialog').first();
    if ((await dialog.count()) > 0) {
      const text = (await dialog.innerText().catch(() => '?')).replace(/\s+/g, ' ').slice(0, 120);
      if (seen.at(-1) !== text) seen.push(text);
      for (const answer of answers) {
        const button = dialog.getByRole('button', { name: answer, exact: true });
        if ((await button.count()) > 0) {
          await button.click().catch(() => undefined);
          break;
        }
      }
    } else if (Date.now() - clickedAt > 10_000) {
      await tab.locator('.lm-TabBar-tabCloseIcon').click({ timeout: 10_000 }).catch(() => undefined);
      clickedAt = Date.now();
    }
    await sleep(250);
  }
}
