/**
 * The end of a drive, however it ended: the model and report written from the last checkpoint
 * (a failed or cancelled run keeps both), the final status saved, `run_finished` emitted with
 * the run's training warnings (a loss that became NaN, a first epoch that did not learn).
 */
import { isSmltError } from '../errors.js';
import { readCheckpoint } from './checkpoints.js';
import type { EpochMetrics, FinalStatus } from './events.js';
import { writeRunOutputs } from './outputs.js';
import type { RunContext, TrainingData } from './run-context.js';
import type { RunResult } from './run-options.js';
import { trainingWarnings } from './training-health.js';

export interface RunEnd {
  status: FinalStatus;
  error?: { code: string; message: string };
}

/** How a drive that threw ended: cancelled when it was aborted, stopped by the budget, or failed. */
export function endOf(err: unknown, aborted: boolean): RunEnd {
  const error = isSmltError(err) ? err.toJSON() : { code: 'RUN_FAILED', message: String(err) };
  return aborted ? { status: 'cancelled' } : { status: isSmltError(err, 'BUDGET_EXHAUSTED') ? 'stopped-budget' : 'failed', error };
}

export async function finishRun(run: RunContext, data: TrainingData, end: RunEnd, metrics: EpochMetrics | undefined): Promise<RunResult> {
  const { store, keys, status, meter, log } = run;
  let final = end;
  run.chargeOrchestratorRequests();
  const costUsd = meter.breakdown().totalUsd;
  const warnings = trainingWarnings(status.epochs);
  let outputs: { modelPath?: string; reportPath?: string } = {};
  try {
    // A corrupt last checkpoint leaves the run without a model, but with its report and its own error.
    const checkpoint = await readCheckpoint(store, keys.checkpoint(status.epochsDone)).catch((err: unknown) => {
      if (!isSmltError(err, 'STORE_CORRUPT')) throw err;
      if (final.status === 'succeeded') final = { status: 'failed', error: err.toJSON() };
      return undefined;
    });
    outputs = await writeRunOutputs({
      manifest: run.manifest,
      status: { ...status, status: final.status, error: final.error, elapsedS: run.elapsedS(), cost: meter.toJSON() },
      spec: run.spec,
      checkpoint,
      withModel: status.epochsDone > 0,
      warnings,
    });
  } catch (err) {
    final = { status: 'failed', error: final.error ?? { code: 'RUN_FAILED', message: `Could not write the run's outputs: ${String(err)}` } };
  }
  data.evaluator.dispose();
  await run.saveStatus({ status: final.status, error: final.error });
  log.emit({
    type: 'run_finished',
    status: final.status,
    durationS: run.elapsedS(),
    costUsd,
    ...(metrics ? { metrics } : {}),
    ...outputs,
    ...(final.error ? { error: final.error } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  });
  await log.flush();
  return {
    runId: run.runId,
    status: final.status,
    metrics,
    durationS: run.elapsedS(),
    costUsd,
    ...outputs,
    ...(final.error ? { error: final.error } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
