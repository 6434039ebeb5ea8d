import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { SmltError, quoted, type SmltErrorCode } from '../errors.js';

/**
 * Resolves a file named in a notebook cell against the notebook's folder. Capture reads only
 * inside that folder, so a shared notebook cannot make SMLT read (and upload) other files: not by
 * its path, and not through a symbolic link (the file's or a folder's on the way) that leads out.
 */
export function resolveInNotebookDir(notebookDir: string, path: string, code: SmltErrorCode, where: string): string {
  const folder = resolve(notebookDir);
  const full = resolve(folder, path);
  const outside = (how: string) =>
    new SmltError(
      code,
      `${where} names ${quoted(path)}, which ${how}outside the notebook's folder ${folder}. ` +
        `Put the file in that folder (or below it) and give its path relative to the notebook.`,
    );
  if (isAbsolute(path) || !within(folder, full)) throw outside('is ');
  // A path that does not exist (yet) is read by no one: reading it fails as not found.
  const real = realPath(full);
  if (real !== undefined && !within(realPath(folder) ?? folder, real)) throw outside(`is a link to ${real}, `);
  return real ?? full;
}

function within(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
