/**
 * Atomic file output: write to a temporary file in the same folder, then rename it over the target,
 * so a reader never sees a half-written file and an interrupted run leaves the old file intact.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WeightWatcherError, errorMessage } from './errors.js';

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new WeightWatcherError('E_IO', `${path}: cannot write (${errorMessage(e)})`, { file: path, cause: e });
  }
}
