/**
 * The Python that runs a Keras notebook's cells up to `model.fit` when it has no SMLT cells: the
 * `smlt.python` setting, else the interpreter the Python extension has selected for the
 * notebook, else none (the run service then tries the notebook's kernelspec, $SMLT_PYTHON and
 * python3).
 */
import * as vscode from 'vscode';

/** The part of the Python extension's API (ms-python.python) used here. */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(environment: { path: string }): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  };
}

export async function notebookPython(doc: vscode.NotebookDocument): Promise<string | undefined> {
  const setting = vscode.workspace.getConfiguration('smlt', doc.uri).get<string>('python')?.trim();
  if (setting) return setting;
  const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!extension) return undefined;
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    const environments = api?.environments;
    if (!environments) return undefined;
    const resolved = await environments.resolveEnvironment(environments.getActiveEnvironmentPath(doc.uri));
    return resolved?.executable.uri?.fsPath;
  } catch {
    // The Python extension is there but not ready or not working: fall back to the service's choice.
    return undefined;
  }
}
