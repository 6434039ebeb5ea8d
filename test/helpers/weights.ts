/** Reading a run's trained weights back from its checkpoints, to compare runs. */
import assert from 'node:assert/strict';
import type { ObjectStore } from '@smlt/shared/backends/ports';
import { buildModel } from '@smlt/shared/model/build';
import { createOptimizer, decodeState } from '@smlt/shared/model/training';
import { runKeys } from '@smlt/shared/run/layout';
import type { Captured } from '@smlt/shared/run/orchestrator';

/** The model's weights in the checkpoint after `epoch` epochs of run `runId`. */
export async function weightsAfter(store: ObjectStore, captured: Captured, runId: string, epoch: number): Promise<Float32Array[]> {
  const state = await store.get(runKeys(runId).checkpoint(epoch));
  assert.ok(state, `checkpoint ${epoch} of ${runId}`);
  const model = await buildModel(captured.spec.model.topology);
  const optimizer = createOptimizer(captured.spec.training);
  await decodeState(state, model, optimizer);
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return weights;
}

/** The largest absolute difference between two sets of weights of the same model. */
export function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length, 'same number of weight tensors');
  let max = 0;
  a.forEach((w, i) => w.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i]![j]!)))));
  return max;
}
