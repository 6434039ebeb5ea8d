import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { SmltError, isSmltError, quoted } from '../errors.js';
import { BUILTIN_DATASETS, loadBuiltin, loadCsv, loadJson, loadNpy, type RawData } from '../data/loaders.js';
import { parseCellMapping } from './cell-mapping.js';
import type { RoleCell } from './notebook.js';
import { resolveInNotebookDir } from './paths.js';

/**
 * The data cell names the data: `source: builtin:mnist` (or just `builtin:mnist`), a CSV or
 * JSON file with `label: <column>`, or NumPy arrays as `x: features.npy` and `y: labels.npy`.
 * Files are relative to the notebook and must stay inside its folder.
 */

export interface DataRequest {
  /** As the user wrote it, for the spec and for messages. */
  source: string;
  label?: string;
  x?: string;
  y?: string;
}

const DATA_FIELDS = ['source', 'label', 'x', 'y'] as const;

/**
 * Reads the cell's fields and checks them all at once, so a cell with several mistakes is
 * fixed in one go: files that are not there come first (the most basic problem; what else the
 * cell says about them cannot be judged yet), then unknown or malformed fields, then fields that
 * do not go together. One error lists them all.
 */
export function parseDataCell(cell: RoleCell, notebookDir: string): DataRequest {
  const parsed = parseCellMapping(cell, 'DATA_INVALID');
  const fields: Record<string, unknown> = typeof parsed === 'string' ? { source: parsed } : parsed;
  const text = (key: (typeof DATA_FIELDS)[number]) => (typeof fields[key] === 'string' && fields[key].trim() !== '' ? fields[key] : undefined);
  const missing: string[] = [];
  const problems: string[] = [];
  for (const key of ['x', 'y', 'source'] as const) {
    const path = text(key);
    if (path === undefined || /^builtin:/i.test(path) || extname(path) === '') continue;
    try {
      const file = resolveInNotebookDir(notebookDir, path, 'DATA_INVALID', cell.label);
      if (!existsSync(file)) missing.push(`"${key}" names ${path}, which does not exist in ${notebookDir}`);
    } catch (err) {
      problems.push(isSmltError(err) ? err.message.replace(`${cell.label} names`, `"${key}" names`).replace(/\.$/, '') : String(err));
    }
  }
  for (const [key, value] of Object.entries(fields)) {
    if (!(DATA_FIELDS as readonly string[]).includes(key)) problems.push(`unknown field ${quoted(key)} (valid fields: ${DATA_FIELDS.join(', ')})`);
    else if (typeof value !== 'string' || value.trim() === '') problems.push(`"${key}" must be a name or a path, not ${quoted(value)}`);
  }
  const [source, label, x, y] = DATA_FIELDS.map(text);
  let request: DataRequest | undefined;
  if (x !== undefined || y !== undefined) {
    if (x === undefined || y === undefined) problems.push('give both "x: <features>.npy" and "y: <labels>.npy"');
    for (const path of [x, y]) {
      if (path !== undefined && extname(path).toLowerCase() !== '.npy') problems.push(`"x" and "y" name .npy files; ${path} is not one`);
    }
    if (x !== undefined && y !== undefined) request = { source: source ?? `${x} + ${y}`, x, y };
  } else if (source === undefined) {
    if (!('source' in fields)) {
      problems.push(
        'it names no data: write e.g. "source: builtin:mnist", "source: iris.csv" with "label: species", or "x: x.npy" and "y: y.npy"',
      );
    }
  } else {
    problems.push(...sourceProblems(source, label));
    request = label === undefined ? { source } : { source, label };
  }
  if (missing.length > 0 || problems.length > 0 || request === undefined) {
    const all = [...missing, ...problems];
    const listed = all.length === 1 ? all[0] : all.map((p, i) => `(${i + 1}) ${p}`).join('; ');
    throw new SmltError(missing.length > 0 ? 'DATA_UNREADABLE' : 'DATA_INVALID', `${cell.label}: ${listed}.`);
  }
  return request;
}

/** What is wrong with a `source` (and its `label`) on its own. */
function sourceProblems(source: string, label: string | undefined): string[] {
  if (/^builtin:/i.test(source)) {
    const name = source.slice('builtin:'.length).trim().toLowerCase();
    return (BUILTIN_DATASETS as readonly string[]).includes(name) ? [] : [unknownSource(source)];
  }
  switch (extname(source).toLowerCase()) {
    case '.csv':
      return label === undefined ? ['a CSV source needs "label: <column>" naming the label column'] : [];
    case '.json':
      return [];
    case '.npy':
      return ['give NumPy data as "x: <features>.npy" and "y: <labels>.npy"'];
    default:
      return [unknownSource(source)];
  }
}

function unknownSource(source: string): string {
  return (
    `unknown data source ${quoted(source)}: use ${BUILTIN_DATASETS.map((b) => `builtin:${b}`).join(', ')}, ` +
    'or a .csv, .json or .npy file beside the notebook'
  );
}

/** Loads what a checked request (`parseDataCell`) names. */
export async function loadDataCell(request: DataRequest, cell: RoleCell, notebookDir: string): Promise<RawData> {
  const file = (path: string) => resolveInNotebookDir(notebookDir, path, 'DATA_INVALID', cell.label);
  if (request.x !== undefined && request.y !== undefined) return loadNpy(file(request.x), request.x, file(request.y), request.y);
  const { source, label } = request;
  const builtin = /^builtin:(.*)$/i.exec(source);
  if (builtin) return loadBuiltin(builtin[1].trim().toLowerCase());
  return extname(source).toLowerCase() === '.csv' ? loadCsv(file(source), source, label!) : loadJson(file(source), source, label);
}
