import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { SmltError, type SmltErrorCode, errorMessage, isSmltError } from '../errors.js';

/**
 * Reads a file that a notebook names (or the notebook itself) by its type first and within a
 * stated size: a FIFO, device, socket or folder is refused from its stat and never opened (a FIFO
 * blocks its reader until a writer comes, /dev/zero never ends), and a file over its limit is
 * refused before a byte of it is read.
 */

export interface FileLimit {
  /** How messages name the file, e.g. "the data file x.csv (/work/x.csv)". */
  name: string;
  code: SmltErrorCode;
  maxBytes: number;
  /** What the limit is for, e.g. "CSV and JSON data". */
  what: string;
  /** What to do with a larger file. */
  tooLarge: string;
}

const MB = 2 ** 20;

export async function readBoundedFile(file: string, limit: FileLimit): Promise<Buffer> {
  const refuse = (reason: string, cause?: unknown) =>
    new SmltError(limit.code, `Cannot read ${limit.name}: ${reason}`, cause === undefined ? undefined : { cause });
  const check = (stats: Stats): number => {
    const type = specialType(stats);
    if (type) throw refuse(`it is ${type}, not a regular file. Name a regular file (SMLT never opens pipes or devices).`);
    if (stats.size > limit.maxBytes) {
      const mb = (bytes: number) => Math.ceil(bytes / MB).toLocaleString('en-US');
      throw refuse(`it is ${mb(stats.size)} MB, over the ${mb(limit.maxBytes)} MB limit for ${limit.what}. ${limit.tooLarge}`);
    }
    return stats.size;
  };
  let handle: FileHandle | undefined;
  try {
    check(await stat(file));
    // Non-blocking, should the path have become a FIFO since the stat; the opened file is checked again.
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const size = check(await handle.stat());
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(bytes, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return bytes.subarray(0, read);
  } catch (err) {
    throw isSmltError(err) ? err : refuse(errorMessage(err), err);
  } finally {
    await handle?.close();
  }
}

function specialType(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'a special file';
}
