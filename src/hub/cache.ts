/**
 * The Hugging Face cache as Python's `huggingface_hub` writes it (and `transformers` reads it):
 *
 *   <cache>/models--org--name/blobs/<etag>            file contents (etag = sha256 for LFS files, git oid else)
 *   <cache>/models--org--name/snapshots/<commit>/<f>  relative symlinks ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<branch or tag>    the commit the name pointed to
 *
 * Reading only: where the caches are, which snapshot a revision is, what a cache holds.
 */
import { readFile, readdir, stat, lstat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { COMMIT_RE } from './ref.js';

export interface CacheEnv {
  readonly HF_HUB_CACHE?: string | undefined;
  readonly HUGGINGFACE_HUB_CACHE?: string | undefined;
  readonly HF_HOME?: string | undefined;
  readonly XDG_CACHE_HOME?: string | undefined;
  readonly HOME?: string | undefined;
}

/**
 * The caches to read, in the order: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
 * $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub (each once). With `cacheDir` only that
 * one. The first is where downloads go: the one Python's huggingface_hub picks.
 */
export function cacheLocations(cacheDir?: string, env: CacheEnv = process.env): string[] {
  if (cacheDir !== undefined) return [cacheDir];
  const home = env.HOME ?? homedir();
  const out: string[] = [];
  const add = (p: string | undefined) => {
    if (p && !out.includes(p)) out.push(p);
  };
  add(env.HF_HUB_CACHE);
  add(env.HUGGINGFACE_HUB_CACHE);
  add(env.HF_HOME && join(env.HF_HOME, 'hub'));
  add(env.XDG_CACHE_HOME && join(env.XDG_CACHE_HOME, 'huggingface', 'hub'));
  add(join(home, '.cache', 'huggingface', 'hub'));
  return out;
}

/** `models--org--name` */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

/** `org/name` from a `models--org--name` folder name, or undefined for other folders. */
export function repoFromFolder(name: string): string | undefined {
  if (!name.startsWith('models--')) return undefined;
  return name.slice('models--'.length).split('--').join('/');
}

/** Truthy HF_HUB_OFFLINE as huggingface_hub reads it. */
export function envOffline(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const v = env.HF_HUB_OFFLINE?.trim().toLowerCase();
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v);
}

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() === true;
export const exists = async (p: string) => (await stat(p).catch(() => undefined)) !== undefined;

/** A cache repo folder: it has snapshots/ (refs/ and blobs/ are optional in partial copies). */
export async function isRepoFolder(dir: string): Promise<boolean> {
  return isDir(join(dir, 'snapshots'));
}

export interface CachedSnapshot {
  /** snapshots/<commit> */
  readonly path: string;
  readonly commit: string;
  /** How the revision was found: a ref file, the commit itself, or the only snapshot. */
  readonly via: 'ref' | 'commit' | 'only-snapshot';
}

/** The snapshot a revision names in one cache repo folder, or undefined when it is not there. */
export async function findSnapshot(repoDir: string, revision: string | undefined): Promise<CachedSnapshot | undefined> {
  const rev = revision ?? 'main';
  if (COMMIT_RE.test(rev)) {
    const p = join(repoDir, 'snapshots', rev);
    return (await isDir(p)) ? { path: p, commit: rev, via: 'commit' } : undefined;
  }
  const ref = await readFile(join(repoDir, 'refs', ...rev.split('/')), 'utf8').catch(() => undefined);
  if (ref !== undefined) {
    const commit = ref.trim();
    const p = join(repoDir, 'snapshots', commit);
    if (COMMIT_RE.test(commit) && (await isDir(p))) return { path: p, commit, via: 'ref' };
    return undefined;
  }
  // A copied cache without refs/ (or one written by a tool that names snapshots itself): the only
  // snapshot stands for the default branch, never for a named one.
  if (revision === undefined) {
    const snaps = await readdir(join(repoDir, 'snapshots')).catch(() => [] as string[]);
    const dirs: string[] = [];
    for (const s of snaps) if (await isDir(join(repoDir, 'snapshots', s))) dirs.push(s);
    if (dirs.length === 1) return { path: join(repoDir, 'snapshots', dirs[0]!), commit: dirs[0]!, via: 'only-snapshot' };
  }
  return undefined;
}

/** The refs of a repo folder: name → commit. */
export async function readRefs(repoDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string, prefix: string) => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (d.isDirectory()) await walk(join(dir, d.name), `${prefix}${d.name}/`);
      else {
        const c = (await readFile(join(dir, d.name), 'utf8').catch(() => '')).trim();
        if (COMMIT_RE.test(c)) out.set(`${prefix}${d.name}`, c);
      }
    }
  };
  await walk(join(repoDir, 'refs'), '');
  return out;
}

/** Every file of a snapshot (relative paths, '/'-separated), with broken links left out. */
export async function snapshotFiles(snapshot: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, d.name);
      if (d.isDirectory()) await walk(p, `${prefix}${d.name}/`);
      else if ((await stat(p).catch(() => undefined))?.isFile()) out.push(`${prefix}${d.name}`);
    }
  };
  await walk(snapshot, '');
  return out.sort();
}

/** Repo ids cached in these locations (for "did you mean" and `weightwatcher models`). */
export async function cachedRepos(locations: readonly string[]): Promise<{ repo: string; dir: string; cache: string }[]> {
  const out: { repo: string; dir: string; cache: string }[] = [];
  for (const cache of locations) {
    for (const name of (await readdir(cache).catch(() => [] as string[])).sort()) {
      const repo = repoFromFolder(name);
      const dir = join(cache, name);
      if (repo !== undefined && (await lstat(dir).catch(() => undefined))?.isDirectory()) out.push({ repo, dir, cache });
    }
  }
  return out;
}

/** Edit distance (case-insensitive), for near names. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Cached repo ids close to `repo` (same name under another org, or a few edits away). */
export function nearNames(repo: string, candidates: readonly string[], max = 3): string[] {
  const name = (r: string) => r.split('/').pop()!;
  const scored = [...new Set(candidates)]
    .filter((c) => c !== repo)
    .map((c) => ({
      c,
      d: Math.min(distance(c, repo), name(c).toLowerCase() === name(repo).toLowerCase() ? 0 : distance(name(c), name(repo))),
    }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name(repo).length / 3)))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, max).map((x) => x.c);
}
