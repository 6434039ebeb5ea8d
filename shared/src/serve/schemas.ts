/**
 * The wire format of `smlt serve`: zod schemas for what clients send (a run request's own schema
 * is the service's, re-exported here), the error body every failure answers with, and the HTTP
 * status each `SmltError` code maps to. Server and client both import this file, so the two sides
 * cannot drift; editors can validate a form with `runRequestSchema` before sending it.
 */
import { z } from 'zod';
import type { SmltErrorCode } from '../errors.js';

export { inMemorySourceSchema, notebookSourceSchema, pathSourceSchema, runRequestSchema } from '../service/run-request-schema.js';

/** A sweep of a saved notebook (sweep/run-sweep.ts SweepRequest). */
export const sweepRequestSchema = z
  .object({
    notebook: z.string().min(1).refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'must be an absolute path'),
    budgetUsd: z.number().positive().finite().optional(),
    deadlineS: z.number().positive().finite().optional(),
    trials: z.number().int().min(1).max(200).optional(),
    epochs: z.number().int().min(1).max(10_000).optional(),
    backend: z.enum(['local', 'aws']).optional(),
    /** As for a run: the interpreter that runs a Keras notebook's cells up to model.fit. */
    python: z.string().min(1).max(4096).optional(),
    pythonTimeoutS: z.number().positive().max(86_400).optional(),
    outDir: z.string().min(1).optional(),
  })
  .strict();

export const resumeBodySchema = z.object({ force: z.boolean().optional() }).strict();
export const emptyBodySchema = z.object({}).strict();

/** A seq to resume after: `?fromSeq=` or `Last-Event-ID`. */
export const seqSchema = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Run ids are generated (`20240101-120000-abc123`); anything else never reaches the service. */
export const runIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'is not a run id');

/** Codes for failures of the HTTP layer itself (the service's failures keep their SmltErrorCode). */
export type ServeErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'ROUTE_NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL'
  | 'SERVER_UNREACHABLE'
  | 'STREAM_LOST'
  | 'PROTOCOL_ERROR';

export interface ErrorBody {
  error: { code: SmltErrorCode | ServeErrorCode; message: string; field?: string };
}

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

/**
 * The HTTP status of each service error. Capture and validation problems are the client's to
 * fix (400); a missing run is 404; a run another process drives is 409; the rest are ours (500).
 * A `Record` over the union, so a new code does not compile until it has a status.
 */
export const STATUS_BY_CODE: Record<SmltErrorCode, 400 | 404 | 409 | 500> = {
  NOTEBOOK_UNREADABLE: 400,
  NOTEBOOK_INVALID: 400,
  MODEL_CELL_MISSING: 400,
  MODEL_CODE_FAILED: 400,
  MODEL_CODE_TIMEOUT: 400,
  MODEL_NOT_RETURNED: 400,
  MODEL_UNSUPPORTED_LAYER: 400,
  MODEL_INVALID: 400,
  MODEL_TOO_LARGE: 400,
  DATA_CELL_MISSING: 400,
  DATA_INVALID: 400,
  DATA_UNREADABLE: 400,
  SHAPE_MISMATCH: 400,
  CONFIG_INVALID: 400,
  UNKNOWN_LOSS: 400,
  UNKNOWN_OPTIMIZER: 400,
  UNKNOWN_METRIC: 400,
  OPTION_INVALID: 400,
  SWEEP_INVALID: 400,
  PYTHON_NOT_FOUND: 400,
  PYTHON_CELL_FAILED: 400,
  PYTHON_TIMEOUT: 400,
  KERAS_FIT_MISSING: 400,
  KERAS_UNSUPPORTED: 400,
  STORE_ERROR: 500,
  AWS_ERROR: 500,
  STORE_KEY_INVALID: 400,
  STORE_CORRUPT: 500,
  SYNC_TIMEOUT: 500,
  WORKER_FAILED: 500,
  WORKER_OUT_OF_MEMORY: 500,
  WORKER_TIMEOUT: 500,
  RUN_NOT_FOUND: 404,
  RUN_BUSY: 409,
  BUDGET_EXHAUSTED: 409,
  RUN_FAILED: 500,
  CANCELLED: 409,
};

export function isSmltErrorCode(code: string): code is SmltErrorCode {
  return Object.hasOwn(STATUS_BY_CODE, code);
}

/**
 * The first problem of a failed parse as `{ field, message }`, the field a dotted path
 * (`source.path`, `overrides.epochs`, `workers`; '' for the body itself).
 */
export function firstIssue(error: z.ZodError, prefix = ''): { field: string; message: string } {
  return describeIssue(error.issues[0]!, prefix);
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, prefix: string): { field: string; message: string } {
  const here = joinPath(prefix, issue.path);
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch the client meant: one where no key was a stranger, then the closest.
    const branches = issue.errors.filter((b) => b.length > 0);
    const meant =
      branches
        .filter((b) => !b.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0))
        .sort((a, b) => a.length - b.length)[0] ?? branches.sort((a, b) => a.length - b.length)[0];
    if (meant) return describeIssue(meant[0]!, here);
  }
  if (issue.code === 'unrecognized_keys') {
    return { field: joinPath(here, [issue.keys[0]!]), message: 'is not a known option' };
  }
  return { field: here, message: issue.message };
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map(String)].filter((p) => p !== '').join('.');
}
