/**
 * Whether a run trained at all, so that it does not end in a silent success: a training loss that
 * became NaN or infinite (weights that diverged), or a run that ends with a loss no lower than
 * the untrained model's at its first iteration (a model that does not learn: a learning rate too
 * high or too low, a saturating initializer, labels the loss cannot fit). The end is judged by
 * the last epoch's held-out loss (the final weights), else its mean training loss: an epoch's
 * mean can exceed its first iteration while the model learns (a regression's early overshoot).
 */
import type { EpochMetrics } from './events.js';

/** The run must end with its loss at least this far below the first iteration's… */
const MIN_DROP = 0.01;
/** …when its first epoch has this many iterations (with fewer there is little to judge). */
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
  const last = epochs.at(-1);
  if (!first || !last || first.iterations < MIN_ITERATIONS || first.firstLoss === undefined || !Number.isFinite(first.firstLoss)) return [];
  const end = last.valLoss !== undefined && Number.isFinite(last.valLoss) ? last.valLoss : last.loss;
  if (end <= first.firstLoss * (1 - MIN_DROP)) return [];
  const where = end === last.valLoss ? 'on the held-out split' : 'in training';
  return [
    `The loss did not go down: ${round(first.firstLoss)} at the first iteration, ${round(end)} ${where} after epoch ${last.epoch + 1}. ` +
      'The model is not learning: check the learning rate, the initializers and that the labels fit the loss.',
  ];
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
