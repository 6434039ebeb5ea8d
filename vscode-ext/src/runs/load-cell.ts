/**
 * The cell "Insert load cell" adds below the notebook (the text is shared with JupyterLab:
 * `@smlt/shared/run/load-cell`), with the model's folder relative to the notebook (kernels
 * start in its folder).
 */
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { loadCellSource } from '@smlt/shared/run/load-cell';

export function loadCellText(
  modelJsonPath: string,
  notebookPath: string,
  runId: string,
  language = 'typescript',
  modelVariable?: string,
): string {
  if (!isAbsolute(modelJsonPath)) throw new Error(`The model path must be absolute (got "${modelJsonPath}").`);
  let dir = relative(dirname(notebookPath), dirname(modelJsonPath)).split(sep).join('/');
  if (dir === '') dir = '.';
  else if (!dir.startsWith('../')) dir = `./${dir}`;
  return loadCellSource({ language, modelDir: dir, runId, ...(modelVariable ? { modelVariable } : {}) });
}
