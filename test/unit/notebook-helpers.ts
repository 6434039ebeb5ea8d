// Builds small notebooks for capture tests, in memory or in a temporary folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoleCell } from '@smlt/shared/capture/notebook';

export interface CellInput {
  source: string | string[];
  tags?: string[];
  type?: 'code' | 'markdown' | 'raw';
}

export function notebook(...cells: CellInput[]): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((c, i) => ({
      cell_type: c.type ?? 'code',
      id: `c${i}`,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      ...(c.type === 'code' || c.type === undefined ? { outputs: [], execution_count: null } : {}),
    })),
  };
}

/** A fresh folder holding `files` (name → content). */
export function folderWith(files: Record<string, string | Uint8Array> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'smlt-capture-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A model cell as `findRoleCells` would return it. */
export function modelCell(source: string, index = 1): RoleCell {
  return { role: 'model', index, source, firstLine: 1, label: `cell ${index + 1} (smlt:model)` };
}

export const IRIS_MLP = `// smlt: model
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }),
  tf.layers.dense({ units: 3, activation: 'softmax' }),
] });`;
