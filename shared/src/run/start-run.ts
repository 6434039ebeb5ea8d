/** The start of a drive: `run_started`, the status marked running, and the watcher (heartbeat, cancel requests, `progress`) started. */
import type { RunContext, TrainingData } from './run-context.js';
import { type RunWatcher, watchRun } from './watch.js';

export async function startRun(run: RunContext, data: TrainingData): Promise<RunWatcher> {
  const { spec, options, store, input } = run;
  run.log.emit({
    type: 'run_started',
    name: spec.name,
    paramCount: spec.model.paramCount,
    trainSamples: data.trainSet.count,
    holdoutSamples: data.holdout.count,
    epochs: spec.training.epochs,
    platform: options.platform.name,
    store: store.url,
    ...(input.resumedFrom !== undefined ? { resumedFromEpoch: input.resumedFrom } : {}),
  });
  await run.saveStatus({ status: 'running' });
  return watchRun(store, run.keys, () => run.abort.abort(), () => run.saveStatus(), run.log);
}
