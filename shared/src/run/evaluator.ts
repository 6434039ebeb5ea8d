/** Evaluates checkpoints on the held-out split in the orchestrator's process. */
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset.js';
import { buildModel } from '../model/build.js';
import { createOptimizer, decodeState, evaluate } from '../model/training.js';
import type { JobSpec } from '../spec/job-spec.js';
import type { EpochMetrics } from './events.js';

export class Evaluator {
  private constructor(
    private readonly spec: JobSpec,
    private readonly model: Awaited<ReturnType<typeof buildModel>> | undefined,
    private readonly x: tf.Tensor | undefined,
    private readonly y: tf.Tensor | undefined,
  ) {}

  static async create(spec: JobSpec, holdout: Dataset): Promise<Evaluator> {
    if (holdout.count === 0) return new Evaluator(spec, undefined, undefined, undefined);
    const model = await buildModel(spec.model.topology);
    const x = tf.tensor(holdout.x, [holdout.count, ...holdout.xShape]);
    const y = tf.tensor(holdout.y, [holdout.count, ...holdout.yShape]);
    return new Evaluator(spec, model, x, y);
  }

  async evaluate(state: Uint8Array): Promise<Omit<EpochMetrics, 'loss'>> {
    if (!this.model || !this.x || !this.y) return {};
    const optimizer = createOptimizer(this.spec.training);
    await decodeState(state, this.model, optimizer);
    optimizer.dispose();
    const result = await evaluate(this.model, this.spec.training, this.x, this.y);
    return { valLoss: result.loss, ...(result.accuracy !== undefined ? { valAccuracy: result.accuracy } : {}) };
  }

  dispose(): void {
    this.model?.dispose();
    this.x?.dispose();
    this.y?.dispose();
  }
}
