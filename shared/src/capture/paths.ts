import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SmltError, type SmltErrorCode } from '../errors.js';

/**
 * Resolves a file named in a notebook cell against the notebook's folder. Capture reads only
 * inside that folder, so a shared notebook cannot make SMLT read (and upload) other files.
 */
export function resolveInNotebookDir(notebookDir: string, path: string, code: SmltErrorCode, where: string): string {
  const folder = resolve(notebookDir);
  const full = resolve(folder, path);
  const rel = relative(folder, full);
  if (isAbsolute(path) || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new SmltError(
      code,
      `${where} names "${path}", which is outside the notebook's folder ${folder}. ` +
        `Put the file in that folder (or below it) and give its path relative to the notebook.`,
    );
  }
  return full;
}
