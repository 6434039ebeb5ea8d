/**
 * SMLT: Train on Serverless and SMLT: Estimate Time and Cost. Both capture the open notebook
 * (unsaved edits included) and ask the prompt; train then starts the run and shows its panel,
 * its progress notification and the status bar.
 */
import * as vscode from 'vscode';
import type { ExtensionDeps } from '../deps';
import { notebookName, notebookSource, targetNotebook } from '../notebook-target';
import { notebookPython } from '../python-interpreter';
import { LivePanel } from '../panel/live-panel';
import { runPanelContent } from '../panel/run-panel';
import { type TrainChoices, choicesFromStored, describeChoices, requestFromChoices } from '../prompt/choices';
import { estimateLine, infeasibleText, runPromptEstimate } from '../prompt/estimate-text';
import { promptTrainChoices } from '../prompt/train-prompt';
import { showRunProgress } from '../runs/run-notifications';
import { cancelRun, panelActions } from './runs';

const choicesKey = (doc: vscode.NotebookDocument) => `smlt.choices:${doc.uri.toString()}`;

export async function train(deps: ExtensionDeps, arg: unknown): Promise<void> {
  const doc = await targetNotebook(arg);
  if (!(await trusted(doc))) return;
  const service = await deps.service();
  const python = await notebookPython(doc);
  const choices = await ask(deps, doc, 'train', python);
  if (!choices) return;
  // Captured again now: the cells may have changed while the prompt was open.
  const { runId } = await service.start(requestFromChoices(choices, notebookSource(doc), python));
  const session = deps.sessions.attach(runId, service, { notebookUri: doc.uri });
  LivePanel.show(deps.context.extensionUri, runPanelContent(session), panelActions(deps));
  showRunProgress(session, notebookName(doc), (id) => cancelRun(deps, id));
}

export async function estimate(deps: ExtensionDeps, arg: unknown): Promise<void> {
  const doc = await targetNotebook(arg);
  if (!(await trusted(doc))) return;
  const service = await deps.service();
  const python = await notebookPython(doc);
  const choices = await ask(deps, doc, 'estimate', python);
  if (!choices) return;
  const result = await service.estimate(requestFromChoices(choices, notebookSource(doc), python));
  const problem = infeasibleText(result);
  const text = `SMLT: ${notebookName(doc)} (${describeChoices(choices)}): ${estimateLine(result)}`;
  if (problem) void vscode.window.showWarningMessage(`${text}. Not feasible: ${problem}`);
  else void vscode.window.showInformationMessage(text);
}

async function ask(deps: ExtensionDeps, doc: vscode.NotebookDocument, mode: 'train' | 'estimate', python: string | undefined): Promise<TrainChoices | undefined> {
  const { workspaceState } = deps.context;
  const service = await deps.service();
  const choices = await promptTrainChoices({
    title: `${mode === 'train' ? 'Train' : 'Estimate'} ${notebookName(doc)}`,
    initial: choicesFromStored(workspaceState.get(choicesKey(doc))),
    estimate: (c) => service.estimate(requestFromChoices(c, notebookSource(doc), python)).then(runPromptEstimate),
    mode,
  });
  if (choices) await workspaceState.update(choicesKey(doc), choices);
  return choices;
}

/** Capture runs the notebook's model cell: in an untrusted workspace, only after the user agrees. */
export async function trusted(doc: vscode.NotebookDocument): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const answer = await vscode.window.showWarningMessage(
    `SMLT runs the model cell of ${notebookName(doc)} on this machine to capture the model. This workspace is not trusted: run its code anyway?`,
    { modal: true },
    'Run the model cell',
  );
  return answer === 'Run the model cell';
}
