/**
 * An S3 emulator for tests and benchmarks: the real S3 REST API (s3rver) on loopback, in its own
 * process, with fault injection. Clients reach it through the real `@aws-sdk/client-s3` with an
 * `endpoint` and the credentials in `env` (the SDK's default chain reads them).
 *
 * s3rver's traps, each checked by `s3-emulator.test.ts`: it needs path-style addressing (our S3
 * store uses it whenever an endpoint is set), it corrupts uploads carrying the SDK's default
 * flexible checksums (our store sends checksums only when S3 requires them), and its listing needs
 * Node's legacy OpenSSL provider (the emulator's process has it).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromServer, S3Fault, ToServer } from './s3-server.js';

export interface S3Emulator {
  /** `http://127.0.0.1:PORT`: the `endpoint` for S3 clients. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** What a process needs to reach the emulator through the SDK's default credential chain. */
  readonly env: Readonly<Record<string, string>>;
  /** Injects `fault` into the next requests (counted across every client). */
  inject(fault: S3Fault): Promise<void>;
  /** Requests served so far by operation (GET, PUT, HEAD, DELETE, LIST, POST), and faults injected. */
  counts(): Promise<{ counts: Record<string, number>; injected: Record<S3Fault['kind'], number> }>;
  stop(): Promise<void>;
}

export type { S3Fault };

/** s3rver accepts requests signed with these and no others. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startS3Emulator(options: { bucket?: string; region?: string } = {}): Promise<S3Emulator> {
  const bucket = options.bucket ?? 'smlt-test';
  const region = options.region ?? 'us-east-1';
  const directory = await mkdtemp(join(tmpdir(), 'smlt-s3-'));
  const child = fork(new URL('./s3-server.ts', import.meta.url).pathname, [directory, bucket], {
    execArgv: ['--import', 'tsx', '--openssl-legacy-provider', '--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await next(child, 'listening');
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    region,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: region,
    },
    async inject(fault) {
      send(child, { type: 'fault', fault });
      await next(child, 'fault-set');
    },
    async counts() {
      send(child, { type: 'counts' });
      const { counts, injected } = await next(child, 'counts');
      return { counts, injected };
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill();
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function send(child: ChildProcess, message: ToServer): void {
  child.send(message);
}

/** The next message of `type` from the emulator's process; rejects if the process exits first. */
function next<T extends FromServer['type']>(child: ChildProcess, type: T): Promise<Extract<FromServer, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromServer) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<FromServer, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`The S3 emulator's process exited (code ${code}) before answering ${type}.`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}
