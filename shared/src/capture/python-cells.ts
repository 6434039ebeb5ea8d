import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SmltError, errorMessage } from '../errors.js';
import { NPY_MAX_BYTES } from '../data/loaders.js';

/**
 * Runs a Python notebook's code cells, in a Python subprocess, up to its first Keras
 * `model.fit`, and returns what the recorder (`shared/python/smlt_fit_recorder.py`) took there:
 * the model's JSON and compile settings, the fit arguments, and the arrays as `.npy` files in a
 * temp folder the caller removes with `dispose()`. The cells' own output goes to a log file.
 */

export interface PythonCell {
  /** 0-based position in the notebook. */
  index: number;
  source: string;
}

export interface ArrayFile {
  path: string;
  shape: number[];
  dtype: string;
  sha256: string;
}

/** The recorder's `fit` message (see smlt_fit_recorder.py). */
export interface RecordedFit {
  cell: number | null;
  line: number | null;
  call: string;
  names: { model: string; x: string | null; y: string | null };
  modelClass: string;
  paramCount: number;
  modelJson: Record<string, unknown>;
  compileConfig: unknown;
  fit: { epochs: number; batchSize: number; validationSplit: number; validationData: boolean; fromDataset: boolean };
  arrays: { x: ArrayFile; y: ArrayFile; validation_x?: ArrayFile; validation_y?: ArrayFile };
  warnings: string[];
  kerasVersion: string;
}

