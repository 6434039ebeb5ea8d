/** The `smlt` command as a user runs it, for tests: a real process in a folder, its JSON lines parsed. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../shared/bin/smlt.js', import.meta.url));

export interface Cli {
  code: number | null;
  stdout: string;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

export interface CliRunner {
  /** Starts `smlt args…`; `done` resolves when it exits. */
  start(args: string[]): { child: ChildProcess; done: Promise<Cli> };
  /** Runs `smlt args…` to its end. */
  smlt(args: string[]): Promise<Cli>;
}

export function cliIn(cwd: string, env: NodeJS.ProcessEnv): CliRunner {
  const start = (args: string[]) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<Cli>((resolve) =>
      child.on('close', (code) =>
        resolve({
          code,
          stdout,
          stderr,
          lines: stdout
            .split('\n')
            .filter((l) => l.trim().startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        }),
      ),
    );
    return { child, done };
  };
  return { start, smlt: (args) => start(args).done };
}
