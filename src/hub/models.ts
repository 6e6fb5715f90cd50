/**
 * The models in the Hugging Face caches (`weightwatcher models`): per repo and snapshot, its refs,
 * size on disk, weight format, and whether it can be analysed (the files an analysis needs are all
 * there: select.ts's choice, with every shard of an index).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedRepos, readRefs, snapshotFiles } from './cache.js';
import { selectFiles, shardsOfIndex } from './select.js';
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../shared/errors.js';

export interface CachedRevision {
  readonly commit: string;
  /** Branches and tags pointing at it. */
  readonly refs: readonly string[];
  readonly path: string;
  /** Bytes of the blobs its files point at. */
  readonly size: number;
  readonly files: number;
  /** 'safetensors', 'safetensors (sharded)', 'pytorch', 'gguf', … or 'none'. */
  readonly format: string;
  readonly analysable: boolean;
  /** Why not, when it cannot be analysed. */
  readonly reason?: string;
}

export interface CachedModel {
  readonly repo: string;
  readonly cache: string;
  readonly path: string;
  /** Bytes of all its blobs (what deleting it frees). */
  readonly size: number;
  readonly revisions: readonly CachedRevision[];
}

async function revisionInfo(snapshot: string, commit: string, refs: readonly string[]): Promise<CachedRevision> {
  const files = await snapshotFiles(snapshot);
  let size = 0;
  for (const f of files) size += (await stat(join(snapshot, f)).catch(() => undefined))?.size ?? 0;
  const base = { commit, refs, path: snapshot, size, files: files.length };
  try {
    const sel = selectFiles(files, snapshot);
    const missing: string[] = [];
    for (const idx of sel.indexes) {
      const shards = shardsOfIndex(await readFile(join(snapshot, idx), 'utf8'), join(snapshot, idx));
      missing.push(...shards.filter((s) => !files.includes(s)));
    }
    return missing.length
      ? { ...base, format: sel.format, analysable: false, reason: `missing ${missing.length} shard(s): ${missing.slice(0, 3).join(', ')}` }
      : { ...base, format: sel.format, analysable: true };
  } catch (e) {
    return { ...base, format: 'none', analysable: false, reason: errorMessage(e).replace(`${snapshot}: `, '') };
  }
}

export async function listCachedModels(locations: readonly string[]): Promise<CachedModel[]> {
  const out: CachedModel[] = [];
  for (const { repo, dir, cache } of await cachedRepos(locations)) {
    const refs = await readRefs(dir);
    const revisions: CachedRevision[] = [];
    for (const commit of (await readdir(join(dir, 'snapshots')).catch(() => [] as string[])).sort()) {
      const snap = join(dir, 'snapshots', commit);
      if (!(await stat(snap).catch(() => undefined))?.isDirectory()) continue;
      revisions.push(
        await revisionInfo(
          snap,
          commit,
          [...refs].filter(([, c]) => c === commit).map(([r]) => r),
        ),
      );
    }
    let size = 0;
    for (const b of await readdir(join(dir, 'blobs')).catch(() => [] as string[]))
      size += (await stat(join(dir, 'blobs', b)).catch(() => undefined))?.size ?? 0;
    out.push({ repo, cache, path: dir, size, revisions });
  }
  return out;
}
