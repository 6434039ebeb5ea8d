/**
 * An open notebook's cells (unsaved edits included) as nbformat 4 JSON, for the shared capture
 * code (`RunRequest.source = { notebook, notebookDir, name }`). Pure: the caller reads the
 * cells from the `NotebookDocument`.
 */

export interface CellSnapshot {
  kind: 'code' | 'markdown';
  text: string;
  /** The cell's metadata as VS Code's ipynb serializer keeps it. */
  metadata: Record<string, unknown> | undefined;
}

export interface NotebookJson {
  nbformat: 4;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Array<{ cell_type: 'code' | 'markdown'; source: string[]; metadata: Record<string, unknown>; outputs?: []; execution_count?: null }>;
}

export function notebookJson(cells: readonly CellSnapshot[], notebookMetadata: Record<string, unknown> | undefined): NotebookJson {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: ipynbMetadata(notebookMetadata),
    cells: cells.map((cell) => {
      const metadata = ipynbMetadata(cell.metadata);
      const source = splitLines(cell.text);
      return cell.kind === 'code'
        ? { cell_type: 'code', source, metadata, outputs: [], execution_count: null }
        : { cell_type: 'markdown', source, metadata };
    }),
  };
}

/**
 * The ipynb metadata (tags live here) inside VS Code's: recent versions keep it under
 * `metadata`, older ones under `custom.metadata`; anything else is taken as is.
 */
export function ipynbMetadata(vscodeMetadata: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!vscodeMetadata) return {};
  const nested = vscodeMetadata.metadata;
  if (isRecord(nested)) return nested;
  const custom = vscodeMetadata.custom;
  if (isRecord(custom) && isRecord(custom.metadata)) return custom.metadata;
  return Object.fromEntries(Object.entries(vscodeMetadata).filter(([key]) => key !== 'custom' && key !== 'metadata'));
}

/** nbformat's multi-line string: lines keep their "\n", the last has none. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  return text.split(/(?<=\n)/);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
