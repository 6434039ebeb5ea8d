import { parse } from 'yaml';
import { SmltError, errorMessage, quoted, type SmltErrorCode } from '../errors.js';
import type { RoleCell } from './notebook.js';

/**
 * Reads a data or config cell: YAML `key: value` lines, or JSON (which YAML also reads, as it
 * does `{ epochs: 2 }` written like a JavaScript object). A cell holding a single value, such
 * as `builtin:mnist`, comes back as that string.
 */
export function parseCellMapping(cell: RoleCell, code: SmltErrorCode): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = parse(cell.source) as unknown;
  } catch (err) {
    // The YAML parser recurses: a deeply nested value overflows its stack (it reports that as a parse error).
    const deep = err instanceof RangeError || /Maximum call stack size exceeded/.test(errorMessage(err));
    const why = deep ? 'it nests lists or mappings too deeply to read' : errorMessage(err);
    throw new SmltError(code, `${cell.label} is not valid YAML or JSON: ${why}. Write one "key: value" per line.`, { cause: err });
  }
  if (value === null || value === undefined) return {};
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new SmltError(code, `${cell.label} must hold "key: value" lines (YAML) or a JSON object, not ${quoted(value)}.`);
}
