import { SmltError } from '../errors.js';
import { readBoundedFile } from '../data/bounded-file.js';
import { parseJsonDocument } from '../data/json-document.js';
import { type CellRole, markerOf, roleTag, taggedRoles } from './cell-roles.js';

/**
 * Finds SMLT's cells in an .ipynb (nbformat 4). A cell takes a role from a tag in
 * `metadata.tags` (`smlt:model`, `smlt:data`, `smlt:config`) or from a marker comment on its
 * first line (`// smlt: model`, `# SMLT:model`, ...), so it works in editors without tag UIs
 * (the rules: cell-roles.ts, shared with the editors' extensions).
 */

export { CELL_ROLES, type CellRole } from './cell-roles.js';

export interface RoleCell {
  role: CellRole;
  /** 0-based position in the notebook. */
  index: number;
  /** The cell's text without the marker line. */
  source: string;
  /** 1-based line of the cell where `source` starts (after a stripped marker line). */
  firstLine: number;
  /** How messages name the cell: "cell 3 (smlt:model)", numbered as users see cells. */
  label: string;
}

export interface NotebookCells {
  model: RoleCell;
  data: RoleCell;
  config?: RoleCell;
  /** A design sweep's search space and settings (sweep/sweep-cell.ts). */
  sweep?: RoleCell;
}

/**
 * Parsing costs about 3.5 times a notebook's size in memory (a 200 MB notebook of image outputs:
 * 700 MB), and its text must fit in one JavaScript string (512 MB).
 */
export const NOTEBOOK_MAX_BYTES = 256 * 2 ** 20;

export async function readNotebookFile(path: string): Promise<unknown> {
  const bytes = await readBoundedFile(path, {
    name: `the notebook ${path}`,
    code: 'NOTEBOOK_UNREADABLE',
    maxBytes: NOTEBOOK_MAX_BYTES,
    what: 'notebooks',
    tooLarge: 'Clear its outputs (Edit > Clear Outputs of All Cells), save it, and train it again.',
  });
  const parsed = parseJsonDocument(bytes.toString('utf8'));
  if ('problem' in parsed) {
    throw new SmltError('NOTEBOOK_INVALID', `${path} is not a Jupyter notebook: ${parsed.problem}.`, { cause: parsed.cause });
  }
  return parsed.value;
}

export function findRoleCells(notebook: unknown, where = 'The notebook'): NotebookCells {
  return requireRoleCells(roleCellsOf(notebook, where), where);
}

/** The role cells the notebook has, none required. */
export function roleCellsOf(notebook: unknown, where = 'The notebook'): Partial<NotebookCells> {
  const cells = notebookCells(notebook, where);
  const found: Partial<Record<CellRole, RoleCell>> = {};
  cells.forEach((cell, index) => {
    const roleCell = roleOf(cell, index);
    if (!roleCell) return;
    const previous = found[roleCell.role];
    if (previous) {
      throw new SmltError(
        'NOTEBOOK_INVALID',
        `${where} has two smlt:${roleCell.role} cells: ${previous.label} and ${roleCell.label}. ` +
          `Keep the tag or marker on one of them.`,
      );
    }
    found[roleCell.role] = roleCell;
  });
  return found;
}

export function requireRoleCells(found: Partial<NotebookCells>, where: string): NotebookCells {
  if (!found.model) {
    throw new SmltError(
      'MODEL_CELL_MISSING',
      `${where} has no model cell. Tag the cell that defines the model with smlt:model, or start it ` +
        `with the comment "// smlt: model" (JavaScript) or "# smlt: model" (Python). A Python notebook needs ` +
        `no tags when it trains a Keras model with model.fit(...).`,
    );
  }
  if (!found.data) {
    throw new SmltError(
      'DATA_CELL_MISSING',
      `${where} has no data cell. Add a cell tagged smlt:data (or starting with "# smlt: data") ` +
        `holding e.g. "source: builtin:mnist".`,
    );
  }
  return { model: found.model, data: found.data, config: found.config, sweep: found.sweep };
}

