/**
 * How local clients find `smlt serve`: its URL and token in `$SMLT_HOME/serve.json`, readable by
 * this user only (0600 in a 0700 folder) — the token is the only thing between a local process
 * of another user and your runs.
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { SmltError } from '../errors.js';
import { smltHome } from '../home.js';
import { isProcessAlive } from '../processes.js';

export interface ServeInfo {
  url: string;
  token: string;
  /** The server's process, so a file left by a crashed server is recognised as stale. */
  pid: number;
  startedAt: string;
}

const serveInfoSchema = z.object({
  url: z.url(),
  token: z.string().min(1),
  pid: z.number().int().positive(),
  startedAt: z.string(),
});

export const serveInfoPath = (): string => join(smltHome(), 'serve.json');

/** Written whole (temp file, then rename), created with mode 0600 so the token is never readable by others. */
export async function writeServeInfo(info: ServeInfo, path = serveInfoPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await rm(tmp, { force: true }); // left by a crash; 'wx' below will not follow or reuse it
    await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(tmp, 0o600); // in case the umask was unusual
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new SmltError('OPTION_INVALID', `Cannot write the server's token file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The running server's URL and token; undefined when there is no file or its server is gone.
 * Refuses a file that others can read: its token is no secret any more.
 */
export async function readServeInfo(path = serveInfoPath()): Promise<ServeInfo | undefined> {
  let text: string;
  try {
    if (process.platform !== 'win32' && ((await stat(path)).mode & 0o077) !== 0) {
      throw new SmltError(
        'OPTION_INVALID',
        `${path} is readable by other users, so its token cannot be trusted; delete it and restart smlt serve (or chmod 600 it).`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: ServeInfo;
  try {
    parsed = serveInfoSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new SmltError('OPTION_INVALID', `${path} is not a token file of smlt serve; delete it and restart smlt serve.`, { cause: err });
  }
  return isProcessAlive(parsed.pid) ? parsed : undefined;
}

/** Removes the file if it is still this server's (a newer server may have replaced it). */
export async function removeServeInfo(token: string, path = serveInfoPath()): Promise<void> {
  try {
    const current = JSON.parse(await readFile(path, 'utf8')) as Partial<ServeInfo>;
    if (current.token === token) await rm(path, { force: true });
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}

