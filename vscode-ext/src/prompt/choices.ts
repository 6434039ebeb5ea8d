/**
 * What the train prompt asks (objective, deadline, budget, backend), how each answer is checked,
 * and how the answers become a RunRequest (the backend's own checks, e.g. AWS settings missing,
 * come back from the service's estimate). Pure: no `vscode` import, so it is unit-tested.
 * Durations and dollars are parsed by the CLI's parsers, so `20m` or `$1.50` mean the same here.
 */
import { parseDuration, parseUsd } from '@smlt/shared/cli/parse';
import type { NotebookSource, RunRequest } from '@smlt/shared/service/run-service';
import type { SweepRequest } from '@smlt/shared/sweep/run-sweep';

export type Objective = 'time' | 'cost';
export type BackendName = 'local' | 'aws';

export interface TrainChoices {
  objective: Objective;
  /** As typed: `90s`, `20m`, `1h`, seconds, or empty for no deadline. */
  deadline: string;
  /** As typed: `1.50`, `$0.10`, or empty for no budget. */
  budget: string;
  backend: BackendName;
}

export const DEFAULT_CHOICES: TrainChoices = { objective: 'time', deadline: '', budget: '', backend: 'local' };

/** The reason a deadline is refused, or undefined when it is fine (empty means "no deadline"). */
export function deadlineProblem(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  return problemOf(() => parseDuration(text, 'Deadline'));
}

/** The reason a budget is refused, or undefined when it is fine (empty means "no budget"). */
export function budgetProblem(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  return problemOf(() => parseUsd(text, 'Budget'));
}

/**
 * The request for these choices. The objective is always given, so the adaptive scheduler picks
 * the worker count and memory (within the deadline and budget when given). `python` runs a Keras
 * notebook's cells (python-interpreter.ts).
 * Throws on a choice the prompt should have refused.
 */
export function requestFromChoices(choices: TrainChoices, source: NotebookSource, python?: string): RunRequest {
  const problem = deadlineProblem(choices.deadline) ?? budgetProblem(choices.budget);
  if (problem) throw new Error(problem);
  return {
    source,
    ...(python ? { python } : {}),
    backend: choices.backend,
    objective: choices.objective,
    ...(choices.deadline.trim() ? { deadlineS: parseDuration(choices.deadline) } : {}),
    ...(choices.budget.trim() ? { budgetUsd: parseUsd(choices.budget) } : {}),
  };
}

/**
 * Choices read back from storage (workspaceState survives versions and hand edits): anything
 * that is not a valid choice falls back to its default instead of reaching the prompt.
 */
export function choicesFromStored(stored: unknown): TrainChoices {
  const value = (stored && typeof stored === 'object' ? stored : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 40) : '');
  const deadline = text(value.deadline);
  const budget = text(value.budget);
  return {
    objective: value.objective === 'cost' ? 'cost' : 'time',
    deadline: deadlineProblem(deadline) ? '' : deadline,
    budget: budgetProblem(budget) ? '' : budget,
    backend: value.backend === 'aws' ? 'aws' : 'local',
  };
}

/** A one-line summary for titles and notifications: "fastest, deadline 20m, no budget" (a sweep's without the objective). */
export function describeChoices(choices: TrainChoices, withObjective = true): string {
  return [
    ...(withObjective ? [choices.objective === 'cost' ? 'cheapest' : 'fastest'] : []),
    choices.deadline.trim() ? `deadline ${choices.deadline.trim()}` : 'no deadline',
    choices.budget.trim() ? `budget $${choices.budget.trim().replace(/^\$/, '')}` : 'no budget',
    choices.backend === 'aws' ? 'AWS Lambda' : 'local workers',
  ].join(', ');
}

/** The sweep these choices ask for (a saved notebook's path; its `smlt:sweep` cell says the rest). */
export function sweepRequestFromChoices(choices: TrainChoices, notebook: string, python?: string): SweepRequest {
  const { backend, python: interpreter, deadlineS, budgetUsd } = requestFromChoices(choices, { path: notebook }, python);
  return { notebook, ...(interpreter ? { python: interpreter } : {}), ...(backend ? { backend } : {}), ...(deadlineS ? { deadlineS } : {}), ...(budgetUsd ? { budgetUsd } : {}) };
}

function problemOf(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
