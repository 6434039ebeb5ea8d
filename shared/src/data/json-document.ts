import { errorMessage } from '../errors.js';

/**
 * JSON from a notebook, a model file or a data file. V8 parses any depth, but what reads the
 * result recurses (JSON.stringify, the sandbox's IPC, tfjs deserialization, SMLT's own walks) and
 * would end in "Maximum call stack size exceeded"; nothing SMLT reads nests anywhere near this deep.
 */
export const MAX_JSON_DEPTH = 100;

/** The parsed value, or why it cannot be used ("its JSON does not parse (...)"). */
export function parseJsonDocument(text: string): { value: unknown } | { problem: string; cause?: unknown } {
  let value: unknown;
  try {
    // A byte-order mark (some Windows editors write one) is not JSON.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
  } catch (err) {
    return { problem: `its JSON does not parse (${errorMessage(err)})`, cause: err };
  }
  return nestedDeeperThan(value, MAX_JSON_DEPTH)
    ? { problem: `its JSON nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep` }
    : { value };
}

/** Iterative, so that checking the depth cannot overflow the stack itself. */
function nestedDeeperThan(root: unknown, maxDepth: number): boolean {
  const stack: [object, number][] = typeof root === 'object' && root !== null ? [[root, 1]] : [];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? (node as unknown[]) : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child as object, depth + 1]);
    }
  }
  return false;
}
