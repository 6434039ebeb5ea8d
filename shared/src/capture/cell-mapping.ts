import { parse } from 'yaml';
import { SmltError, errorMessage, type SmltErrorCode } from '../errors.js';
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
    throw new SmltError(
      code,
      `${cell.label} is not valid YAML or JSON: ${errorMessage(err)}. Write one "key: value" per line.`,
      { cause: err },
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new SmltError(code, `${cell.label} must hold "key: value" lines (YAML) or a JSON object, not ${JSON.stringify(value)}.`);
}
