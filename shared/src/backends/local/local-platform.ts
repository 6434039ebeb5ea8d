/**
 * The embedded default platform: each invocation runs the real worker handler in a child
 * process ("container") with Lambda's limits. Containers stay warm after an invocation and are
 * reused by the next one with the same memory size, as Lambda reuses execution environments.
 *
 * Memory is enforced as Lambda does, by watching resident memory and killing the process when it
 * goes over: `--max-old-space-size` alone would not bound wasm memory (see DESIGN.md).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../../processes.js';
import type { InvocationStats, InvokeOptions, InvokeOutcome, Platform } from '../ports.js';
import type { ContainerMessage, InvokeMessage } from './container-protocol.js';
import { recordWorkerStart } from './worker-starts.js';

export interface LocalPlatformOptions {
  /** Per-invocation time limit; Lambda's is 900 s. */
  timeLimitMs?: number;
  /** The container entry; defaults to the lambda-worker package's local runtime. */
  workerEntry?: string;
  /** Folder under which each container gets its own temp folder (Lambda's /tmp). */
  tmpRoot?: string;
  /** How long an idle container stays warm. */
  idleTimeoutMs?: number;
  /** How often resident memory is sampled. */
  memoryPollMs?: number;
  /**
   * The containers' environment, in place of this process's (a Lambda emulator gives each
   * function its own, as Lambda does). `SMLT_TMP` is always set on top of it.
   */
  env?: Readonly<Record<string, string>>;
}

interface Container {
  id: number;
  /** The event of the invocation in progress. */
  event?: unknown;
  /** The affinity of the last invocation it ran. */
  affinity?: string;
  process: ChildProcess;
  memoryMb: number;
  tmpDir: string;
  ready: Promise<void>;
  idleTimer?: NodeJS.Timeout;
}

const LAMBDA_TIME_LIMIT_MS = 900_000;

export class LocalPlatform implements Platform {
  readonly name = 'local';
  readonly pricing = 'local';
  readonly timeLimitMs: number;
  readonly memoryRangeMb = [128, 10_240] as const;
  private readonly workerEntry: string;
  private readonly tmpRoot: string;
  private readonly idleTimeoutMs: number;
  private readonly memoryPollMs: number;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly idle: Container[] = [];
  private readonly busy = new Set<Container>();
  private nextId = 1;
  private closed = false;

  constructor(options: LocalPlatformOptions = {}) {
    this.timeLimitMs = options.timeLimitMs ?? LAMBDA_TIME_LIMIT_MS;
    this.workerEntry =
      options.workerEntry ?? createRequire(import.meta.url).resolve('@smlt/lambda-worker/local-runtime');
    this.tmpRoot = options.tmpRoot ?? join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${randomUUID().slice(0, 8)}`);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.memoryPollMs = options.memoryPollMs ?? 50;
    this.env = options.env ?? process.env;
  }

  /** Containers currently alive (busy or warm). */
  get containers(): number {
    return this.idle.length + this.busy.size;
  }

  async invoke<E, R>(event: E, options: InvokeOptions): Promise<InvokeOutcome<R>> {
    if (this.closed) throw new Error('The local platform is closed.');
    const calledAt = performance.now();
    const warm = this.takeIdle(options.memoryMb, options.affinity);
    const container = warm ?? this.start(options.memoryMb);
    this.busy.add(container);
    try {
      await container.ready;
    } catch (err) {
      this.busy.delete(container);
      return failure('crashed', `The worker process did not start: ${String(err)}`, {
        billedMs: 0,
        coldStart: true,
        launchMs: performance.now() - calledAt,
      });
    }
    const launchMs = performance.now() - calledAt;
    if (warm === undefined) recordWorkerStart(launchMs);
    container.event = event;
    container.affinity = options.affinity;
    const outcome = await this.run<R>(container, event, options, launchMs, warm === undefined);
    container.event = undefined;
    this.busy.delete(container);
    if (container.process.exitCode === null && container.process.signalCode === null && !this.closed) {
      this.park(container);
    }
    return outcome;
  }

  /**
   * Fault injection: kills the containers whose running invocation's event matches, as a
   * crashed Lambda sandbox would die (or, with SIGSTOP, freezes them: a hung worker that only
   * the time limit ends). Returns how many were signalled.
   */
  killRunning(matches: (event: unknown) => boolean, signal: 'SIGKILL' | 'SIGSTOP' = 'SIGKILL'): number {
    const victims = [...this.busy].filter((c) => c.event !== undefined && matches(c.event));
    for (const c of victims) c.process.kill(signal);
    return victims.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle, ...this.busy];
    this.idle.length = 0;
    await Promise.all(all.map((c) => this.kill(c)));
    rmSync(this.tmpRoot, { recursive: true, force: true });
  }

  private start(memoryMb: number): Container {
    const id = this.nextId++;
    const tmpDir = join(this.tmpRoot, `container-${id}`);
    mkdirSync(tmpDir, { recursive: true });
    const child = fork(this.workerEntry, [], {
      // Lambda sizes the V8 heap from the function's memory; wasm memory is outside it.
      execArgv: [`--max-old-space-size=${memoryMb}`],
      env: { ...this.env, SMLT_TMP: tmpDir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: ContainerMessage) => {
        if (m.type === 'ready') {
          child.off('exit', onExit);
          child.off('message', onMessage);
          resolve();
        }
      };
      const onExit = (code: number | null) => reject(new Error(`exited with code ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    const container: Container = { id, process: child, memoryMb, tmpDir, ready };
    // A warm container that dies while idle must not be handed out again.
    child.once('exit', () => {
      const i = this.idle.indexOf(container);
      if (i >= 0) this.idle.splice(i, 1);
      clearTimeout(container.idleTimer);
    });
    return container;
  }

