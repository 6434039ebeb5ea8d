import vm from 'node:vm';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SmltError, errorMessage, isSmltError } from '../errors.js';
import { readBoundedFile } from '../data/bounded-file.js';
import { parseJsonDocument } from '../data/json-document.js';
import { buildModel, countParams } from '../model/build.js';
import { withoutWeights } from '../model/shapes-only.js';
import type { ModelSpec } from '../spec/job-spec.js';
import { type ModelDocument, modelDocument } from './keras.js';
import type { RoleCell } from './notebook.js';
import { resolveInNotebookDir } from './paths.js';
import { SandboxLimitError, runSandboxed } from './sandbox.js';
import { type HyperParameters, hyperParameters } from './hp.js';
import type { Param, Values } from './search-space.js';

/**
 * Captures the model cell. It holds one of: TensorFlow.js code that builds a model, Keras /
 * tfjs JSON, or the path of such a JSON file. Each becomes a tfjs-layers topology, rebuilt
 * once here so that anything a worker could not build fails now, naming the cell.
 */

export interface ModelCellOptions {
  /** Folder that relative paths in the cell are resolved against. */
  notebookDir: string;
  /** How long the cell's code may run (default 5000 ms). */
  timeoutMs?: number;
  /** Memory the sandbox that builds the model may use (default 1024 MB). */
  memoryMb?: number;
  /** What the cell's `hp.choice(...)`, `hp.float(...)`, `hp.int(...)` return (a sweep's trial); default their defaults. */
  hp?: Values;
}

export const DEFAULT_MODEL_TIMEOUT_MS = 5000;
export const DEFAULT_MODEL_MEMORY_MB = 1024;
/** A model file holds a topology (and a weights manifest), never the weights themselves. */
export const MODEL_FILE_MAX_BYTES = 64 * 2 ** 20;
/** Start-up of the sandbox (Node and tfjs load in ≈0.3 s; far longer on a loaded machine). */
const SANDBOX_START_MS = 60_000;

/** What the sandbox evaluates: the cell's code, or a topology read from JSON here. */
export type ModelRequest =
  | { kind: 'code'; cell: RoleCell; timeoutMs: number; hp?: Values }
  | { kind: 'topology'; cell: RoleCell; topology: Record<string, unknown>; origin: ModelSpec['origin'] };

export async function captureModelCell(cell: RoleCell, options: ModelCellOptions): Promise<ModelSpec> {
  return (await captureModel(cell, options)).model;
}

export interface CapturedModel {
  model: ModelSpec;
  /** A Keras 3 JSON model's `compile_config` (its loss, optimizer and metrics), when it has one. */
  compileConfig?: unknown;
  /** The hyper-parameters the cell's code declared with `hp`, in the order it declared them. */
  hyperParameters?: Param[];
}

/** The sandbox's answer: the model, and what its code declared with `hp`. */
type DescribedModel = ModelSpec & { hyperParameters?: Param[] };

