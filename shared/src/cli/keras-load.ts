/** What the CLI prints after a Keras notebook's run or sweep. */
import { dirname } from 'node:path';
import { loadCellSource } from '../run/load-cell.js';
import type { RunService } from '../service/run-service.js';

/** After a Keras notebook's run: the lines that put its weights into the notebook's model. */
export async function printKerasLoad(service: RunService, runId: string): Promise<void> {
  const artifacts = await service.artifacts(runId);
  if (!artifacts.modelVariable || !artifacts.modelPath) return;
  const cell = loadCellSource({ language: 'python', modelDir: dirname(artifacts.modelPath), runId, modelVariable: artifacts.modelVariable });
  process.stdout.write(`into Keras (in the notebook, after its cells ran):\n${cell.replace(/^/gm, '  ')}\n`);
}
