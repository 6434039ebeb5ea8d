/**
 * What a run leaves for the user in its output folder: the trained model as a tfjs layers model
 * (`model/model.json` + weights) and `report.json` (per-epoch configuration, loss, metrics, time,
 * cost). Written on every ending — succeeded, failed or cancelled — from the last checkpoint.
 */
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { faultPoint } from '../backends/fault-injection.js';
import { costBreakdown } from '../cost/cost.js';
import { buildModel } from '../model/build.js';
import { saveLayersModel } from '../model/save.js';
import { createOptimizer, decodeState } from '../model/training.js';
import type { JobSpec } from '../spec/job-spec.js';
import { KERAS_HELPER_FILE } from './load-cell.js';
import type { RunManifest, RunStatusRecord } from './run-state.js';

const KERAS_HELPER = fileURLToPath(new URL('../../python/smlt_keras.py', import.meta.url));

export interface RunReport {
  v: 1;
  runId: string;
  name: string;
  notebook?: string;
  status: RunStatusRecord['status'];
  error?: RunStatusRecord['error'];
  createdAt: string;
  durationS: number;
  costUsd: number;
  /** As if on AWS Lambda (x86_64) + S3, at the configured memory. */
  cost: RunStatusRecord['cost'];
  model: { paramCount: number; origin: JobSpec['model']['origin'] };
  training: JobSpec['training'];
  epochs: RunStatusRecord['epochs'];
  metrics?: { loss: number; valLoss?: number; valAccuracy?: number };
  modelPath?: string;
  /** It ran but did not train well: why, and what to check. */
  warnings?: string[];
}

export async function writeRunOutputs(input: {
  manifest: RunManifest;
  status: RunStatusRecord;
  spec: JobSpec;
  checkpoint: Uint8Array | undefined;
  withModel: boolean;
  /** The run's training warnings (run/training-health.ts), for the report. */
  warnings: readonly string[];
}): Promise<{ modelPath?: string; reportPath: string }> {
  const { manifest, status, spec } = input;
  await mkdir(manifest.outDir, { recursive: true });
  let modelPath: string | undefined;
  if (input.withModel && input.checkpoint) {
    const model = await buildModel(spec.model.topology);
    const optimizer = createOptimizer(spec.training);
    await decodeState(input.checkpoint, model, optimizer);
    modelPath = (await faultPoint(`write ${manifest.outDir}/model`, () => saveLayersModel(model, join(manifest.outDir, 'model')))).modelJsonPath;
    model.dispose();
    optimizer.dispose();
    // A Keras model's weights go back into Keras with this helper (no tensorflowjs needed).
    if (spec.model.origin === 'keras-fit' || spec.model.origin === 'keras-json') {
      await copyFile(KERAS_HELPER, join(manifest.outDir, KERAS_HELPER_FILE));
    }
  }
  const { totalUsd } = costBreakdown(status.cost);
  const last = status.epochs.at(-1);
  const report: RunReport = {
    v: 1,
    runId: manifest.runId,
    name: manifest.name,
    notebook: manifest.notebook,
    status: status.status,
    ...(status.error ? { error: status.error } : {}),
    createdAt: manifest.createdAt,
    durationS: status.elapsedS,
    costUsd: totalUsd,
    cost: status.cost,
    model: { paramCount: spec.model.paramCount, origin: spec.model.origin },
    training: spec.training,
    epochs: status.epochs,
    ...(last ? { metrics: { loss: last.loss, valLoss: last.valLoss, valAccuracy: last.valAccuracy } } : {}),
    ...(modelPath ? { modelPath } : {}),
  };
  if (input.warnings.length > 0) report.warnings = [...input.warnings];
  const reportPath = join(manifest.outDir, 'report.json');
  await faultPoint(`write ${reportPath}`, async () => {
    await writeFile(`${reportPath}.tmp`, JSON.stringify(report, null, 2));
    await rename(`${reportPath}.tmp`, reportPath);
  });
  return { ...(modelPath ? { modelPath } : {}), reportPath };
}
