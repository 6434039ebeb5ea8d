/**
 * The sandboxed child's entry (see sandbox.ts): evaluates one model cell, or rebuilds one
 * topology, with the pure-JS cpu backend, and answers the ModelSpec. Nothing here is trusted by
 * the parent beyond that answer, which it validates like any other spec.
 */
import { initBackend } from '../tf/backend.js';
import { type ModelRequest, describeModelRequest } from './model-cell.js';
import { serveSandboxRequest } from './sandbox.js';

serveSandboxRequest(async (request) => {
  await initBackend('cpu');
  return describeModelRequest(request as ModelRequest);
});
