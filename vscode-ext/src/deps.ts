/** What the command modules share: the extension's context, the run sessions and the service. */
import type * as vscode from 'vscode';
import type { RunService } from '@smlt/shared/service/run-service';
import type { RunSessions } from './runs/run-session';

export interface ExtensionDeps {
  context: vscode.ExtensionContext;
  sessions: RunSessions;
  /** The run service (starting `smlt serve` when none runs). */
  service(): Promise<RunService>;
}
