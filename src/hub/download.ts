/**
 * One repo file into the cache, in the layout Python's huggingface_hub writes: the bytes go to
 * `blobs/<etag>.incomplete` (appended to when a previous run was cut off: a 5 GB shard cut at 60%
 * continues from 60%), are checked against the size and hash the hub lists (sha256 for LFS files,
 * the git blob sha1 else), renamed to `blobs/<etag>`, and linked from `snapshots/<commit>/<path>`
 * with a relative symlink made under a temporary name and renamed into place. A failure therefore
 * leaves an `.incomplete` file, never a broken blob or snapshot link.
 *
 * Two processes fetching the same blob: the first takes `.locks/<repo folder>/<etag>.ww-lock`
 * (created exclusively, holding its pid; a lock whose process is gone is taken over), the other
 * waits and then finds the blob. (Python's own `.lock` files are flock()ed and left behind, so they
 * are not reused here.)
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, symlink, unlink, writeFile, lstat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import { isTransientNetworkError, backoffMs, type RetryPolicy } from './http.js';

export interface RemoteFile {
  /** Path in the repo. */
  readonly path: string;
  readonly size: number;
  /** Blob name: the LFS sha256, else the git blob oid. */
  readonly etag: string;
  /** How to check the bytes: sha256 of the content (LFS) or git's sha1 of "blob <size>\0" + content. */
  readonly hash: 'sha256' | 'git-sha1';
}

export interface DownloadProgress {
  readonly file: string;
  /** Bytes of this file on disk so far (resumed bytes included). */
  readonly bytes: number;
  readonly total: number;
  /** Bytes fetched in this run (for the rate). */
  readonly fetched: number;
  readonly done: boolean;
  /** Waiting for another process that downloads the same file. */
  readonly waiting?: boolean;
}

/** Fetches bytes [start, size) of a file as a stream of chunks. */
export type RangeStreamer = (file: RemoteFile, start: number) => Promise<AsyncIterable<Uint8Array>>;

