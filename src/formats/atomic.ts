/**
 * Outputs appear whole or not at all: a file (or folder) is written under a temporary name in the
 * target's own folder (so the final rename stays on one file system) and renamed into place once
 * complete; on failure the temporary is removed and the target is untouched.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

/** A fresh hidden name next to `target`. */
export function temporarySibling(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function ioError(path: string, action: string, e: unknown): WeightWatcherError {
  return e instanceof WeightWatcherError ? e : new WeightWatcherError('E_IO', `${path}: cannot ${action} (${errorMessage(e)})`, { file: path, cause: e });
}

/** Let `fill` write a temporary file, then rename it to `target` (replacing an existing file). */
export async function writeFileAtomically(target: string, fill: (temporary: string) => Promise<void>): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new WeightWatcherError('E_USAGE', `${target}: is a folder, expected a file path`, { file: target });
  const tmp = temporarySibling(target);
  try {
    await fill(tmp);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw ioError(target, 'write', e);
  }
}

/**
 * Let `fill` populate a temporary folder, then rename it to `target`. An existing target must be an
 * empty folder (it is replaced); a non-empty one is refused rather than merged into.
 */
export async function writeFolderAtomically(target: string, fill: (temporary: string) => Promise<void>): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new WeightWatcherError('E_USAGE', `${target}: exists and is not a folder`, { file: target });
  if (existing && (await readdir(target)).length > 0) throw new WeightWatcherError('E_USAGE', `${target}: folder exists and is not empty; choose a new output folder`, { file: target });
  await mkdir(dirname(target), { recursive: true }).catch((e) => { throw ioError(dirname(target), 'create the folder', e); });
  const tmp = temporarySibling(target);
  try {
    await mkdir(tmp);
    await fill(tmp);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw ioError(target, 'write', e);
  }
}
