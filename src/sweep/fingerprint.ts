/**
 * Content fingerprints of models, and the run key (fingerprint + the options that change results).
 *
 * What is hashed (SHA-256), documented in docs/sweeps.md:
 * - the files: a file path is that file; a folder is every regular file directly inside it (sorted
 *   by name; symbolic links to files count, as in a Hugging Face cache snapshot whose files link to
 *   its blobs; subfolders are not followed, as the readers do not follow them either), or only the
 *   files `only` names (a model given by name: its weight files, not the config or tokenizer files
 *   that another tool may add to the same snapshot);
 * - per file: its name within the folder (not for a single file), its size, and its bytes — all of them for
 *   files up to 64 MiB, otherwise the first 1 MiB (the headers: safetensors' JSON header, GGUF
 *   metadata, …), the last 64 KiB (a zip's central directory) and 16 blocks of 64 KiB at evenly
 *   spaced offsets between them. A 100 GB model in 20 shards costs about 42 MiB of reads.
 * Modification times and paths above the model are not hashed, so a copied or moved model keeps
 * its fingerprint. The sampled mode can miss an edit that touches none of the sampled blocks (e.g. a
 * fine-tune that changed one small layer of a multi-GB file); `fingerprint: 'full'` hashes every
 * byte instead.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsError } from '../shared/fs-errors.js';
import { NUMERIC_OPTIONS, resolveOptions, type AnalyzeOptions, type ResolvedOptions } from '../shared/options.js';

export type FingerprintMode = 'sampled' | 'full';

export const FULL_HASH_LIMIT = 64 * 1024 * 1024;
const HEAD_BYTES = 1024 * 1024;
const TAIL_BYTES = 64 * 1024;
const BLOCK_BYTES = 64 * 1024;
const BLOCKS = 16;
const CHUNK = 4 * 1024 * 1024;
const VERSION = 'weightwatcher-fingerprint-v1';

export interface Fingerprint {
  /** Hex SHA-256. */
  readonly hash: string;
  readonly files: number;
  readonly bytes: number;
  /** Bytes actually read to make it. */
  readonly bytesRead: number;
}

async function hashRange(h: Hash, fd: Awaited<ReturnType<typeof open>>, start: number, length: number): Promise<number> {
  const buf = Buffer.alloc(Math.min(CHUNK, length));
  let done = 0;
  while (done < length) {
    const want = Math.min(buf.length, length - done);
    const { bytesRead } = await fd.read(buf, 0, want, start + done);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    done += bytesRead;
  }
  return done;
}

/** The byte ranges hashed for a file of this size: [start, length] pairs, ascending, disjoint. */
export function sampledRanges(size: number, mode: FingerprintMode): [number, number][] {
  if (mode === 'full' || size <= FULL_HASH_LIMIT) return [[0, size]];
  const ranges: [number, number][] = [[0, HEAD_BYTES]];
  const span = size - TAIL_BYTES - HEAD_BYTES - BLOCK_BYTES;
  for (let i = 0; i < BLOCKS; i++) ranges.push([HEAD_BYTES + Math.floor((span * (i + 0.5)) / BLOCKS), BLOCK_BYTES]);
  ranges.push([size - TAIL_BYTES, TAIL_BYTES]);
  return ranges;
}

async function modelFiles(
  path: string,
  only?: readonly string[],
): Promise<{ files: { name: string; path: string; size: number }[]; isDir: boolean }> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw fsError(path, e);
  }
  // A single file's name is not part of its identity (a renamed copy is the same model).
  if (!st.isDirectory()) return { files: [{ name: '', path, size: st.size }], isDir: false };
  const entries = only
    ? [...new Set(only)].sort()
    : (await readdir(path, { withFileTypes: true }))
        .filter((d) => d.isFile() || d.isSymbolicLink())
        .map((d) => d.name)
        .sort();
  const files = [];
  for (const name of entries) {
    const p = join(path, name);
    // stat follows links; a link to a folder or a dangling one is not a model file (the readers skip it too).
    const s = await stat(p).catch((e: unknown) => {
      if (only) throw fsError(p, e);
      return undefined;
    });
    if (s?.isFile()) files.push({ name, path: p, size: s.size });
  }
  return { files, isDir: true };
}

/** Fingerprint of the model at `path` (a file, or a folder: every file in it, or those `only` names); see the module comment. */
export async function fingerprintModel(path: string, mode: FingerprintMode = 'sampled', only?: readonly string[]): Promise<Fingerprint> {
  const { files, isDir } = await modelFiles(path, only);
  const h = createHash('sha256');
  h.update(`${VERSION}\n${isDir ? 'dir' : 'file'}\n${mode === 'full' ? 'full' : 'sampled'}\n`);
  let bytes = 0;
  let bytesRead = 0;
  for (const f of files) {
    h.update(`${f.name}\0${f.size}\n`);
    bytes += f.size;
    const fd = await open(f.path, 'r').catch((e: unknown) => {
      throw fsError(f.path, e);
    });
    try {
      for (const [start, length] of sampledRanges(f.size, mode)) bytesRead += await hashRange(h, fd, start, length);
    } finally {
      await fd.close();
    }
  }
  return { hash: h.digest('hex'), files: files.length, bytes, bytesRead };
}

/** The resolved options that change results (the table's `changesNumbers` rows), as canonical JSON (keys sorted). */
export function optionsKeyJson(options: AnalyzeOptions | ResolvedOptions): string {
  const resolved = resolveOptions(options) as Record<string, unknown>;
  const entries = NUMERIC_OPTIONS.filter((k) => resolved[k] !== undefined)
    .sort()
    .map((k) => [k, resolved[k]] as const);
  return JSON.stringify(Object.fromEntries(entries));
}

/** Short hash of the options key. */
export function optionsHash(options: AnalyzeOptions): string {
  return createHash('sha256').update(optionsKeyJson(options)).digest('hex').slice(0, 16);
}

/** A run's key: the model's fingerprint plus the options (32 hex digits; also the queue job id prefix). */
export function runKey(fingerprint: string, options: AnalyzeOptions): string {
  return createHash('sha256')
    .update(`${fingerprint}\n${optionsKeyJson(options)}`)
    .digest('hex')
    .slice(0, 32);
}