export interface FileDownloadOptions {
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly retry?: RetryPolicy;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const WRITE_BATCH = 8 << 20;
const sizeOf = async (p: string) => (await stat(p).catch(() => undefined))?.size;

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the lock file; wait while a live process holds it. Returns the release function. */
async function lock(path: string, onWait: () => void): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (let waited = false; ;) {
    try {
      const h = await open(path, 'wx');
      await h.writeFile(String(process.pid));
      await h.close();
      return () => unlink(path).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    // An empty file is a lock being written right now: give its writer a moment.
    const st = await stat(path).catch(() => undefined);
    const fresh = st !== undefined && Date.now() - st.mtimeMs < 2000;
    if (!pidAlive(holder) && !(holder === 0 && fresh)) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (!waited) onWait();
    waited = true;
    await sleep(100);
  }
}

async function hashFilePrefix(path: string, h: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

function newHash(f: RemoteFile): Hash {
  const h = createHash(f.hash === 'sha256' ? 'sha256' : 'sha1');
  if (f.hash === 'git-sha1') h.update(`blob ${f.size}\0`);
  return h;
}

/** Point `link` at `target` with a relative symlink, atomically (temporary name, then rename). */
export async function linkAtomic(target: string, link: string): Promise<void> {
  await mkdir(dirname(link), { recursive: true });
  const tmp = `${link}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await symlink(relative(dirname(link), target), tmp);
  try {
    await rename(tmp, link);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Write a small file atomically (refs). */
export async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function noSpace(file: RemoteFile, incomplete: string, have: number): WeightWatcherError {
  return new WeightWatcherError(
    'E_IO',
    `no space left on the device while downloading ${file.path} (${have} of ${file.size} bytes) to ${dirname(incomplete)}: free ${file.size - have} bytes or more, or point HF_HUB_CACHE (--cache-dir) at a larger disk; the next run resumes from ${incomplete}`,
    { file: incomplete },
  );
}

/**
 * Make `snapshots/<commit>/<file.path>` in `repoDir` point at the blob, downloading it (or the rest
 * of it) when it is missing. Returns the bytes fetched.
 */
export async function ensureFile(
  repoDir: string,
  commit: string,
  file: RemoteFile,
  streamer: RangeStreamer,
  o: FileDownloadOptions = {},
): Promise<number> {
  const blob = join(repoDir, 'blobs', file.etag);
  const pointer = join(repoDir, 'snapshots', commit, ...file.path.split('/'));
  const linked = async () => {
    if ((await lstat(pointer).catch(() => undefined)) === undefined || (await sizeOf(pointer)) !== file.size)
      await linkAtomic(blob, pointer);
  };
  if ((await sizeOf(blob)) === file.size) {
    await linked();
    return 0;
  }
  const release = await lock(join(dirname(repoDir), '.locks', `${repoDir.split(/[\\/]/).pop()}`, `${file.etag}.ww-lock`), () =>
    o.onProgress?.({ file: file.path, bytes: 0, total: file.size, fetched: 0, done: false, waiting: true }),
  );
  let fetched = 0;
  try {
    if ((await sizeOf(blob)) === file.size) {
      await linked();
      return 0;
    }
    await mkdir(dirname(blob), { recursive: true });
    const incomplete = `${blob}.incomplete`;
    let have = (await sizeOf(incomplete)) ?? 0;
    if (have > file.size) {
      await unlink(incomplete);
      have = 0;
    }
    const hash = newHash(file);
    if (have > 0) await hashFilePrefix(incomplete, hash);
    const out = await open(incomplete, 'a');
    let lastReport = 0;
    // Chunks are written in batches (one writev per 8 MiB; a write per network chunk costs more than
    // the transfer), with one batch in flight while the next is received, so reads do not wait for writes.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let inflight: Promise<void> | undefined;
    const startWrite = async () => {
      if (inflight) await inflight;
      const batch = pending;
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      // Hashed in receive order when handed to the file; a failed write fails the download (the next
      // run hashes what is on disk again).
      for (const c of batch) hash.update(c);
      inflight = out.writev(batch).then(
        () => {
          have += n;
          fetched += n;
          const now = performance.now();
          if (now - lastReport > 100) {
            lastReport = now;
            o.onProgress?.({ file: file.path, bytes: have, total: file.size, fetched, done: false });
          }
        },
        (e: unknown) => {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw noSpace(file, incomplete, have);
          throw e;
        },
      );
      inflight.catch(() => {}); // awaited by the next write or flush; never an unhandled rejection meanwhile
    };
    /** Everything received is on disk (and in `have`) when this resolves. */
    const flush = async () => {
      if (pending.length) await startWrite();
      const p = inflight;
      inflight = undefined;
      if (p) await p;
    };
    try {
      for (let attempt = 0; have < file.size; attempt++) {
        const before = have;
        try {
          try {
            let received = have;
            for await (const chunk of await streamer(file, have)) {
              received += chunk.length;
              if (received > file.size)
                throw new WeightWatcherError('E_IO', `${file.path}: the server sent more than the ${file.size} bytes the hub lists`);
              pending.push(chunk);
              pendingBytes += chunk.length;
              if (pendingBytes >= WRITE_BATCH) await startWrite();
            }
          } finally {
            // What arrived before a cut is kept: the next attempt (or run) continues after it.
            await flush();
          }
          if (have < file.size) throw new WeightWatcherError('E_IO', `${file.path}: the connection ended at byte ${have} of ${file.size}`);
        } catch (e) {
          // A cut connection: continue from where it stopped while it keeps making progress.
          const transient = isTransientNetworkError(e) || (e instanceof WeightWatcherError && /connection ended/.test(e.message));
          if (!transient || attempt + 1 >= (o.retry?.attempts ?? 5)) {
            if (e instanceof WeightWatcherError) throw e;
            throw new WeightWatcherError(
              'E_IO',
              `${file.path}: download failed at byte ${have} of ${file.size} (${typeof e === 'string' ? e : errorMessage(e)}); run again to resume from ${incomplete}`,
              { file: incomplete, cause: e },
            );
          }
          if (have > before) attempt = -1; // progress: the budget of retries starts again
          await sleep(backoffMs(Math.max(0, attempt), o.retry ?? {}));
        }
      }
      // No fsync: it doubles a big download's time on a busy disk, and neither Python's
      // huggingface_hub nor curl does it; the hash check already guards the content.
    } finally {
      await out.close();
    }
    const digest = hash.digest('hex');
    if (digest !== file.etag && !(file.hash === 'git-sha1' && file.etag.length !== 40)) {
      await unlink(incomplete).catch(() => {});
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${file.path}: downloaded bytes do not match the hub's ${file.hash === 'sha256' ? 'sha256' : 'git oid'} (${digest} ≠ ${file.etag}); the partial file was removed, run again`,
        { file: blob },
      );
    }
    await rename(incomplete, blob);
    await linked();
    o.onProgress?.({ file: file.path, bytes: file.size, total: file.size, fetched, done: true });
    return fetched;
  } finally {
    await release();
  }
}
