/**
 * The S3 emulator's process: s3rver (a real S3 REST API) behind a thin layer that injects faults
 * and counts requests. It runs in its own process because s3rver's listing needs Node's legacy
 * OpenSSL provider (DES continuation tokens), and so the workers' traffic does not load the test's
 * event loop. The parent (`s3-emulator.ts`) drives it over IPC.
 *
 * S3 gives strong read-after-write consistency and atomic overwrites; s3rver 3.7 gives neither (it
 * streams a PUT straight into the object's file and may answer before the file is complete). Two
 * fixes make it honest: a reader/writer lock per object key, held until each response is sent,
 * and a putObject that writes the whole object before it answers.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

export type S3Fault =
  /** The next `count` requests get 503 SlowDown, as S3 answers a prefix over its request rate. */
  | { kind: 'slow-down'; count: number }
  /** The next `count` requests have their connection dropped before any answer (a network error). */
  | { kind: 'reset'; count: number };

export type ToServer = { type: 'fault'; fault: S3Fault } | { type: 'counts' };
export type FromServer =
  | { type: 'listening'; port: number }
  | { type: 'fault-set' }
  | { type: 'counts'; counts: Record<string, number>; injected: Record<S3Fault['kind'], number> };

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) throw new Error('usage: s3-server.ts DIRECTORY BUCKET');

const s3 = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }], resetOnClose: false });
await (s3 as unknown as { configureBuckets(): Promise<void> }).configureBuckets();
const s3Handler = s3.callback() as (req: IncomingMessage, res: ServerResponse) => void;
makePutsAtomic(s3);

const pending: Record<S3Fault['kind'], number> = { 'slow-down': 0, reset: 0 };
const injected: Record<S3Fault['kind'], number> = { 'slow-down': 0, reset: 0 };
const counts: Record<string, number> = {};

const server = createServer((req, res) => {
  const operation = operationOf(req);
  counts[operation] = (counts[operation] ?? 0) + 1;
  if (pending.reset > 0) {
    pending.reset--;
    injected.reset++;
    req.socket.destroy();
    return;
  }
  if (pending['slow-down'] > 0) {
    pending['slow-down']--;
    injected['slow-down']++;
    // Drain the body first so the client sees the answer rather than a broken pipe.
    req.resume();
    req.on('end', () => {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    return;
  }
  const key = objectKeyOf(req);
  if (key === undefined) {
    s3Handler(req, res);
    return;
  }
  void locks.acquire(key, req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write').then((release) => {
    res.on('close', release);
    s3Handler(req, res);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as AddressInfo).port });
});

process.on('message', (message: ToServer) => {
  if (message.type === 'fault') {
    pending[message.fault.kind] += message.fault.count;
    send({ type: 'fault-set' });
  } else if (message.type === 'counts') {
    send({ type: 'counts', counts: { ...counts }, injected: { ...injected } });
  }
});
process.on('disconnect', () => process.exit(0));

function send(message: FromServer): void {
  process.send?.(message);
}

/** GET / PUT / HEAD / DELETE / LIST / POST (multipart, batch delete), for request counts. */
function operationOf(req: IncomingMessage): string {
  const url = new URL(req.url ?? '/', 'http://s3');
  const [, , ...key] = url.pathname.split('/');
  if (req.method === 'GET' && key.join('/') === '') return 'LIST';
  return req.method ?? 'GET';
}

/** `bucket/key` for a request on one object; undefined for bucket-level requests (list, batch delete). */
function objectKeyOf(req: IncomingMessage): string | undefined {
  const path = new URL(req.url ?? '/', 'http://s3').pathname;
  const slash = path.indexOf('/', 1);
  if (slash < 0 || slash === path.length - 1) return undefined;
  return decodeURIComponent(path.slice(1));
}

type Release = () => void;

/** Many readers or one writer per key, in arrival order, so a reader never sees a write in progress. */
class KeyLocks {
  private readonly states = new Map<string, { readers: number; writer: boolean; queue: Array<{ mode: 'read' | 'write'; grant: () => void }> }>();

  acquire(key: string, mode: 'read' | 'write'): Promise<Release> {
    let state = this.states.get(key);
    if (!state) this.states.set(key, (state = { readers: 0, writer: false, queue: [] }));
    const current = state;
    return new Promise((resolve) => {
      const grant = () => {
        if (mode === 'read') current.readers++;
        else current.writer = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          if (mode === 'read') current.readers--;
          else current.writer = false;
          this.drain(key);
        });
      };
      current.queue.push({ mode, grant });
      this.drain(key);
    });
  }

  private drain(key: string): void {
    const state = this.states.get(key);
    if (!state) return;
    while (state.queue.length > 0 && !state.writer) {
      const next = state.queue[0]!;
      if (next.mode === 'write' && state.readers > 0) break;
      state.queue.shift();
      next.grant();
      if (next.mode === 'write') break;
    }
    if (state.queue.length === 0 && state.readers === 0 && !state.writer) this.states.delete(key);
  }
}

const locks = new KeyLocks();

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: { bucket: string; key: string; content: Buffer | Readable; metadata: unknown }): Promise<{ size: number; md5: string }>;
}

/** Replaces s3rver's putObject with one that has the whole object on disk before it resolves. */
function makePutsAtomic(server: S3rver): void {
  const store = (server as unknown as { store: FilesystemStore }).store;
  store.putObject = async (object) => {
    const content = Buffer.isBuffer(object.content) ? object.content : await buffer(object.content);
    const path = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, content);
    await rename(temp, path);
    const md5 = createHash('md5').update(content).digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
}