/** The code cells in order, with their text (for running a Python notebook's cells); a sweep cell is YAML, not code. */
export function codeCells(notebook: unknown, where = 'The notebook'): { index: number; source: string }[] {
  return notebookCells(notebook, where).flatMap((cell, index) =>
    cell.cell_type === 'code' && roleOf(cell, index)?.role !== 'sweep' ? [{ index, source: cellText(cell, index) }] : [],
  );
}

/**
 * A notebook whose kernel is Python (by its metadata, or, without any, by cells that import
 * Keras or TensorFlow and call fit): one SMLT trains by running it to its model.fit.
 */
export function isPythonNotebook(notebook: unknown): boolean {
  const metadata = (notebook as { metadata?: Record<string, unknown> } | null)?.metadata ?? {};
  const kernelspec = metadata.kernelspec as { language?: unknown } | undefined;
  const languageInfo = metadata.language_info as { name?: unknown } | undefined;
  const language = kernelspec?.language ?? languageInfo?.name;
  if (typeof language === 'string') return language.toLowerCase() === 'python';
  const code = codeCells(notebook).map((c) => c.source).join('\n');
  return /^\s*(?:import|from)\s+(?:keras|tensorflow)\b/m.test(code) && /\.fit\(/.test(code);
}

interface RawCell {
  cell_type?: unknown;
  source?: unknown;
  metadata?: { tags?: unknown };
}

function notebookCells(notebook: unknown, where: string): RawCell[] {
  const nb = notebook as { nbformat?: unknown; cells?: unknown } | null;
  if (typeof nb !== 'object' || nb === null || Array.isArray(nb)) {
    throw new SmltError('NOTEBOOK_INVALID', `${where} is not a Jupyter notebook (expected a JSON object).`);
  }
  if (nb.nbformat !== 4) {
    throw new SmltError(
      'NOTEBOOK_INVALID',
      `${where} is not an nbformat 4 notebook (nbformat is ${JSON.stringify(nb.nbformat) ?? 'missing'}). ` +
        `Open and save it with a current Jupyter or VS Code to upgrade it.`,
    );
  }
  if (!Array.isArray(nb.cells) || !nb.cells.every((c) => typeof c === 'object' && c !== null)) {
    throw new SmltError('NOTEBOOK_INVALID', `${where} has no valid "cells" list.`);
  }
  return nb.cells as RawCell[];
}

function roleOf(cell: RawCell, index: number): RoleCell | undefined {
  const lines = cellText(cell, index).split(/\r?\n/);
  const marker = markerOf(String(cell.cell_type), lines);
  const roles = new Set([...taggedRoles(cell.metadata?.tags), ...(marker ? [marker.role] : [])]);
  if (roles.size === 0) return undefined;
  if (roles.size > 1) {
    throw new SmltError(
      'NOTEBOOK_INVALID',
      `Cell ${index + 1} is marked with several roles (${[...roles].map(roleTag).join(', ')}). ` +
        `Give each cell one role.`,
    );
  }
  const [role] = roles;
  const body = marker ? lines.slice(marker.line + 1) : lines;
  return {
    role: role!,
    index,
    source: body.join('\n'),
    firstLine: marker ? marker.line + 2 : 1,
    label: `cell ${index + 1} (${roleTag(role!)})`,
  };
}

/** nbformat allows `source` as one string or a list of lines (each keeping its "\n"). */
function cellText(cell: RawCell, index: number): string {
  const { source } = cell;
  if (typeof source === 'string') return source;
  if (Array.isArray(source) && source.every((s) => typeof s === 'string')) return source.join('');
  if (source === undefined) return '';
  throw new SmltError('NOTEBOOK_INVALID', `Cell ${index + 1} has a "source" that is neither text nor a list of lines.`);
}

