/**
 * The planner's estimate for the choices being typed, fetched from the run service as the user
 * answers (debounced, cached per choice set, only the latest answer counts).
 */
import { type TrainChoices, budgetProblem, deadlineProblem } from './choices';
import type { PromptEstimate } from './estimate-text';

export type EstimateState<E = PromptEstimate> =
  | { kind: 'pending' }
  | { kind: 'ready'; estimate: E }
  | { kind: 'failed'; message: string };

const DEBOUNCE_MS = 400;

export class LiveEstimate<E = PromptEstimate> {
  private readonly cache = new Map<string, Promise<E>>();
  private latestKey = '';
  private timer: NodeJS.Timeout | undefined;
  current: EstimateState<E> = { kind: 'pending' };

  constructor(
    private readonly estimate: (choices: TrainChoices) => Promise<E>,
    private readonly onChange: (state: EstimateState<E>) => void,
  ) {}

  /** Asks for the estimate of `choices` (invalid ones are skipped: the input box says why). */
  update(choices: TrainChoices, immediately = false): void {
    if (deadlineProblem(choices.deadline) || budgetProblem(choices.budget)) return;
    const key = keyOf(choices);
    if (key === this.latestKey) return;
    this.latestKey = key;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fetch(key, choices), immediately || this.cache.has(key) ? 0 : DEBOUNCE_MS);
  }

  /** The estimate of exactly these choices, waiting for it. */
  async settle(choices: TrainChoices): Promise<EstimateState<E>> {
    this.update(choices, true);
    const key = keyOf(choices);
    clearTimeout(this.timer);
    return this.fetch(key, choices);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private async fetch(key: string, choices: TrainChoices): Promise<EstimateState<E>> {
    if (!this.cache.has(key)) {
      const request = this.estimate(choices);
      request.catch(() => this.cache.delete(key)); // a failure is not remembered: retry next time
      this.cache.set(key, request);
    }
    if (key === this.latestKey && this.current.kind !== 'pending') this.set({ kind: 'pending' });
    let state: EstimateState<E>;
    try {
      state = { kind: 'ready', estimate: await this.cache.get(key)! };
    } catch (err) {
      state = { kind: 'failed', message: (err as Error).message };
    }
    if (key === this.latestKey) this.set(state);
    return state;
  }

  private set(state: EstimateState<E>): void {
    this.current = state;
    this.onChange(state);
  }
}

function keyOf(choices: TrainChoices): string {
  return JSON.stringify([choices.objective, choices.deadline.trim(), choices.budget.trim(), choices.backend]);
}
