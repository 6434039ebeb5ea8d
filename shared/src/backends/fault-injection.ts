/**
 * Fault injection for the crash-consistency suites: every durable write of this process (a store
 * put or delete, the run index, a run's outputs) passes a numbered fault point, and
 * `SMLT_FAULT_AT` names one to strike:
 *
 *   kill@N         SIGKILL this process just before the Nth write (it does not happen)
 *   kill-after@N   SIGKILL it just after the Nth write (it happened; the next does not)
 *   enospc@N       the Nth write and every later one fail with ENOSPC, as on a full disk (deletes still work)
 *
 * `SMLT_FAULT_TRACE=<file>` appends each point's number and label to the file, so a suite can
 * see where the writes of a run fall before choosing points. Unset, both cost one branch a write.
 */
import { appendFileSync } from 'node:fs';
import { SmltError, errorMessage, isSmltError } from '../errors.js';
import type { ObjectStore } from './ports.js';

interface Fault {
  kind: 'kill' | 'kill-after' | 'enospc';
  at: number;
}

let count = 0;
let fault: Fault | null | undefined;

function configured(): Fault | null {
  if (fault !== undefined) return fault;
  const match = /^(kill|kill-after|enospc)@(\d+)$/.exec(process.env.SMLT_FAULT_AT ?? '');
  fault = match ? { kind: match[1] as Fault['kind'], at: Number(match[2]) } : null;
  return fault;
}

/** Runs `write` as the next numbered durable write of this process, striking it if it is the one named. */
export async function faultPoint<T>(label: string, write: () => Promise<T>, options: { frees?: boolean } = {}): Promise<T> {
  const trace = process.env.SMLT_FAULT_TRACE;
  const f = configured();
  if (!f && !trace) return write();
  const n = ++count;
  if (trace) appendFileSync(trace, `${n}\t${label}\n`);
  if (f?.kind === 'kill' && n === f.at) process.kill(process.pid, 'SIGKILL');
  // A full disk still lets files be deleted.
  if (f?.kind === 'enospc' && n >= f.at && !options.frees) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (${label}; injected)`), { code: 'ENOSPC' });
  }
  const result = await write();
  if (f?.kind === 'kill-after' && n === f.at) process.kill(process.pid, 'SIGKILL');
  return result;
}

/** The store with its writes passing fault points; the store itself when no fault is asked for. */
export function withFaults(store: ObjectStore): ObjectStore {
  if (!process.env.SMLT_FAULT_AT && !process.env.SMLT_FAULT_TRACE) return store;
  const strike = <T>(label: string, write: () => Promise<T>, frees = false) =>
    faultPoint(label, write, { frees }).catch((err: unknown) => {
      if (isSmltError(err)) throw err;
      throw new SmltError('STORE_ERROR', `Could not ${label} in ${store.url}: ${errorMessage(err)}.`, { cause: err });
    });
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'put') return (key: string, body: Uint8Array | string) => strike(`write ${key}`, () => target.put(key, body));
      if (name === 'delete') {
        return (keys: readonly string[]) => (keys.length === 0 ? target.delete(keys) : strike(`delete ${keys[0]} (${keys.length} keys)`, () => target.delete(keys), true));
      }
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

