/**
 * Whether a run trained at all, so that it does not end in a silent success: a training loss that
 * became NaN or infinite (weights that diverged), or a first epoch whose mean loss is no lower
 * than the loss the untrained model had at its first iteration (a model that does not learn: a
 * learning rate too high or too low, a saturating initializer, labels the loss cannot fit).
 */
import type { EpochMetrics } from './events.js';

/** Epoch 1 must bring its mean loss at least this far below the first iteration's… */
const MIN_FIRST_EPOCH_DROP = 0.01;
/** …when it has this many iterations (with fewer, a mean says little). */
const MIN_ITERATIONS = 4;

/** One sentence per problem, each saying what to check; empty when training looks healthy. */
export function trainingWarnings(epochs: readonly (EpochMetrics & { epoch: number; iterations: number })[]): string[] {
  const broken = epochs.find((e) => !Number.isFinite(e.loss));
  if (broken) {
    return [
      `The training loss was ${String(broken.loss)} in epoch ${broken.epoch + 1}: the weights diverged. ` +
        'Lower the learning rate, and check the data for NaN or infinite values.',
    ];
  }
  const first = epochs.find((e) => e.epoch === 0);
  const learnt = (e: NonNullable<typeof first>) => e.loss <= e.firstLoss! * (1 - MIN_FIRST_EPOCH_DROP);
  if (first && first.iterations >= MIN_ITERATIONS && first.firstLoss !== undefined && Number.isFinite(first.firstLoss) && !learnt(first)) {
    return [
      `The training loss did not go down in epoch 1 (${round(first.firstLoss)} at its first iteration, ${round(first.loss)} on average): ` +
        'the model is not learning. Check the learning rate, the initializers and that the labels fit the loss.',
    ];
  }
  return [];
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
