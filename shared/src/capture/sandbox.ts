/**
 * Runs notebook code in a child process that cannot write files, read outside SMLT's own code,
 * start processes or workers, or see this process's environment (credentials included): Node's
 * permission model, an empty environment, a heap limit, a resident-memory watchdog and a wall
 * clock limit. `node:vm` alone is not a boundary (DESIGN.md): code in a context holding only `tf`
 * reaches `process` through `this.constructor.constructor`; here that `process` is the child's.
 * What the permission model leaves open (signals, the network) the child closes itself before it
 * reads a request (sandbox-lockdown.ts); the child is killed once it has answered (SECURITY.md).
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmltError, type SmltErrorCode, isSmltError } from '../errors.js';

export interface SandboxLimits {
  /** Wall clock for the whole child, start-up (loading tfjs) included. */
  wallMs: number;
  /** Resident memory at which the child is killed; also its V8 heap limit. */
  memoryMb: number;
}

/** What the child answers: a value, or an SmltError's code and message. */
export type SandboxAnswer<T> = { ok: true; value: T } | { ok: false; error: { code: SmltErrorCode; message: string } };

export class SandboxLimitError extends Error {
  constructor(
    readonly limit: 'memory' | 'time',
    message: string,
  ) {
    super(message);
  }
}

const CHILD = fileURLToPath(new URL('./sandbox-child.js', import.meta.url));
const MEMORY_POLL_MS = 50;
/** Lines every sandbox prints on stderr (the permission model's warning, tfjs's banner). */
const NOISE = /ExperimentalWarning|--trace-warnings|^=+$|TensorFlow\.js in Node\.js/;

/**
 * Sends `request` to a fresh sandboxed child running `sandbox-child.js` and resolves with its
 * answer's value; rejects with the child's SmltError, or a SandboxLimitError when a limit killed it.
 */
export function runSandboxed<T>(request: unknown, limits: SandboxLimits): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = fork(CHILD, [], {
      execArgv: [...permissionFlags(), `--max-old-space-size=${limits.memoryMb}`],
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 8192) stderr += chunk.toString();
    });
    let killedFor: SandboxLimitError | undefined;
    const kill = (why: SandboxLimitError) => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const wall = setTimeout(
      () => kill(new SandboxLimitError('time', `it ran longer than ${Math.round(limits.wallMs / 1000)} s`)),
      limits.wallMs,
    );
    const memory = setInterval(() => {
      const rssMb = residentMb(child.pid);
      if (rssMb !== undefined && rssMb > limits.memoryMb) {
        kill(new SandboxLimitError('memory', `it used more than ${limits.memoryMb} MB of memory (${Math.round(rssMb)} MB)`));
      }
    }, MEMORY_POLL_MS);
    let settled = false;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(wall);
      clearInterval(memory);
      // Escaped code can keep the child alive after its answer (process.reallyExit is its to replace).
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      settle();
    };
    const settleWith = (answer: SandboxAnswer<T>) =>
      finish(() => (answer.ok ? resolve(answer.value) : reject(new SmltError(answer.error.code, answer.error.message))));
    // The child says when it listens (a message sent before that could be lost), then answers.
    // The answer settles at once: 'exit' can come before the last IPC message is delivered.
    child.on('message', (message) => {
      if ((message as { ready?: unknown }).ready === true) child.send(request as object);
      else if (!killedFor) settleWith(message as SandboxAnswer<T>);
    });
    child.on('error', (err) => kill(new SandboxLimitError('time', `it could not start: ${err.message}`)));
    // 'close' comes after the process ended and its stdio and IPC channel closed: no answer can still be on its way.
    child.on('close', (code, signal) => {
      finish(() => {
        if (killedFor) return reject(killedFor);
        // V8 aborts on heap exhaustion with this line on stderr.
        if (/heap out of memory|Allocation failed/i.test(stderr)) {
          return reject(new SandboxLimitError('memory', `it ran out of its ${limits.memoryMb} MB heap`));
        }
        const detail = stderr.split('\n').filter((line) => line.trim() !== '' && !NOISE.test(line)).join('\n').slice(-500);
        reject(new Error(`the sandbox exited (${signal ?? `code ${code}`}) without answering${detail ? `: ${detail}` : ''}; the cell's code may have stopped it`));
      });
    });
  });
}

/** Node 20 names the permission model `--experimental-permission`; 22.13+ and 23.5+ `--permission`. */
function permissionFlags(): string[] {
  const [major, minor] = process.versions.node.split('.').map(Number);
  const stable = major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13);
  return [stable ? '--permission' : '--experimental-permission', ...readableRoots().map((dir) => `--allow-fs-read=${join(dir, '*')}`)];
}

let roots: string[] | undefined;

/** SMLT's own package and the node_modules folder tfjs loads from: all the child may read. */
function readableRoots(): string[] {
  if (roots) return roots;
  const sharedRoot = fileURLToPath(new URL('../..', import.meta.url));
  const tfjsEntry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core');
  const at = tfjsEntry.lastIndexOf(`${sep}node_modules${sep}`);
  const modules = at >= 0 ? tfjsEntry.slice(0, at + `${sep}node_modules`.length) : dirname(tfjsEntry);
  roots = [...new Set([sharedRoot.replace(/[\\/]$/, ''), modules])];
  return roots;
}

/** Resident memory of a process in MB, from /proc (Linux); undefined elsewhere or once it exited. */
function residentMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** The child's side: answers one request with `handle` and exits. */
export function serveSandboxRequest<T>(handle: (request: unknown) => Promise<T>): void {
  // Bound now, before any notebook code runs: replacing process.send cannot silence the answer.
  const send = process.send!.bind(process);
  const exit = process.exit.bind(process);
  let served = false;
  // `on`, not `once`: a 'message' listener keeps the IPC channel (and so the process) alive
  // until the answer is sent; with none, the child could exit mid-work with code 0.
  process.on('message', (request: unknown) => {
    if (served) return;
    served = true;
    void handle(request).then(
      (value): SandboxAnswer<T> => ({ ok: true, value }),
      (err: unknown): SandboxAnswer<T> => ({
        ok: false,
        error: isSmltError(err)
          ? { code: err.code, message: err.message }
          : { code: 'MODEL_CODE_FAILED', message: err instanceof Error ? err.message : String(err) },
      }),
    ).then((answer) => send(answer as object, () => exit(0)));
  });
  send({ ready: true });
}
