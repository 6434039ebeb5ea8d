/**
 * The cell "Insert load cell" adds below the notebook: it loads the trained model with the same
 * loader SMLT saves with, from a path relative to the notebook (kernels start in its folder).
 */
import { dirname, isAbsolute, relative, sep } from 'node:path';

export function loadCellText(modelJsonPath: string, notebookPath: string, runId: string): string {
  if (!isAbsolute(modelJsonPath)) throw new Error(`The model path must be absolute (got "${modelJsonPath}").`);
  const modelDir = dirname(modelJsonPath);
  let dir = relative(dirname(notebookPath), modelDir).split(sep).join('/');
  if (dir === '') dir = '.';
  else if (!dir.startsWith('../')) dir = `./${dir}`;
  return [
    `// Trained by SMLT (run ${runId}): load the model it saved`,
    `import { loadLayersModelFromDir } from '@smlt/shared/model/save';`,
    '',
    `const trained = await loadLayersModelFromDir(${JSON.stringify(dir)});`,
    'trained.summary();',
  ].join('\n');
}
