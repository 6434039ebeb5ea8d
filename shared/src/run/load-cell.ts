/**
 * The cell an editor inserts after a run to use the trained model in the notebook's language.
 * Python: the run's weights into the notebook's own Keras model, with the helper SMLT copies
 * into each Keras run folder (`shared/python/smlt_keras.py`; numpy only, no `tensorflowjs`).
 * JavaScript/TypeScript: the tfjs layers model, with the loader SMLT saves with. Pure string
 * work (no Node imports): the JupyterLab extension bundles it for the browser.
 */

/** What the Python helper is called in a run folder (run/outputs.ts copies it there). */
export const KERAS_HELPER_FILE = 'smlt_keras.py';

export interface LoadCellInput {
  /** The notebook's language, as its kernel or editor names it (python, typescript, ...). */
  language: string;
  /** The folder holding `model.json`, as the cell should spell it (relative to the notebook, or absolute). */
  modelDir: string;
  runId: string;
  /** The notebook's Keras model variable (`model.fit`'s receiver), for Python. */
  modelVariable?: string;
}

export function loadCellSource({ language, modelDir, runId, modelVariable }: LoadCellInput): string {
  if (language.toLowerCase() === 'python') {
    const runDir = parentOf(modelDir);
    const variable = modelVariable && /^[A-Za-z_][\w.]*$/.test(modelVariable) ? modelVariable : 'model';
    return [
      `# Trained by SMLT (run ${runId}): its weights into the Keras model \`${variable}\`; also saved as ${runDir}/model.keras`,
      'import sys',
      `sys.path.insert(0, ${JSON.stringify(runDir)})`,
      'from smlt_keras import load_weights',
      `load_weights(${variable}, ${JSON.stringify(runDir)})`,
    ].join('\n');
  }
  return [
    `// Trained by SMLT (run ${runId}): load the model it saved`,
    `import { loadLayersModelFromDir } from '@smlt/shared/model/save';`,
    '',
    `const trained = await loadLayersModelFromDir(${JSON.stringify(modelDir)});`,
    'trained.summary();',
  ].join('\n');
}

function parentOf(dir: string): string {
  const trimmed = dir.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  if (cut < 0) return '.';
  if (cut === 0) return '/';
  const parent = trimmed.slice(0, cut);
  return parent === '.' ? '.' : parent;
}
