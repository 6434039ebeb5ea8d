/**
 * The notebook a command acts on: the `.ipynb` picked in the explorer, or the active notebook
 * editor's; and its content as the run service's in-memory source (unsaved edits included).
 */
import { basename, dirname, extname } from 'node:path';
import * as vscode from 'vscode';
import type { NotebookSource } from '@smlt/shared/service/run-service';
import { notebookJson } from './notebook-json';

export async function targetNotebook(arg: unknown): Promise<vscode.NotebookDocument> {
  const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeNotebookEditor?.notebook.uri;
  if (!uri) throw new Error('Open a Jupyter notebook (.ipynb) first, or run the command from a .ipynb file in the explorer.');
  if (uri.scheme !== 'untitled' && extname(uri.path).toLowerCase() !== '.ipynb') {
    throw new Error(`${basename(uri.path)} is not a Jupyter notebook: choose a .ipynb file.`);
  }
  const doc = vscode.workspace.notebookDocuments.find((d) => d.uri.toString() === uri.toString()) ?? (await vscode.workspace.openNotebookDocument(uri));
  // Picked in the explorer: show it, so the panel opens beside it and edits are visible.
  if (arg instanceof vscode.Uri && vscode.window.activeNotebookEditor?.notebook !== doc) await vscode.window.showNotebookDocument(doc, { preview: false });
  return doc;
}

export function notebookSource(doc: vscode.NotebookDocument): NotebookSource {
  if (doc.uri.scheme !== 'file') throw new Error('Save the notebook to a file first: runs keep their outputs in a .smlt folder beside it.');
  const path = doc.uri.fsPath;
  const cells = doc.getCells().map((cell) => ({
    kind: cell.kind === vscode.NotebookCellKind.Code ? ('code' as const) : ('markdown' as const),
    text: cell.document.getText(),
    metadata: cell.metadata as Record<string, unknown>,
  }));
  return {
    notebook: notebookJson(cells, doc.metadata as Record<string, unknown>),
    notebookDir: dirname(path),
    name: basename(path, extname(path)),
    notebookPath: path,
  };
}

export const notebookName = (doc: vscode.NotebookDocument): string => basename(doc.uri.path, extname(doc.uri.path));
