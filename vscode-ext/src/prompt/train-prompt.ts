/**
 * The inline prompt: a multi-step quick input (objective, deadline, budget, backend, review) with
 * the live estimate on every step. An infeasible combination is explained, with the fix, on the
 * review step, and cannot be launched from there. Back buttons return to a step. A run and a
 * sweep ask the same way; a sweep skips the objective (its own is the metric to optimise).
 */
import * as vscode from 'vscode';
import { type BackendName, type Objective, type TrainChoices, budgetProblem, deadlineProblem, describeChoices } from './choices';
import type { PromptEstimate } from './estimate-text';
import { type EstimateState, LiveEstimate } from './live-estimate';

export interface TrainPromptOptions {
  /** "Train mnist" */
  title: string;
  initial: TrainChoices;
  estimate(choices: TrainChoices): Promise<PromptEstimate>;
  /** `estimate`: the review step ends with the estimate instead of a Start button. */
  mode: 'train' | 'sweep' | 'estimate';
}

type Step = 'objective' | 'deadline' | 'budget' | 'backend' | 'review';
const ALL_STEPS: Step[] = ['objective', 'deadline', 'budget', 'backend', 'review'];
const START = { train: '$(rocket) Start training', sweep: '$(beaker) Start sweep', estimate: '$(check) Done' } as const;
type Outcome = { next: Step | 'done' } | { cancelled: true };

interface Item<T> extends vscode.QuickPickItem {
  value: T;
}