export interface RunToFitOptions {
  cells: PythonCell[];
  /** The cells run in this folder (the notebook's), as in Jupyter. */
  cwd: string;
  python: string;
  /** Wall-clock limit for all cells up to fit (default 600 s). */
  timeoutS?: number;
  /** Where the cells' stdout and stderr go. */
  logPath: string;
  /** Largest tf.data.Dataset read into memory (default 2 GiB, the .npy limit). */
  maxDataBytes?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export interface RanToFit {
  fit: RecordedFit;
  logPath: string;
  /** Removes the arrays' temp folder. */
  dispose(): Promise<void>;
}

export const DEFAULT_PYTHON_TIMEOUT_S = 600;
const RECORDER = fileURLToPath(new URL('../../python/smlt_fit_recorder.py', import.meta.url));

type RecorderMessage =
  | { type: 'started'; cells: number; python: string }
  | { type: 'cell'; cell: number; position: number; of: number }
  | ({ type: 'fit' } & RecordedFit)
  | { type: 'error'; code: 'PYTHON_NOT_FOUND' | 'KERAS_UNSUPPORTED' | 'DATA_INVALID'; message: string }
  | { type: 'cell_failed'; cell: number; error: string }
  | { type: 'no_fit'; calls: string[] };

export async function runCellsToFit(options: RunToFitOptions): Promise<RanToFit> {
  const timeoutS = options.timeoutS ?? DEFAULT_PYTHON_TIMEOUT_S;
  const outDir = await mkdtemp(join(tmpdir(), 'smlt-capture-'));
  const dispose = () => rm(outDir, { recursive: true, force: true });
  try {
    const requestPath = join(outDir, 'request.json');
    await writeFile(
      requestPath,
      JSON.stringify({ cells: options.cells, outDir, maxDataBytes: options.maxDataBytes ?? NPY_MAX_BYTES }),
    );
    const fit = await runRecorder(options, requestPath, timeoutS);
    return { fit, logPath: options.logPath, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

async function runRecorder(options: RunToFitOptions, requestPath: string, timeoutS: number): Promise<RecordedFit> {
  const log = createWriteStream(options.logPath);
  await new Promise<void>((resolve, reject) => log.once('open', () => resolve()).once('error', reject));
  const child = spawn(options.python, ['-u', RECORDER, requestPath], {
    cwd: options.cwd,
    // Its own process group, so a timeout also stops whatever the cells started.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: pythonEnv(),
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let fit: RecordedFit | undefined;
  let failure: SmltError | undefined;
  let running: { cell: number; position: number; of: number } | undefined;
  const where = (cell: number) => `cell ${cell + 1}`;
  const lines = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    let message: RecorderMessage;
    try {
      message = JSON.parse(line) as RecorderMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'cell':
        running = message;
        options.onProgress?.(`running cell ${message.cell + 1} (${message.position} of ${message.of}) to reach model.fit`);
        break;
      case 'fit':
        fit = message;
        break;
      case 'error':
        failure = new SmltError(message.code, message.message);
        break;
      case 'cell_failed':
        failure = new SmltError(
          'PYTHON_CELL_FAILED',
          `${where(message.cell)} failed: ${message.error} (the traceback is in ${options.logPath}). Fix the cell so the ` +
            'notebook runs top to bottom in a fresh kernel, then train again.',
        );
        break;
      case 'no_fit':
        failure = new SmltError(
          'KERAS_FIT_MISSING',
          message.calls.length === 0
            ? 'The notebook has no smlt:model cell and no cell calls model.fit(...): SMLT trains the Keras model a notebook ' +
                'fits. Add model.fit(x_train, y_train, epochs=...) after model.compile(...), or tag an smlt:model cell.'
            : `The notebook ran to its end without fitting a Keras model: ${message.calls.join(', ')} ran on something ` +
                'that is not a keras.Model (or was never reached). SMLT trains Keras models: build the model with keras.Sequential, ' +
                'the functional API or keras.applications.',
        );
        break;
    }
  });
  let timedOut = false;
  const stop = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutS * 1000);
  options.signal?.addEventListener('abort', stop, { once: true });
  const exit = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', stop);
  await new Promise<void>((resolve) => log.end(resolve));
  if (exit.error) {
    throw new SmltError(
      'PYTHON_NOT_FOUND',
      `Cannot start Python "${options.python}" to run the notebook's cells (${errorMessage(exit.error)}). Pass --python ` +
        '/path/to/python (the interpreter with Keras your notebook uses), or set SMLT_PYTHON.',
      { cause: exit.error },
    );
  }
  if (timedOut) {
    const at = running ? `${where(running.cell)} (${running.position} of ${running.of}) was still running` : 'Python was still starting';
    throw new SmltError(
      'PYTHON_TIMEOUT',
      `Running the notebook up to model.fit took longer than ${timeoutS} s: ${at}. Look for a loop that does not end or ` +
        'work that waits for input; raise the limit with --python-timeout if the cells are just slow.',
    );
  }
  if (options.signal?.aborted) throw new SmltError('CANCELLED', 'Running the notebook was cancelled.');
  if (failure) throw failure;
  if (fit && exit.code === 0) return fit;
  const tail = (await readFile(options.logPath, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
  throw new SmltError(
    'PYTHON_CELL_FAILED',
    `Python stopped (exit code ${exit.code ?? 'none'}) before model.fit${running ? `, in ${where(running.cell)}` : ''}: ${tail || 'no output'} ` +
      `(full output in ${options.logPath}).`,
  );
}

/** The user's environment, less SMLT's own secrets; a headless plotting backend. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MPLBACKEND: 'Agg', PYTHONDONTWRITEBYTECODE: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('SMLT_') && key !== 'SMLT_HOME') delete env[key];
  // TensorFlow's C++ start-up chatter goes to the log anyway; keep it short.
  env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  return env;
}

/** Where a capture's log goes: `.smlt/capture.log` beside the notebook, else a temp file. */
export async function captureLogPath(notebookDir: string, name: string): Promise<string> {
  const file = `capture-${name.replace(/[^\w.-]+/g, '_')}.log`;
  try {
    const dir = join(notebookDir, '.smlt');
    await mkdir(dir, { recursive: true });
    return join(dir, file);
  } catch {
    return join(tmpdir(), `smlt-${file}`);
  }
}

/**
 * The interpreter for a notebook's cells: the one asked for (`--python`, the editor's
 * interpreter), the notebook's kernelspec when it is installed on this machine, `SMLT_PYTHON`, or
 * `python3`.
 */
export async function choosePython(requested: string | undefined, notebook: unknown): Promise<string> {
  if (requested) return resolvePython(requested);
  const fromKernel = await kernelspecPython(notebook);
  return fromKernel ?? (process.env.SMLT_PYTHON ? resolvePython(process.env.SMLT_PYTHON) : 'python3');
}

/**
 * A relative interpreter path (`.venv/bin/python`) names a file from where the user typed it, not
 * from the notebook's folder the cells run in; a bare name (`python3`) is looked up on PATH.
 */
export function resolvePython(python: string): string {
  return python.includes('/') && !isAbsolute(python) ? resolve(python) : python;
}

async function kernelspecPython(notebook: unknown): Promise<string | undefined> {
  const name = (notebook as { metadata?: { kernelspec?: { name?: unknown } } } | null)?.metadata?.kernelspec?.name;
  if (typeof name !== 'string' || !/^[\w.-]+$/.test(name)) return undefined;
  const dirs = [
    ...(process.env.JUPYTER_PATH ?? '').split(':').filter(Boolean),
    join(homedir(), '.local/share/jupyter'),
    '/usr/local/share/jupyter',
    '/usr/share/jupyter',
  ];
  for (const dir of dirs) {
    try {
      const spec = JSON.parse(await readFile(join(dir, 'kernels', name, 'kernel.json'), 'utf8')) as { argv?: unknown; language?: unknown };
      const argv0 = Array.isArray(spec.argv) ? spec.argv[0] : undefined;
      if (typeof argv0 === 'string' && argv0.startsWith('/') && spec.language === 'python') return argv0;
    } catch {
      // not installed there
    }
  }
  return undefined;
}
