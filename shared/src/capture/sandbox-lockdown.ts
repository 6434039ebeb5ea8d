/**
 * What the sandbox child closes before notebook code runs, beyond Node's permission model
 * (sandbox.ts), which on Node 20 to 24 denies fs writes and reads outside SMLT, child processes,
 * worker threads, the inspector, WASI, native addons and `process.binding`, but not signals, the
 * network or a few writes made outside `fs`. Each is replaced by a function that throws
 * ERR_ACCESS_DENIED, as a read-only, non-configurable property, so escaped code (which reaches this
 * process, DESIGN.md) cannot put the original back: no other reference to it is left.
 *
 * The network is closed at its lowest JavaScript layer, the libuv handle classes every socket
 * goes through (net, tls, http, http2, fetch, dgram, unix sockets), and the DNS resolvers. Their
 * methods answer EACCES as libuv would, so Node turns it into the socket's 'error' event instead of
 * an exception thrown on a later tick.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import tls from 'node:tls';
import traceEvents from 'node:trace_events';
import v8 from 'node:v8';

export function lockDownSandbox(): void {
  // Signals (kill, stop, SIGUSR1 to open a debugger) and the priority of other processes.
  close(process, ['kill', '_kill', '_debugProcess'], throwing('signalling processes'));
  close(os, ['setPriority'], throwing('changing process priorities'));
  // Files written outside fs: trace logs, heap snapshots, and V8 flags that write (--logfile, --prof).
  close(traceEvents, ['createTracing'], throwing('tracing'));
  close(v8, ['setHeapSnapshotNearHeapLimit', 'setFlagsFromString'], throwing('V8 diagnostics'));
  // Sockets: the TCP and unix-socket (Pipe) handle classes, the UDP handle class. The stdio
  // streams are made first: a stream on a pipe opens its handle when first used.
  void [process.stdout, process.stderr];
  close(handleClass({}), ['open', 'bind', 'bind6', 'listen', 'connect', 'connect6'], () => () => UV_EACCES);
  close(handleClass({ pipe: true }), ['open', 'bind', 'listen', 'connect'], () => () => UV_EACCES);
  const udp = dgram.createSocket('udp4');
  close(udpHandleClass(udp), ['open', 'bind', 'bind6', 'connect', 'connect6', 'send', 'send6', 'recvStart'], () => () => UV_EACCES);
  udp.close();
  // DNS: c-ares queries (dns.resolve*, dns.Resolver) and getaddrinfo (dns.lookup).
  const channel = Object.getPrototypeOf((new dns.Resolver() as unknown as { _handle: object })._handle) as object;
  const queries = Object.getOwnPropertyNames(channel).filter((name) => name.startsWith('query') || name === 'getHostByAddr');
  close(channel, queries, () => () => UV_EACCES);
  close(dns, ['lookup', 'lookupService'], throwing('network access'));
  close(dns.promises, ['lookup', 'lookupService'], throwing('network access'));
  // `import { lookup } from 'node:dns'` reads a module's named exports: bring them up to date.
  syncBuiltinESMExports();
}

/** libuv's EACCES: the negated errno on POSIX, its own number on Windows. */
const UV_EACCES = process.platform === 'win32' ? -4092 : -os.constants.errno.EACCES;

function throwing(what: string): (name: string) => () => never {
  return (name) => () => {
    throw Object.assign(new Error(`${name}: ${what} is not allowed in SMLT's capture sandbox`), { code: 'ERR_ACCESS_DENIED' });
  };
}

function close(target: object, names: string[], replacement: (name: string) => () => unknown): void {
  for (const name of names) {
    Object.defineProperty(target, name, { value: replacement(name), writable: false, configurable: false, enumerable: false });
  }
}

/**
 * The prototype of the TCP (or, with `pipe`, unix-socket) handle class, from the handle a TLS
 * socket creates before it connects: libuv opens no socket until a handle binds or connects.
 */
function handleClass(options: { pipe?: boolean }): object {
  const socket = new tls.TLSSocket(undefined as never, options as tls.TLSSocketOptions);
  const handle = (socket as unknown as { _handle?: { _parent?: object } })._handle?._parent;
  socket.destroy();
  if (!handle) throw new Error('the sandbox found no socket handle class to close');
  return Object.getPrototypeOf(handle) as object;
}

/** A dgram socket keeps its UDP handle (not bound yet, so no socket) in a symbol-keyed state object. */
function udpHandleClass(socket: dgram.Socket): object {
  for (const key of Object.getOwnPropertySymbols(socket)) {
    const handle = (socket as unknown as Record<symbol, { handle?: object } | undefined>)[key]?.handle;
    if (handle) return Object.getPrototypeOf(handle) as object;
  }
  throw new Error('the sandbox found no UDP handle class to close');
}