export async function promptTrainChoices(options: TrainPromptOptions): Promise<TrainChoices | undefined> {
  const choices: TrainChoices = { ...options.initial };
  const steps = options.mode === 'sweep' ? ALL_STEPS.filter((s) => s !== 'objective') : ALL_STEPS;
  let refresh: (state: EstimateState) => void = () => {};
  const live = new LiveEstimate(options.estimate, (state) => refresh(state));
  try {
    live.update(choices, true);
    let step: Step = steps[0]!;
    for (;;) {
      const outcome = await runStep(step);
      if ('cancelled' in outcome) return undefined;
      if (outcome.next === 'done') return choices;
      step = outcome.next;
    }
  } finally {
    live.dispose();
  }

  function title(step: Step): string {
    return `SMLT: ${options.title} (${steps.indexOf(step) + 1}/${steps.length})`;
  }

  function estimateText(state: EstimateState): string {
    if (state.kind === 'pending') return 'Estimating time and cost…';
    if (state.kind === 'failed') return `Cannot estimate: ${state.message}`;
    const { problem, line } = state.estimate;
    return problem ? `Not feasible: ${problem}` : `Estimate: ${line}`;
  }

  function runStep(step: Step): Promise<Outcome> {
    const back = steps[steps.indexOf(step) - 1];
    switch (step) {
      case 'objective':
        return pick<Objective>(step, 'What should the scheduler minimise?', [
          { label: '$(zap) Fastest', description: 'finish as soon as possible', value: 'time', picked: choices.objective === 'time' },
          { label: '$(credit-card) Cheapest', description: 'spend as little as possible', value: 'cost', picked: choices.objective === 'cost' },
        ], (value) => {
          choices.objective = value;
          return 'deadline';
        }, back);
      case 'deadline':
        return input(step, 'Deadline: 90s, 20m, 1h or seconds; empty for none', choices.deadline, deadlineProblem, (value) => {
          choices.deadline = value;
        }, 'budget', back);
      case 'budget':
        return input(step, 'Budget in US dollars (as if on AWS Lambda), e.g. 0.50; empty for none', choices.budget, budgetProblem, (value) => {
          choices.budget = value;
        }, 'backend', back);
      case 'backend':
        return pick<BackendName>(step, 'Where should the workers run?', [
          { label: '$(server-process) Local worker processes', description: 'this machine, priced as if on AWS Lambda', value: 'local', picked: choices.backend === 'local' },
          { label: '$(cloud) AWS Lambda', description: 'the functions and bucket `smlt deploy` set up (smlt.config.json)', value: 'aws', picked: choices.backend === 'aws' },
        ], (value) => {
          choices.backend = value;
          return 'review';
        }, back);
      case 'review':
        return review(back);
    }
  }

  function pick<T>(step: Step, placeholder: string, items: Item<T>[], accept: (value: T) => Step | 'done', back?: Step): Promise<Outcome> {
    const quickPick = vscode.window.createQuickPick<Item<T>>();
    quickPick.title = title(step);
    quickPick.items = items;
    quickPick.activeItems = items.filter((i) => i.picked).slice(0, 1);
    quickPick.ignoreFocusOut = true;
    if (back) quickPick.buttons = [vscode.QuickInputButtons.Back];
    const show = (state: EstimateState) => (quickPick.placeholder = `${placeholder}  —  ${estimateText(state)}`);
    return runInput(quickPick, show, back, (resolve) => [
      // The estimate follows the highlighted item, before it is chosen.
      quickPick.onDidChangeActive(([active]) => {
        if (active) live.update({ ...choices, [step]: active.value });
      }),
      quickPick.onDidAccept(() => {
        const selected = quickPick.selectedItems[0] ?? quickPick.activeItems[0];
        if (selected) resolve({ next: accept(selected.value) });
      }),
    ]);
  }

  function input(step: Step, prompt: string, value: string, problemOf: (text: string) => string | undefined, store: (value: string) => void, next: Step, back?: Step): Promise<Outcome> {
    const box = vscode.window.createInputBox();
    box.title = title(step);
    box.value = value;
    box.placeholder = prompt;
    box.ignoreFocusOut = true;
    if (back) box.buttons = [vscode.QuickInputButtons.Back];
    const show = (state: EstimateState) => (box.prompt = `${prompt}. ${estimateText(state)}`);
    return runInput(box, show, back, (resolve) => [
      box.onDidChangeValue((text) => {
        box.validationMessage = problemOf(text);
        if (!box.validationMessage) live.update({ ...choices, [step as 'deadline' | 'budget']: text });
      }),
      box.onDidAccept(() => {
        const problem = problemOf(box.value);
        box.validationMessage = problem;
        if (problem) return;
        store(box.value.trim());
        resolve({ next });
      }),
    ]);
  }

  async function review(back?: Step): Promise<Outcome> {
    const quickPick = vscode.window.createQuickPick<Item<Step | 'done' | 'found'>>();
    quickPick.title = `${title('review')}: ${describeChoices(choices, options.mode !== 'sweep')}`;
    quickPick.ignoreFocusOut = true;
    if (back) quickPick.buttons = [vscode.QuickInputButtons.Back];
    const change: Item<Step>[] = (
      [
        { label: '$(edit) Change the deadline', value: 'deadline' },
        { label: '$(edit) Change the budget', value: 'budget' },
        { label: '$(edit) Change the objective', value: 'objective' },
        { label: '$(edit) Change the backend', value: 'backend' },
      ] satisfies Item<Step>[]
    ).filter((item) => steps.includes(item.value));
    const show = (state: EstimateState) => {
      quickPick.busy = state.kind === 'pending';
      quickPick.placeholder = estimateText(state);
      if (state.kind !== 'ready') {
        quickPick.items = state.kind === 'failed' ? change : [];
        return;
      }
      const { problem, line } = state.estimate;
      // What the notebook was read as (for a Keras notebook: model, data, loss, optimizer, fit), to check before starting.
      const found: Item<'found'>[] = state.estimate.found.map((item) => ({ ...item, value: 'found' }));
      const foundSection = found.length > 0 ? [{ label: 'found in the notebook', kind: vscode.QuickPickItemKind.Separator, value: 'found' as const }, ...found] : [];
      quickPick.items = problem
        ? [...change.map((item) => ({ ...item, detail: item.value === 'deadline' || item.value === 'budget' ? problem : undefined })), ...foundSection]
        : [
            { label: START[options.mode], detail: line, value: 'done' as const },
            ...change,
            ...foundSection,
          ];
    };
    // The estimate of exactly these answers; it reaches `show` through the live estimate.
    void live.settle(choices);
    return runInput(quickPick, show, back, (resolve) =>
      quickPick.onDidAccept(() => {
        const selected = quickPick.selectedItems[0] ?? quickPick.activeItems[0];
        if (selected && selected.value !== 'found') resolve({ next: selected.value });
      }),
    );
  }

  /** Shows `quick`, keeps its estimate text current, resolves on accept, Back or hide. */
  function runInput(
    quick: vscode.QuickInput & { onDidTriggerButton: vscode.Event<vscode.QuickInputButton> },
    show: (state: EstimateState) => void,
    back: Step | undefined,
    wire: (resolve: (outcome: Outcome) => void) => vscode.Disposable | vscode.Disposable[],
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const subscriptions: vscode.Disposable[] = [];
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        refresh = () => {};
        for (const d of subscriptions.splice(0)) d.dispose();
        quick.dispose();
        resolve(outcome);
      };
      refresh = show;
      show(live.current);
      subscriptions.push(
        ...[wire(finish)].flat(),
        quick.onDidTriggerButton((button) => {
          if (button === vscode.QuickInputButtons.Back && back) finish({ next: back });
        }),
        quick.onDidHide(() => finish({ cancelled: true })),
      );
      quick.show();
    });
  }
}
