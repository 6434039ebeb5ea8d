/** What the CLI prints after a Keras notebook's run or sweep. */
import { dirname } from 'node:path';
import { loadCellSource } from '../run/load-cell.js';
import type { RunService } from '../service/run-service.js';

/**
 * After a Keras notebook's run: the lines that put its weights into the notebook's model. `first`:
 * what the notebook must change before they fit (a sweep's winning layer settings).
 */
export async function printKerasLoad(service: RunService, runId: string, first?: string): Promise<void> {
  const artifacts = await service.artifacts(runId);
  if (!artifacts.modelVariable || !artifacts.modelPath) return;
  const cell = loadCellSource({ language: 'python', modelDir: dirname(artifacts.modelPath), runId, modelVariable: artifacts.modelVariable });
  const when = first ? `once its model has ${first} and its cells ran` : 'after its cells ran';
  process.stdout.write(`into Keras (in the notebook, ${when}):\n${cell.replace(/^/gm, '  ')}\n`);
}
