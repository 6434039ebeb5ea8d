/**
 * The sandboxed child's entry (see sandbox.ts): evaluates one model cell, or rebuilds one
 * topology, with the pure-JS cpu backend, and answers the ModelSpec. Nothing here is trusted by
 * the parent beyond that answer, which it validates like any other spec. Signals, the network and
 * the writes the permission model misses are closed before any request is read.
 */
import { initBackend } from '../tf/backend.js';
import { type ModelRequest, describeModelRequest } from './model-cell.js';
import { serveSandboxRequest } from './sandbox.js';
import { lockDownSandbox } from './sandbox-lockdown.js';

lockDownSandbox();
serveSandboxRequest(async (request) => {
  await initBackend('cpu');
  return describeModelRequest(request as ModelRequest);
});
