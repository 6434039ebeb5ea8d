/**
 * The SMLT extension's entry: it only wires the modules together. Training runs in the user's
 * `smlt serve` side process (see service-connection.ts), so deactivating stops nothing but views.
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands/register';
import { LivePanel } from './panel/live-panel';
import { RunSessions } from './runs/run-session';
import { SweepSessions } from './sweeps/sweep-session';
import { RunStatusBar } from './runs/status-bar';
import { runService } from './service-connection';

export function activate(context: vscode.ExtensionContext): void {
  const sessions = new RunSessions();
  const sweepSessions = new SweepSessions();
  context.subscriptions.push(sessions, sweepSessions, new RunStatusBar(sessions), { dispose: () => LivePanel.disposeAll() });
  registerCommands({ context, sessions, sweepSessions, service: () => runService(context), sweeps: async () => (await runService(context)).sweeps });
}

export function deactivate(): void {}
