/**
 * A private `redis-server` for one process's runs (`--channel redis`): Debian's redis-server on
 * 127.0.0.1, a free port, a random password, no persistence, a temporary folder; stopped with
 * the process that started it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { SmltError } from '../../errors.js';
import { freePort } from '../../net/free-port.js';

export interface PrivateRedis {
  /** `redis://127.0.0.1:PORT`, without the password. */
  readonly url: string;
  /** For clients of this process and its worker processes (`SMLT_REDIS_PASSWORD`); never logged. */
  readonly password: string;
  readonly port: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export interface PrivateRedisOptions {
  binary?: string;
  maxMemoryMb?: number;
  /** Default: a free port and a random password (a restart passes the old ones; '' for none, in tests). */
  port?: number;
  password?: string;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const binary = options.binary ?? process.env.SMLT_REDIS_SERVER ?? 'redis-server';
  const dir = await mkdtemp(join(tmpdir(), 'smlt-redis-'));
  const port = options.port ?? (await freePort());
  const password = options.password ?? randomBytes(24).toString('base64url');
  // The password goes in through stdin's config, not the command line (visible in `ps`).
  const child = spawn(binary, ['-'], { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'] });
  const started = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new SmltError('OPTION_INVALID', `Could not start ${binary} for --channel redis (${err.message}): install Debian's redis-server package, or pass --channel redis://HOST:PORT.`)),
    );
    child.once('exit', (code) => reject(new SmltError('OPTION_INVALID', `${binary} exited with code ${code} before it was ready.`)));
    child.stdin.end(
      [
        `bind 127.0.0.1`,
        `port ${port}`,
        ...(password ? [`requirepass ${password}`] : []),
        'protected-mode yes',
        'save ""',
        'appendonly no',
        `dir ${dir}`,
        ...(options.maxMemoryMb ? [`maxmemory ${options.maxMemoryMb}mb`] : []),
        '',
      ].join('\n'),
      () => resolve(),
    );
  });
  await started;
  await waitReady(port, password, child);
  return {
    url: `redis://127.0.0.1:${port}`,
    password,
    port,
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number, password: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new SmltError('OPTION_INVALID', `redis-server exited with code ${child.exitCode} while starting.`);
    const client = new Redis({ port, host: '127.0.0.1', ...(password ? { password } : {}), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new SmltError('OPTION_INVALID', `redis-server did not answer on 127.0.0.1:${port} within ${READY_TIMEOUT_MS / 1000} s.`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