export async function captureModel(cell: RoleCell, options: ModelCellOptions): Promise<CapturedModel> {
  const text = cell.source.trim();
  const timeoutMs = options.timeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS;
  const cellData: RoleCell = { role: cell.role, index: cell.index, source: cell.source, firstLine: cell.firstLine, label: cell.label };
  let request: ModelRequest;
  let compileConfig: unknown;
  const topologyRequest = (doc: ModelDocument): ModelRequest => {
    compileConfig = doc.compileConfig;
    return { kind: 'topology', cell: cellData, topology: doc.topology, origin: doc.isTfjsModelJson ? 'tfjs-model-json' : 'keras-json' };
  };
  if (text.startsWith('{')) {
    request = topologyRequest(modelDocument(parseJson(text, cell.label), cell.label));
  } else {
    // A single line naming a .json file (quotes allowed, as users copy paths from code).
    const path = /^(['"]?)([^\n'"]+\.json)\1$/i.exec(text)?.[2];
    request = path
      ? topologyRequest(await readModelFile(path, options.notebookDir, cell))
      : { kind: 'code', cell: cellData, timeoutMs, ...(options.hp ? { hp: options.hp } : {}) };
  }
  // Code and topologies are both untrusted: code can do anything, and a topology can ask for
  // gigabytes of weights. Both are built in the sandbox (sandbox.ts), never in this process.
  const memoryMb = options.memoryMb ?? DEFAULT_MODEL_MEMORY_MB;
  try {
    const { hyperParameters: declared, ...model } = await runSandboxed<DescribedModel>(request, { wallMs: timeoutMs + SANDBOX_START_MS, memoryMb });
    return {
      model,
      ...(compileConfig === undefined ? {} : { compileConfig }),
      ...(declared && declared.length > 0 ? { hyperParameters: declared } : {}),
    };
  } catch (err) {
    throw sandboxError(err, cell, memoryMb);
  }
}

/** Runs in the sandbox: the model cell's code (or a topology) → the ModelSpec. */
export async function describeModelRequest(request: ModelRequest): Promise<DescribedModel> {
  // Shapes only: the size is read without allocating weights, so a huge model is refused by its count.
  return withoutWeights(async () => {
    if (request.kind === 'topology') return describeModel(request.topology, request.origin, request.cell);
    const hp = hyperParameters(request.hp ?? {}, request.cell.label);
    const topology = evaluateModelCode(request.cell, request.timeoutMs, hp);
    return { ...(await describeModel(topology, 'tfjs-code', request.cell)), hyperParameters: hp.declared };
  });
}

function sandboxError(err: unknown, cell: RoleCell, memoryMb: number): SmltError {
  if (isSmltError(err)) return err;
  if (err instanceof SandboxLimitError && err.limit === 'memory') {
    return new SmltError(
      'MODEL_INVALID',
      `${cell.label}: building the model was stopped because ${err.message}, over the ${memoryMb} MB limit. ` +
        'Either the model is too large to train on serverless workers (use fewer or smaller layers) or the ' +
        "cell's code keeps allocating: look for an endless loop (also in promises or timers).",
      { cause: err },
    );
  }
  if (err instanceof SandboxLimitError) {
    return new SmltError(
      'MODEL_CODE_TIMEOUT',
      `${cell.label} was stopped because ${err.message}. Building a model should take well under a second: ` +
        'look for an endless loop (also in promises or timers) or a model far too large to train, and leave training (model.fit) out of the cell.',
      { cause: err },
    );
  }
  return new SmltError('MODEL_CODE_FAILED', `${cell.label} could not be evaluated: ${errorMessage(err)}`, { cause: err });
}

/**
 * What the cell's code sees as `tf`: tfjs-core and tfjs-layers merged, as the
 * `@tensorflow/tfjs` union package exports them (`tf.sequential`, `tf.layers.dense`, `tf.tensor`).
 */
function tfNamespace(): Record<string, unknown> {
  return Object.fromEntries(Object.entries({ ...tfc, ...tfl }).filter(([name]) => name !== 'default'));
}

/**
 * `import * as tf from '@tensorflow/tfjs'` (or a `require`) opens most tfjs notebook cells; the
 * context already holds `tf`, so the line is blanked (keeping line numbers) instead of failing.
 */
const TFJS_IMPORT =
  /^\s*(?:import\s+\*\s+as\s+tf\s+from\s*['"]@tensorflow\/tfjs[\w-]*['"]|(?:const|let|var)\s+tf\s*=\s*require\(\s*['"]@tensorflow\/tfjs[\w-]*['"]\s*\))\s*;?\s*$/;

/**
 * Runs the code in a fresh vm context whose only globals are `tf` and `hp` (hyper-parameters,
 * hp.ts). This is not a security boundary (see DESIGN.md); it keeps the cell from seeing SMLT's
 * globals by accident and lets `timeout` stop an endless loop. The boundary is the sandbox process this runs in (sandbox.ts).
 */
function evaluateModelCode(cell: RoleCell, timeoutMs: number, hp: HyperParameters): Record<string, unknown> {
  const code = cell.source
    .split('\n')
    .map((line) => (TFJS_IMPORT.test(line) ? '' : line))
    .join('\n');
  const filename = `cell${cell.index + 1}.js`;
  // Microtasks (promise callbacks) run inside the timeout, so an endless async loop stops too.
  const context = vm.createContext({ tf: tfNamespace(), hp: hp.api }, { microtaskMode: 'afterEvaluate' });
  let model: unknown;
  try {
    const completion: unknown = new vm.Script(code, { filename, lineOffset: cell.firstLine - 1 }).runInContext(context, {
      timeout: timeoutMs,
    });
    // A top-level `let`/`const model` is not a property of the context, but a second script
    // in the same context sees it.
    const named: unknown = new vm.Script('typeof model === "undefined" ? undefined : model').runInContext(context, {
      timeout: timeoutMs,
    });
    model = isLayersModel(named) ? named : completion;
  } catch (err) {
    // A bad `hp` declaration says so itself, naming the parameter (the cell may have caught it).
    throw hp.error ?? codeError(err, cell, filename, timeoutMs);
  }
  if (hp.error) throw hp.error;
  if (!isLayersModel(model)) {
    throw new SmltError(
      'MODEL_NOT_RETURNED',
      `${cell.label} ran but produced no model. Assign it to a top-level variable named model ` +
        `(const model = tf.sequential(...)) or end the cell with the model as its last expression.`,
    );
  }
  try {
    return JSON.parse(JSON.stringify(model.toJSON(null, false))) as Record<string, unknown>;
  } catch (err) {
    throw new SmltError('MODEL_INVALID', `${cell.label}: the model cannot be serialized: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    model.dispose();
  }
}

/**
 * Objects from the vm context fail `instanceof` checks of this realm (and tfjs may be loaded
 * twice), so a model is recognized by what it can do.
 */
function isLayersModel(value: unknown): value is tfl.LayersModel {
  const model = value as { toJSON?: unknown; countParams?: unknown; dispose?: unknown; layers?: unknown } | null;
  return (
    typeof model === 'object' &&
    model !== null &&
    typeof model.toJSON === 'function' &&
    typeof model.countParams === 'function' &&
    typeof model.dispose === 'function' &&
    Array.isArray(model.layers)
  );
}

function codeError(err: unknown, cell: RoleCell, filename: string, timeoutMs: number): SmltError {
  if ((err as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return new SmltError(
      'MODEL_CODE_TIMEOUT',
      `${cell.label} ran longer than ${timeoutMs} ms. Building a model should take well under a ` +
        `second: look for an endless loop or a model far too large to train (check the layer sizes), and leave training ` +
        `(model.fit) out of the cell.`,
      { cause: err },
    );
  }
  // Errors thrown inside the context are not `instanceof Error` here: read them by shape.
  const thrown = err as { name?: unknown; message?: unknown; stack?: unknown } | null;
  const text =
    typeof thrown?.message === 'string' ? `${typeof thrown.name === 'string' ? `${thrown.name}: ` : ''}${thrown.message}` : String(err);
  const line = typeof thrown?.stack === 'string' ? new RegExp(`${filename}:(\\d+)`).exec(thrown.stack)?.[1] : undefined;
  return new SmltError('MODEL_CODE_FAILED', `${cell.label} failed${line ? ` at line ${line}` : ''}: ${text}`, {
    cause: err,
  });
}

async function readModelFile(path: string, notebookDir: string, cell: RoleCell) {
  const file = resolveInNotebookDir(notebookDir, path, 'MODEL_INVALID', cell.label);
  const where = `the model file ${path} (named in ${cell.label})`;
  const bytes = await readBoundedFile(file, {
    name: where,
    code: 'MODEL_INVALID',
    maxBytes: MODEL_FILE_MAX_BYTES,
    what: 'model files',
    tooLarge: 'Name the model.json that holds the topology, not a weights file.',
  });
  return modelDocument(parseJson(bytes.toString('utf8'), where), where);
}

function parseJson(text: string, where: string): unknown {
  const parsed = parseJsonDocument(text);
  if ('problem' in parsed) throw new SmltError('MODEL_INVALID', `${where}: ${parsed.problem}.`, { cause: parsed.cause });
  return parsed.value;
}

/** Rebuilds the topology as a worker will, and reads the shapes and size the scheduler needs. */
async function describeModel(
  topology: Record<string, unknown>,
  origin: ModelSpec['origin'],
  cell: RoleCell,
): Promise<ModelSpec> {
  let model: tfl.LayersModel;
  try {
    model = await buildModel(topology);
  } catch (err) {
    const code = isSmltError(err) ? err.code : 'MODEL_INVALID';
    throw new SmltError(code, `${cell.label}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return {
      origin,
      topology: JSON.parse(JSON.stringify(model.toJSON(null, false))) as Record<string, unknown>,
      paramCount: countParams(model),
      inputShape: perSampleShape(model.inputs, 'input', cell),
      outputShape: perSampleShape(model.outputs, 'output', cell),
    };
  } finally {
    model.dispose();
  }
}

function perSampleShape(tensors: tfl.SymbolicTensor[], kind: 'input' | 'output', cell: RoleCell): number[] {
  if (tensors.length !== 1) {
    throw new SmltError(
      'MODEL_INVALID',
      `${cell.label}: the model has ${tensors.length} ${kind}s (${tensors.map((t) => t.name).join(', ')}); ` +
        `SMLT trains models with one input and one output. Merge them into one tensor or train a single-${kind} model.`,
    );
  }
  const [, ...shape] = tensors[0].shape;
  if (!shape.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw new SmltError(
      'MODEL_INVALID',
      `${cell.label}: the model's ${kind} shape ${JSON.stringify(shape)} (per sample) is not fixed: ` +
        `every dimension needs a size, e.g. inputShape: [28, 28, 1] instead of [null, null, 1].`,
    );
  }
  return shape;
}
