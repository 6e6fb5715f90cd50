/**
 * Private temporary folders for data a reader must have as a file (a `.keras` archive's HDF5
 * entry, which libhdf5 reads by path): created with mkdtemp in os.tmpdir() (mode 0700), removed by
 * their owner, and removed when the process exits for any that are left.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

const live = new Set<string>();
let exitHookInstalled = false;

function removeAllAtExit(): void {
  for (const dir of live) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Exit handlers must not throw; the folder stays in the system's temporary directory.
    }
  }
  live.clear();
}

export async function createTempDir(prefix: string): Promise<string> {
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), prefix));
  } catch (e) {
    throw new WeightWatcherError(
      'E_IO',
      `cannot create a temporary folder in ${tmpdir()} (${errorMessage(e)}); set TMPDIR to a writable folder`,
      { cause: e },
    );
  }
  live.add(dir);
  if (!exitHookInstalled) {
    process.on('exit', removeAllAtExit);
    exitHookInstalled = true;
  }
  return dir;
}

/** Remove a folder made by createTempDir (idempotent). */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  // Forget it only once it is gone, so the exit hook retries a failed removal.
  const gone = await stat(dir).then(
    () => false,
    () => true,
  );
  if (gone) live.delete(dir);
}
