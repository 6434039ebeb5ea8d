/**
 * What the browser sends to start a run: the notebook model's JSON (unsaved edits included),
 * with the model and data taken from the live kernel where they exist only there. The server
 * then captures it with the shared capture code, exactly as `smlt train` would.
 *
 * - Python kernel: a model cell of Python code is replaced by `<variable>.to_json()` (Keras
 *   JSON) run in the kernel; a data cell naming kernel variables (`x: x_train`, `y: y_train`
 *   instead of `.npy` files) gets the arrays as `.npy` bytes, stored next to the notebook by the
 *   server extension and named by their path.
 * - TypeScript kernel (tslab): when the kernel holds the model variable, the cell is replaced by
 *   its topology, `JSON.stringify(model.toJSON(null, false))` (tfjs' `toJSON()` alone returns
 *   the JSON already as a string); otherwise the cell's tfjs code is captured on the server.
 */
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { KernelCodeError, kernelLanguage, runInKernel } from './kernel';
import { postJSON } from './request';
import type { NotebookPayload } from './tokens';
import { type CellRole, hasRole, roleTag, taggedRoles, withoutMarker as bodyOf } from '../../shared/dist/capture/cell-roles.js';

interface CellJson {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: string[]; smlt?: { variable?: string } };
}

const TOPOLOGY_START = '<smlt-topology>';
const TOPOLOGY_END = '</smlt-topology>';

export class CaptureError extends Error {}

export async function notebookPayload(panel: NotebookPanel): Promise<NotebookPayload> {
  const model = panel.content.model;
  if (!model) throw new CaptureError('The notebook is not loaded yet.');
  const notebook = model.toJSON() as unknown as { cells: CellJson[]; metadata?: Record<string, unknown> };
  const contentsPath = panel.context.path;
  const language = await kernelLanguage(panel);
  const kernel = panel.sessionContext.session?.kernel ?? null;

  const modelCell = roleCell(notebook.cells, 'model');
  // A tfjs model cell (examples/mnist.ipynb, written for tslab) in a notebook given a Python
  // kernel is not the kernel's code: the server captures it from its source, as with no kernel.
  if (kernel && modelCell && language === 'python' && isCode(modelCell) && !isTfjs(modelCell)) {
    const name = variableOf(modelCell, 'python');
    const json = await runForOutput(kernel, `__import__('sys').stdout.write(${name}.to_json())`, `the model variable "${name}"`);
    setRole(modelCell, 'model', json.trim());
  } else if (kernel && modelCell && (language === 'typescript' || language === 'javascript') && isCode(modelCell)) {
    const name = variableOf(modelCell, 'typescript');
    // Between markers: the kernel's stdout may carry more (tfjs prints its Node.js hint on first use).
    const probe = await runForOutput(
      kernel,
      `process.stdout.write(typeof ${name} === 'undefined' ? '' : '${TOPOLOGY_START}' + JSON.stringify(${name}.toJSON(null, false)) + '${TOPOLOGY_END}');`,
      `the model variable "${name}"`
    );
    const topology = probe.split(TOPOLOGY_START)[1]?.split(TOPOLOGY_END)[0];
    if (topology?.startsWith('{')) setRole(modelCell, 'model', topology);
  }

  const dataCell = roleCell(notebook.cells, 'data');
  if (kernel && dataCell && language === 'python') {
    const vars = kernelArrayNames(dataCell);
    if (vars) {
      const paths: Record<string, string> = {};
      for (const [field, name] of Object.entries(vars)) {
        const b64 = await runForOutput(kernel, npyCode(name), `the array "${name}"`);
        const stored = await postJSON<{ path: string }>('arrays', { contentsPath, name, npyBase64: b64.trim() });
        paths[field] = stored.path;
      }
      setRole(dataCell, 'data', `x: ${paths.x}\ny: ${paths.y}`);
    }
  }
  return { notebook: notebook as unknown as Record<string, unknown>, contentsPath };
}

