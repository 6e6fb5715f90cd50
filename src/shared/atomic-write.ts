/**
 * Every file the package writes (CLI outputs, plots, reports, sweep reports, smoothed models) goes through here: the content is written to a temporary file in the
 * target's folder and renamed over the target, so a reader (or an interrupted run) sees the old
 * file or the new one, never a truncated mix. Temporary files still open when a signal arrives are
 * removed by `removeTemporaryFiles()` (the CLI's SIGINT/SIGTERM handler), then the process exits.
 * Folders are created with `makeDirectory` (never `mkdir -p`, which loops on some paths).
 */
import { closeSync, constants, rmSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { WeightWatcherError, errorMessage } from './errors.js';

/** Temporary files (and folders) being written, with the descriptor of a file still open. */
const pending = new Map<string, { fd?: number; folder?: boolean }>();
let counter = 0;

export type Content = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

function ioError(path: string, what: string, e: unknown): WeightWatcherError {
  const code = (e as NodeJS.ErrnoException).code;
  return new WeightWatcherError('E_IO', `${path}: cannot ${what} (${code ?? errorMessage(e)})`, { file: path, cause: e });
}

/** A name in `path`'s folder that no other writer uses: `.name.ww-<pid>-<n>.tmp`. */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.ww-${process.pid}-${++counter}.tmp`);
}

async function* chunks(content: Content): AsyncGenerator<Uint8Array> {
  if (typeof content === 'string') yield Buffer.from(content);
  else if (content instanceof Uint8Array) yield content;
  else for await (const c of content) yield typeof c === 'string' ? Buffer.from(c) : c;
}

/**
 * Write `content` to `path` atomically: temporary file in the same folder, flushed to disk, then
 * renamed over `path` (keeping an existing file's permissions). On failure the temporary file is
 * removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, content: Content): Promise<void> {
  const target = resolve(path);
  const tmp = temporaryName(target);
  let mode = 0o666;
  try {
    mode = (await stat(target)).mode & 0o7777;
  } catch {
    // a new file: default permissions (less the umask)
  }
  pending.set(tmp, {});
  let handle;
  try {
    handle = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, mode);
    pending.set(tmp, { fd: handle.fd });
    // Gather small pieces so a million-row JSON is a few hundred writes, not a million.
    let parts: Uint8Array[] = [];
    let size = 0;
    for await (const c of chunks(content)) {
      parts.push(c);
      size += c.length;
      if (size >= 1 << 20) {
        await handle.writeFile(Buffer.concat(parts));
        parts = [];
        size = 0;
      }
    }
    if (size) await handle.writeFile(Buffer.concat(parts));
    await handle.sync();
    await handle.close();
    handle = undefined;
    pending.set(tmp, {});
    await rename(tmp, target);
    pending.delete(tmp);
  } catch (e) {
    await handle?.close().catch(() => {});
    pending.delete(tmp);
    await unlink(tmp).catch(() => {});
    throw e instanceof WeightWatcherError ? e : ioError(path, 'write', e);
  }
}

/**
 * Remove the temporary files of writes still in progress (synchronously: this runs in a signal
 * handler just before the process exits). Their targets keep their previous content.
 */
export function removeTemporaryFiles(): void {
  for (const [tmp, { fd, folder }] of pending) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    try {
      rmSync(tmp, { recursive: folder === true, force: true });
    } catch {
      // never created, or already renamed
    }
  }
  pending.clear();
}

/**
 * Let `fill` write a temporary file by path (positioned writes, another library), then rename it
 * over `target`. On failure, or a signal, the temporary file is removed and `target` is untouched.
 */
export async function writeFileAtomically(target: string, fill: (temporary: string) => Promise<void>): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new WeightWatcherError('E_USAGE', `${target}: is a folder, expected a file path`, { file: target });
  const tmp = temporaryName(resolve(target));
  pending.set(tmp, {});
  try {
    await fill(tmp);
    await rename(tmp, target);
    pending.delete(tmp);
  } catch (e) {
    pending.delete(tmp);
    await rm(tmp, { force: true });
    throw e instanceof WeightWatcherError ? e : ioError(target, 'write', e);
  }
}

/**
 * Let `fill` populate a temporary folder, then rename it to `target`. An existing target must be an
 * empty folder (it is replaced); a non-empty one is refused rather than merged into.
 */
export async function writeFolderAtomically(target: string, fill: (temporary: string) => Promise<void>): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw new WeightWatcherError('E_USAGE', `${target}: exists and is not a folder`, { file: target });
  if (existing && (await readdir(target)).length > 0)
    throw new WeightWatcherError('E_USAGE', `${target}: folder exists and is not empty; choose a new output folder`, { file: target });
  await makeDirectory(dirname(resolve(target)));
  const tmp = temporaryName(resolve(target));
  pending.set(tmp, { folder: true });
  try {
    await mkdir(tmp);
    await fill(tmp);
    await rename(tmp, target);
    pending.delete(tmp);
  } catch (e) {
    pending.delete(tmp);
    await rm(tmp, { recursive: true, force: true });
    throw e instanceof WeightWatcherError ? e : ioError(target, 'write', e);
  }
}

/**
 * Create `dir` and its missing parents, one level at a time from the nearest existing ancestor.
 * (`mkdir(…, { recursive: true })` spins forever on paths such as /proc/x on Node 20.)
 */
export async function makeDirectory(dir: string): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  let at = target;
  for (;;) {
    try {
      const st = await stat(at);
      if (!st.isDirectory()) throw new WeightWatcherError('E_IO', `${dir}: cannot create the folder (${at} is a file)`, { file: dir });
      break;
    } catch (e) {
      if (e instanceof WeightWatcherError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw ioError(dir, 'create the folder', e);
      const parent = dirname(at);
      if (parent === at) throw ioError(dir, 'create the folder', e);
      missing.push(at);
      at = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dir, 'create the folder', e);
    }
  }
}
