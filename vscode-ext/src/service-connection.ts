/**
 * The run service the extension talks to: the user's `smlt serve` (found through its token file,
 * `$SMLT_HOME/serve.json`), started here as a detached side process when none runs. Training
 * therefore happens outside the extension host: closing the panel, the window or VS Code does
 * not stop a run, and any window (or the CLI, or JupyterLab) re-attaches to it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { RunServiceClient } from '@smlt/shared/serve/client';

const START_TIMEOUT_MS = 60_000;
let starting: Promise<RunServiceClient> | undefined;

export async function runService(context: vscode.ExtensionContext): Promise<RunServiceClient> {
  const running = await RunServiceClient.fromServeFile();
  if (running) return running;
  if (!starting) {
    starting = startServe(context).finally(() => (starting = undefined));
    vscode.window.setStatusBarMessage('$(sync~spin) SMLT: starting smlt serve…', starting);
  }
  return starting;
}

async function startServe(context: vscode.ExtensionContext): Promise<RunServiceClient> {
  const cli = findCli(context);
  const logDir = context.globalStorageUri.fsPath;
  mkdirSync(logDir, { recursive: true });
  const logPath = join(logDir, 'smlt-serve.log');
  const log = openSync(logPath, 'a');
  // process.execPath is Node in code-server's extension host, Electron in desktop VS Code:
  // ELECTRON_RUN_AS_NODE makes the latter behave as Node too.
  const child = spawn(process.execPath, [cli, 'serve'], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: dirname(cli),
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.unref();

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const client = await RunServiceClient.fromServeFile();
    if (client) return client;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`smlt serve (${cli}) ${exited ?? `did not start within ${START_TIMEOUT_MS / 1000} s`}; its log: ${logPath}`);
}

/** The `smlt` CLI: the `smlt.cliPath` setting, else @smlt/shared in a workspace's or this extension's node_modules. */
function findCli(context: vscode.ExtensionContext): string {
  const configured = vscode.workspace.getConfiguration('smlt').get<string>('cliPath')?.trim();
  if (configured) {
    if (!existsSync(configured)) throw new Error(`Setting smlt.cliPath: ${configured} does not exist; point it at bin/smlt.js of @smlt/shared.`);
    return resolve(configured);
  }
  // A workspace's own node_modules only when it is trusted: the CLI found there is run.
  const folders = vscode.workspace.isTrusted ? (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath) : [];
  const starts = [...folders, context.extensionUri.fsPath];
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', '@smlt', 'shared', 'bin', 'smlt.js');
      if (existsSync(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(
    `Cannot find the smlt command line (@smlt/shared): ${vscode.workspace.isTrusted ? 'install it in the workspace (npm install)' : 'trust this workspace to use its node_modules'} or set smlt.cliPath to its bin/smlt.js.`,
  );
}
