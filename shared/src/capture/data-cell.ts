import { extname } from 'node:path';
import { SmltError } from '../errors.js';
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

export function parseDataCell(cell: RoleCell): DataRequest {
  const parsed = parseCellMapping(cell, 'DATA_INVALID');
  const fields = typeof parsed === 'string' ? { source: parsed } : parsed;
  for (const [key, value] of Object.entries(fields)) {
    if (!(DATA_FIELDS as readonly string[]).includes(key)) {
      throw new SmltError('DATA_INVALID', `${cell.label}: unknown field "${key}". Valid fields: ${DATA_FIELDS.join(', ')}.`);
    }
    if (typeof value !== 'string' || value.trim() === '') {
      throw new SmltError('DATA_INVALID', `${cell.label}: "${key}" must be a name or a path, not ${JSON.stringify(value)}.`);
    }
  }
  const { source, label, x, y } = fields as Partial<Record<(typeof DATA_FIELDS)[number], string>>;
  if (x !== undefined || y !== undefined) {
    if (x === undefined || y === undefined) {
      throw new SmltError('DATA_INVALID', `${cell.label}: give both "x: <features>.npy" and "y: <labels>.npy".`);
    }
    return { source: source ?? `${x} + ${y}`, x, y };
  }
  if (source === undefined) {
    throw new SmltError(
      'DATA_INVALID',
      `${cell.label} names no data. Write e.g. "source: builtin:mnist", "source: iris.csv" with ` +
        `"label: species", or "x: x.npy" and "y: y.npy".`,
    );
  }
  return label === undefined ? { source } : { source, label };
}

export async function loadDataCell(request: DataRequest, cell: RoleCell, notebookDir: string): Promise<RawData> {
  const file = (path: string) => resolveInNotebookDir(notebookDir, path, 'DATA_INVALID', cell.label);
  if (request.x !== undefined && request.y !== undefined) {
    for (const path of [request.x, request.y]) {
      if (extname(path).toLowerCase() !== '.npy') {
        throw new SmltError('DATA_INVALID', `${cell.label}: "x" and "y" name .npy files; ${path} is not one.`);
      }
    }
    return loadNpy(file(request.x), request.x, file(request.y), request.y);
  }
  const { source, label } = request;
  const builtin = /^builtin:(.*)$/i.exec(source);
  if (builtin) return loadBuiltin(builtin[1].trim().toLowerCase());
  switch (extname(source).toLowerCase()) {
    case '.csv':
      if (label === undefined) {
        throw new SmltError('DATA_INVALID', `${cell.label}: a CSV source needs "label: <column>" naming the label column.`);
      }
      return loadCsv(file(source), source, label);
    case '.json':
      return loadJson(file(source), source, label);
    case '.npy':
      throw new SmltError('DATA_INVALID', `${cell.label}: give NumPy data as "x: <features>.npy" and "y: <labels>.npy".`);
    default:
      throw new SmltError(
        'DATA_INVALID',
        `${cell.label}: unknown data source "${source}". Use ${BUILTIN_DATASETS.map((b) => `builtin:${b}`).join(', ')}, ` +
          `or a .csv, .json or .npy file beside the notebook.`,
      );
  }
}
