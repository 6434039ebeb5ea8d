/**
 * SMLT's data, config and sweep cells hold YAML, which a Python kernel cannot run (`x: x_train.npy` is
 * an annotation that fails, `fromLogits: true` a NameError), so in a Python notebook they would
 * break Run All. Raw cells are never executed and SMLT reads them as it reads code cells, so in a
 * Python notebook SMLT's YAML cells become raw cells (source, tags and id kept), and says so.
 */
import { Notification } from '@jupyterlab/apputils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import { hasRole } from '../../shared/dist/capture/cell-roles.js';
import { declaredLanguage, kernelLanguage } from './kernel';

/** Makes the notebook's SMLT YAML code cells raw cells when it runs Python; how many it changed. */
export async function yamlCellsToRaw(panel: NotebookPanel): Promise<number> {
  const model = panel.content.model;
  if (!model || ((await kernelLanguage(panel)) ?? declaredLanguage(panel)) !== 'python') return 0;
  const shared = model.sharedModel;
  const indices = shared.cells.flatMap((cell, index) => {
    if (cell.cell_type !== 'code') return [];
    const found = { cellType: 'code', text: cell.getSource(), tags: cell.getMetadata('tags') };
    return hasRole(found, 'data') || hasRole(found, 'config') || hasRole(found, 'sweep') ? [index] : [];
  });
  if (indices.length === 0) return 0;
  shared.transact(() => {
    for (const index of indices) {
      const cell = shared.getCell(index);
      const json = cell.toJSON();
      shared.deleteCell(index);
      shared.insertCell(index, { cell_type: 'raw', source: json.source, metadata: json.metadata, id: json.id });
    }
  });
  Notification.info(
    `SMLT made ${indices.length === 1 ? 'its data/config/sweep cell a Raw cell' : `its ${indices.length} data/config/sweep cells Raw cells`}: they hold YAML, which Python cannot run, and Run All now skips them. Save the notebook to keep it.`,
    { autoClose: 8000 }
  );
  return indices.length;
}
