/**
 * How a notebook cell says which SMLT role it has: a tag in `metadata.tags` (`smlt:model`,
 * `smlt:data`, `smlt:config`, `smlt:sweep`, any case) or a marker comment alone on its first non-blank line
 * (`// smlt: model`, `# SMLT:model`) in a code or raw cell — never in Markdown, where
 * "# SMLT: model" is a heading. One definition for the capture here and for the editors'
 * extensions, so a cell one of them takes for the model cell is the one the other trains.
 * Browser-safe: no Node imports (the JupyterLab extension bundles it).
 */
export const CELL_ROLES = ['model', 'data', 'config', 'sweep'] as const;
export type CellRole = (typeof CELL_ROLES)[number];

const MARKER = /^\s*(?:\/\/|#)\s*smlt\s*:\s*(model|data|config|sweep)\s*$/i;
const TAG = /^smlt:(model|data|config|sweep)$/i;

/** The tag that gives a cell `role`. */
export function roleTag(role: CellRole): string {
  return `smlt:${role}`;
}

/** The roles a cell's `metadata.tags` give it (anything that is not a list of strings gives none). */
export function taggedRoles(tags: unknown): Set<CellRole> {
  if (!Array.isArray(tags)) return new Set();
  return new Set(tags.flatMap((tag) => (typeof tag === 'string' ? [TAG.exec(tag.trim())?.[1]?.toLowerCase()] : [])).filter(isRole));
}

/** The marker of a cell and the index of its line among `lines`, or undefined when it has none. */
export function markerOf(cellType: string, lines: readonly string[]): { role: CellRole; line: number } | undefined {
  if (cellType === 'markdown') return undefined;
  const line = lines.findIndex((l) => l.trim() !== '');
  const role = line >= 0 ? MARKER.exec(lines[line]!)?.[1]?.toLowerCase() : undefined;
  return isRole(role) ? { role, line } : undefined;
}

/** The cell's text without its marker line (unchanged when it has none). */
export function withoutMarker(cellType: string, text: string): string {
  const lines = text.split(/\r?\n/);
  const marker = markerOf(cellType, lines);
  return marker ? lines.slice(marker.line + 1).join('\n') : text;
}

/** Whether a cell has `role`, by tag or by marker. */
export function hasRole(cell: { cellType: string; text: string; tags: unknown }, role: CellRole): boolean {
  return taggedRoles(cell.tags).has(role) || markerOf(cell.cellType, cell.text.split(/\r?\n/))?.role === role;
}

function isRole(value: string | undefined): value is CellRole {
  return (CELL_ROLES as readonly string[]).includes(value ?? '');
}
