/**
 * The SMLT extension's entry: it only wires the modules together. Training runs in the user's
 * `smlt serve` side process (see service-connection.ts), so deactivating stops nothing but views.
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands/register';
import { RunPanel } from './panel/run-panel';
import { RunSessions } from './runs/run-session';
import { RunStatusBar } from './runs/status-bar';
import { runService } from './service-connection';

export function activate(context: vscode.ExtensionContext): void {
  const sessions = new RunSessions();
  context.subscriptions.push(sessions, new RunStatusBar(sessions), { dispose: () => RunPanel.disposeAll() });
  registerCommands({ context, sessions, service: () => runService(context) });
}

export function deactivate(): void {}
