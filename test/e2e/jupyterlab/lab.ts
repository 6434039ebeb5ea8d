/**
 * A real JupyterLab 4.6.4 for the e2e tests: the frontend built by app/build.sh, served by
 * serve.py on Debian's jupyter_server with our server extension (smlt_jupyter) loaded the way
 * Jupyter loads any, our prebuilt labextension, and Debian's Chromium through playwright-core.
 * One server and one browser serve a whole test file.
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
export const APP_DIR = process.env.SMLT_JUPYTERLAB_APP ?? join(repoRoot, '.cache/jupyterlab-app');
export const EXTENSION_DIR = join(repoRoot, 'jupyter-ext');
export const LABEXTENSION = join(EXTENSION_DIR, 'build/labextension');
/** The TypeScript kernel (tslab) and the tfjs its notebooks import, installed by the setup. */
export const TSLAB_HOST = process.env.SMLT_TSLAB_HOST ?? join(repoRoot, '.cache/tslab-host');
const TSLAB = join(TSLAB_HOST, 'node_modules/tslab/bin/tslab');
/** The kernelspec `tslab install` registers, which notebooks name in their metadata. */
export const TSLAB_KERNEL = { name: 'tslab', display_name: 'TypeScript', language: 'typescript' };
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-jupyter-server lives (a pyenv python3 may not have it)
const CHROMIUM = process.env.SMLT_CHROMIUM ?? '/usr/bin/chromium';

/** Why this machine cannot run the JupyterLab tests, or undefined when it can. */
export function hostMissing(): string | undefined {
  const modules = spawnSync(PYTHON, ['-c', 'import jupyter_server, jupyterlab_server, ipykernel, numpy'], { encoding: 'utf8' });
  if (modules.status !== 0) return `Debian's jupyter_server, jupyterlab_server, ipykernel or numpy is missing; run ${SETUP_COMMAND}`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing; run ${SETUP_COMMAND}`;
  if (!existsSync(join(APP_DIR, 'static/index.html'))) return `the JupyterLab app is not built in ${APP_DIR}; run ${SETUP_COMMAND}`;
  if (!existsSync(join(EXTENSION_DIR, 'node_modules/@jupyter/builder'))) return `jupyter-ext has no node_modules; run ${SETUP_COMMAND}`;
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

/** Builds the labextension (a no-op when its sources have not changed since the last build). */
export function buildExtension(): void {
  const build = spawnSync('bash', [join(EXTENSION_DIR, 'build.sh')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`building jupyter-ext failed:\n${build.stdout}\n${build.stderr}`);
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

/** The kernelspec of the Keras venv (.ci/setup.d/keras.sh), for notebooks that name it. */
export const KERAS_KERNEL = { name: 'smlt-keras', display_name: 'Python 3 (Keras)', language: 'python' };

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
  /** The Keras venv's Python, installed as the KERAS_KERNEL kernelspec. */
  kerasPython?: string;
}): Promise<Lab> {
  const root = mkdtempSync(join(tmpdir(), 'smlt-lab-root-'));
  const state = mkdtempSync(join(tmpdir(), 'smlt-lab-state-'));
  const smltHome = mkdtempSync(join(tmpdir(), 'smlt-lab-home-'));
  for (const [name, content] of Object.entries(options.files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  const jupyterPath = join(state, 'jupyter-data');
  if (options.tslab) {
    installKernel(jupyterPath, TSLAB_KERNEL, [process.execPath, TSLAB, 'kernel', '--config-path', '{connection_file}']);
    symlinkSync(join(TSLAB_HOST, 'node_modules'), join(root, 'node_modules'));
  }
  if (options.kerasPython) installKernel(jupyterPath, KERAS_KERNEL, [options.kerasPython, '-m', 'ipykernel_launcher', '-f', '{connection_file}']);
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'w');
  const server: ChildProcess = spawn(
    PYTHON,
    [
      join(repoRoot, 'test/e2e/jupyterlab/serve.py'),
      ...['--app-dir', APP_DIR, '--root-dir', root, '--state-dir', state],
      ...['--labextension', LABEXTENSION, '--server-extension', 'smlt_jupyter'],
      ...['--port', String(port), '--token', token]
    ],
    {
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        PYTHONPATH: EXTENSION_DIR,
        JUPYTER_PATH: jupyterPath,
        SMLT_HOME: smltHome,
        PYDEVD_DISABLE_FILE_VALIDATION: '1'
      }
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
      throw new Error(`serve.py exited with ${server.exitCode}; see ${options.logFile}`);
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
 * paths in Keras' warnings and asks jupyter_server 2's /api/resolvePath, which Debian's 1.23 lacks
 * (404, then a 404 for the venv file outside the root); and its debugger panel, offered because
 * ipykernel 7 supports debugging, rejects "No active debugger session" when none was started.
 */
const HOST_NOISE = {
  resource: /\/api\/resolvePath\?|\/api\/contents\/.*\/site-packages\//,
  page: /^No active debugger session$/,
};

/** Collects console errors and page errors of every page opened with `openPage`. */
export class ConsoleWatch {
  readonly errors: string[] = [];
  readonly lines: string[] = [];

  attach(page: Page): void {
    page.on('console', (m) => {
      const url = m.location().url;
      this.lines.push(`[${m.type()}] ${m.text()}${url ? ` (${url})` : ''}`);
      if (m.type() === 'error' && !HOST_NOISE.resource.test(url)) this.errors.push(m.text());
    });
    page.on('pageerror', (e) => {
      this.lines.push(`[pageerror] ${e.message}`);
      if (!HOST_NOISE.page.test(e.message)) this.errors.push(e.message);
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