function text(cell: CellJson): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/** Replaces the cell's body; the tag keeps its role (a marker line would be read as code). */
function setRole(cell: CellJson, role: CellRole, source: string): void {
  cell.source = source;
  const tags = cell.metadata?.tags ?? [];
  cell.metadata = { ...cell.metadata, tags: taggedRoles(tags).has(role) ? tags : [...tags, roleTag(role)] };
}

/** The cell with `role`, as the server's capture finds it (the same rules: shared/src/capture/cell-roles.ts). */
function roleCell(cells: CellJson[], role: CellRole): CellJson | undefined {
  return cells.find((c) => hasRole({ cellType: c.cell_type, text: text(c), tags: c.metadata?.tags }, role));
}

/** The cell's body (marker line dropped) is code, not JSON and not the path of a .json file. */
function isCode(cell: CellJson): boolean {
  const body = withoutMarker(cell);
  return body !== '' && !body.startsWith('{') && !/^(['"]?)[^\n'"]+\.json\1$/i.test(body);
}

/** TensorFlow.js code (`tf.sequential`, `tf.layers.*`, `const` / `import … from`), which Python is not. */
function isTfjs(cell: CellJson): boolean {
  return /\btf\.(?:sequential|model|layers)\b|^\s*(?:const|let|var)\s|^\s*import\s.*\sfrom\s+['"]/m.test(withoutMarker(cell));
}

function withoutMarker(cell: CellJson): string {
  return bodyOf(cell.cell_type, text(cell)).trim();
}

/** `metadata.smlt.variable`, else `model` when the cell assigns it, else the last name assigned. */
export function variableOf(cell: CellJson, language: 'python' | 'typescript'): string {
  const wanted = cell.metadata?.smlt?.variable;
  if (wanted !== undefined) {
    if (!/^[A-Za-z_$][\w$]*$/.test(wanted)) throw new CaptureError(`metadata.smlt.variable "${wanted}" is not a variable name.`);
    return wanted;
  }
  const pattern = language === 'python' ? /^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)/gm : /^\s*(?:const|let|var)\s+([A-Za-z_$][\w$]*)/gm;
  const names = [...withoutMarker(cell).matchAll(pattern)].map((m) => m[1]!);
  return names.includes('model') ? 'model' : (names.at(-1) ?? 'model');
}

/** `x:` and `y:` naming variables (not `.npy` files) in a data cell, or undefined. */
function kernelArrayNames(cell: CellJson): { x: string; y: string } | undefined {
  const fields: Record<string, string> = {};
  for (const line of withoutMarker(cell).split('\n')) {
    const m = /^\s*(x|y)\s*:\s*([^#\s]+)\s*$/.exec(line);
    if (m) fields[m[1]!] = m[2]!;
  }
  const isName = (v: string | undefined) => v !== undefined && /^[A-Za-z_][\w.]*$/.test(v) && !/\.npy$/i.test(v);
  return isName(fields.x) && isName(fields.y) ? { x: fields.x!, y: fields.y! } : undefined;
}

/** Python that writes the array as base64 `.npy` bytes (float32 features, int32 or float32 labels). */
function npyCode(name: string): string {
  return [
    'def __smlt_npy(value):',
    '    import base64, io, numpy',
    '    a = numpy.asarray(value)',
    "    a = a.astype(numpy.float32 if a.dtype.kind == 'f' else numpy.int32 if a.dtype.kind in 'iub' else a.dtype)",
    '    buf = io.BytesIO()',
    '    numpy.save(buf, a, allow_pickle=False)',
    "    return base64.b64encode(buf.getvalue()).decode('ascii')",
    `__import__('sys').stdout.write(__smlt_npy(${name}))`,
    'del __smlt_npy'
  ].join('\n');
}

/** The kernel's stdout for `code`, which reads `what`; a failure says what to do. */
async function runForOutput(kernel: Kernel.IKernelConnection, code: string, what: string): Promise<string> {
  try {
    return await runInKernel(kernel, code);
  } catch (err) {
    if (!(err instanceof KernelCodeError)) throw err;
    throw new CaptureError(
      `Could not read ${what} from the kernel (${err.message}). Run the notebook's cells first, ` +
        'or name the variable in the cell metadata as {"smlt": {"variable": "..."}}.'
    );
  }
}
