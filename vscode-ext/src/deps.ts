/** What the command modules share: the extension's context, the run and sweep sessions and the service. */
import type * as vscode from 'vscode';
import type { RunService } from '@smlt/shared/service/run-service';
import type { SweepService } from '@smlt/shared/sweep/sweep-service';
import type { RunSessions } from './runs/run-session';
import type { SweepSessions } from './sweeps/sweep-session';

export interface ExtensionDeps {
  context: vscode.ExtensionContext;
  sessions: RunSessions;
  sweepSessions: SweepSessions;
  /** The run service (starting `smlt serve` when none runs). */
  service(): Promise<RunService>;
  /** The same server's sweeps. */
  sweeps(): Promise<SweepService>;
}