  private takeIdle(memoryMb: number, affinity: string | undefined): Container | undefined {
    const fits = (c: Container) => c.memoryMb === memoryMb;
    let i = this.idle.findIndex((c) => fits(c) && affinity !== undefined && c.affinity === affinity);
    if (i < 0) i = this.idle.findIndex(fits);
    if (i < 0) return undefined;
    const [container] = this.idle.splice(i, 1);
    clearTimeout(container.idleTimer);
    return container;
  }

  private park(container: Container): void {
    container.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(container);
      if (i >= 0) this.idle.splice(i, 1);
      void this.kill(container);
    }, this.idleTimeoutMs);
    container.idleTimer.unref();
    this.idle.push(container);
  }

  private run<R>(
    container: Container,
    event: unknown,
    options: InvokeOptions,
    launchMs: number,
    coldStart: boolean,
  ): Promise<InvokeOutcome<R>> {
    const child = container.process;
    const requestId = randomUUID();
    const startedAt = performance.now();
    let peakMemoryMb = residentMemoryMb(child.pid) ?? 0;
    const stats = (): InvocationStats => ({
      billedMs: Math.ceil(performance.now() - startedAt),
      coldStart,
      launchMs: Math.round(launchMs),
      peakMemoryMb: Math.round(peakMemoryMb),
    });

    return new Promise<InvokeOutcome<R>>((resolve) => {
      let killedFor: { reason: 'out-of-memory' | 'timeout' | 'aborted'; message: string } | undefined;
      const finish = (outcome: InvokeOutcome<R>) => {
        clearInterval(memoryWatch);
        clearTimeout(timeLimit);
        options.signal?.removeEventListener('abort', onAbort);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(outcome);
      };
      const killFor = (reason: 'out-of-memory' | 'timeout' | 'aborted', message: string) => {
        killedFor ??= { reason, message };
        child.kill('SIGKILL');
      };
      const onMessage = (m: ContainerMessage) => {
        if (m.type !== 'result' || m.requestId !== requestId) return;
        if (m.ok) finish({ ok: true, result: m.result as R, ...stats() });
        else finish({ ok: false, reason: 'error', message: m.error.message, code: m.error.code, ...stats() });
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        if (killedFor) finish({ ok: false, ...killedFor, ...stats() });
        else finish({ ok: false, reason: 'crashed', message: `The worker process exited (${signal ?? `code ${code}`}).`, ...stats() });
      };
      const onAbort = () => killFor('aborted', 'The invocation was cancelled.');
      const memoryWatch = setInterval(() => {
        const rss = residentMemoryMb(child.pid);
        if (rss === undefined) return;
        peakMemoryMb = Math.max(peakMemoryMb, rss);
        if (rss > options.memoryMb) {
          killFor('out-of-memory', `The worker ran out of memory at ${Math.round(rss)} MB (limit ${options.memoryMb} MB); choose a larger memory size.`);
        }
      }, this.memoryPollMs);
      const timeLimit = setTimeout(
        () => killFor('timeout', `The worker exceeded the ${Math.round(this.timeLimitMs / 1000)} s time limit.`),
        this.timeLimitMs,
      );
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const message: InvokeMessage = {
        type: 'invoke',
        requestId,
        functionName: `smlt-worker-${container.memoryMb}`,
        memoryMb: container.memoryMb,
        deadline: Date.now() + this.timeLimitMs,
        event,
      };
      child.send(message);
    });
  }

  private async kill(container: Container): Promise<void> {
    clearTimeout(container.idleTimer);
    const child = container.process;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(container.tmpDir, { recursive: true, force: true });
  }
}

/** Each platform's containers get temp folders under `<tmpdir>/smlt-local-<pid>-<id>/`. */
const TEMP_PREFIX = 'smlt-local-';

/**
 * Removes the container temp folders of platforms whose process is gone (killed before it could
 * clean up); returns their paths (with `dryRun`, only finds them). A live process's folders stay.
 */
export function removeDeadPlatformFolders(root = tmpdir(), options: { dryRun?: boolean } = {}): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const dead = names.filter((name) => {
    const pid = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(name)?.[1];
    return pid !== undefined && !isProcessAlive(Number(pid));
  });
  if (!options.dryRun) for (const name of dead) rmSync(join(root, name), { recursive: true, force: true });
  return dead.map((name) => join(root, name));
}

function failure<R>(reason: 'crashed', message: string, stats: InvocationStats): InvokeOutcome<R> {
  return { ok: false, reason, message, ...stats };
}

/** Resident set size of a process from /proc (Linux); undefined elsewhere or once it exited. */
function residentMemoryMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
