/** "Insert load cell": appends a cell that loads the run's trained model to its notebook. */
import * as vscode from 'vscode';
import type { RunSession } from '../runs/run-session';
import { loadCellText } from '../runs/load-cell';

export async function insertLoadCell(session: RunSession): Promise<void> {
  const modelPath = session.finished?.modelPath;
  const uri = session.notebookUri;
  if (!modelPath || !uri) throw new Error(`Run ${session.runId} saved no model to load.`);
  const doc = vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === uri.toString()) ?? (await vscode.workspace.openNotebookDocument(uri));
  const language = doc.getCells().find((c) => c.kind === vscode.NotebookCellKind.Code)?.document.languageId ?? 'typescript';
  // A Keras notebook's run names the model its fit was called on: the cell loads into that one.
  const { modelVariable } = await session.service.artifacts(session.runId);
  const text = loadCellText(modelPath, uri.fsPath, session.runId, language, modelVariable);
  const cell = new vscode.NotebookCellData(vscode.NotebookCellKind.Code, text, language);
  const edit = new vscode.WorkspaceEdit();
  const index = doc.cellCount;
  edit.set(uri, [vscode.NotebookEdit.insertCells(index, [cell])]);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error(`Could not add the load cell to ${uri.fsPath}.`);
  const range = new vscode.NotebookRange(index, index + 1);
  const editor = await vscode.window.showNotebookDocument(doc, { selections: [range] });
  editor.revealRange(range, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
}
