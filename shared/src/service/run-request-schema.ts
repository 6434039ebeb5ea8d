/**
 * What a run request may hold, as a zod schema: the service checks every request with it (the CLI
 * and the editors call the service directly) and `smlt serve` checks request bodies with it.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { trainingSchema } from '../spec/job-spec.js';
import { isChannelSpec } from './channels.js';
import type { RunRequest } from './run-service.js';

/** Paths must be absolute: the server's working folder is not the client's. */
const absolutePath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), { message: 'must be an absolute path (the server does not share your working folder)' });

export const pathSourceSchema = z.object({ path: absolutePath }).strict();

export const inMemorySourceSchema = z
  .object({
    /** The notebook's JSON (nbformat); capture checks its structure and answers NOTEBOOK_INVALID. */
    notebook: z.record(z.string(), z.unknown()),
    notebookDir: absolutePath,
    name: z.string().min(1).max(200),
    notebookPath: absolutePath.optional(),
  })
  .strict();

export const notebookSourceSchema = z.union([pathSourceSchema, inMemorySourceSchema]);

export const runRequestSchema = z
  .object({
    source: notebookSourceSchema,
    overrides: z
      .object({ epochs: trainingSchema.shape.epochs.optional(), batchSize: trainingSchema.shape.batchSize.optional() })
      .strict()
      .optional(),
    /** Lambda runs at most 1,000 concurrent executions per account by default. */
    workers: z.number().int().min(1).max(1_000).optional(),
    /** Lambda's memory range: 128 MB to 10,240 MB. */
    memoryMb: z.number().int().min(128).max(10_240).optional(),
    sync: z.enum(['hierarchical', 'flat']).optional(),
    deadlineS: z.number().positive().optional(),
    budgetUsd: z.number().positive().optional(),
    objective: z.enum(['time', 'cost']).optional(),
    backend: z.enum(['local', 'aws']).optional(),
    channel: z.string().refine(isChannelSpec, 'use store, redis, or a redis://HOST:PORT URL').optional(),
    outDir: absolutePath.optional(),
    /** An interpreter path or a command name (python3); it runs the notebook's own cells, as its kernel would. */
    python: z.string().min(1).max(4096).optional(),
    pythonTimeoutS: z.number().positive().max(86_400).optional(),
  })
  .strict();

// The schema and the interface describe the same thing; these fail to compile if they drift.
type RequestFromSchema = z.infer<typeof runRequestSchema>;
const schemaFitsInterface = (r: RequestFromSchema): RunRequest => r;
const interfaceFitsSchema = (r: RunRequest): Omit<RequestFromSchema, 'source'> => r;
void schemaFitsInterface;
void interfaceFitsSchema;
