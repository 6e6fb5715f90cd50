/**
 * A model argument → a local path to open. An existing local path always wins (a cache repo folder
 * `models--org--name` stands for its snapshot). A reference (`org/name[@rev]`, `hf://…`) is looked
 * up in the standard caches (cache.ts) and, unless offline, completed from the hub through the
 * official client `@huggingface/hub` (its modelInfo, pathsInfo and downloadFile calls; the cache
 * layout, resume, locking and checks are download.ts). The client is imported only when a request
 * is needed, so local paths and cached models load none of it.
 *
 * Requests: a commit revision whose files are cached makes none; a branch or tag makes one small
 * one (the revision's commit and file list); missing files add one paths-info request and their
 * downloads.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { stat } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';
import { COMMIT_RE, parseModelRef, refLabel, checkRevision, checkRepoFile, type RepoRef } from './ref.js';
import {
  cacheLocations,
  cachedRepos,
  envOffline,
  exists,
  findSnapshot,
  isRepoFolder,
  nearNames,
  readRefs,
  repoFolderName,
  repoFromFolder,
  snapshotFiles,
  type CachedSnapshot,
} from './cache.js';
import { indexOrder, selectFiles, shardsOfIndex, type Selection } from './select.js';
import type { TensorStore } from '../formats/types.js';
import { ensureFile, writeAtomic, type DownloadProgress, type RemoteFile } from './download.js';
import { hubFetch, type HubFetch, type RetryPolicy } from './http.js';
import { importOptional } from '../shared/optional-import.js';

/** Where a model comes from (the library's constructor options, the CLI's --revision, --token, …). */
export interface ModelSourceOptions {
  /** Branch, tag or commit (default main); `org/name@rev` in the reference wins only when they agree. */
  readonly revision?: string;
  /** Hub token for gated and private repos (default: HF_TOKEN). */
  readonly token?: string;
  /** Never open a connection: the cache only (default: HF_HUB_OFFLINE). */
  readonly offline?: boolean;
  /** The one cache to read and write (default: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, …). */
  readonly cacheDir?: string;
  /** Read the weights with HTTP range requests instead of downloading them (default for https:// URLs). */
  readonly stream?: boolean;
  /** The file of the repo to analyse (GGUF repos with several files). */
  readonly file?: string;
  /** Hub address (default: HF_ENDPOINT, else https://huggingface.co). */
  readonly endpoint?: string;
  /** Download progress, about ten times a second per file and once when a file is done. */
  readonly onDownload?: (p: DownloadProgress) => void;
  /** Retries of transient failures. */
  readonly retry?: RetryPolicy;
}

/** What a model argument was resolved to (describe and the run info show it). */
export interface ModelResolution {
  readonly input: string;
  /** 'local' a path as given; 'cache' found in the cache; 'download' completed from the hub; 'stream' read over HTTP. */
  readonly from: 'local' | 'cache' | 'download' | 'stream';
  /** What to open (for 'stream': the URL or the snapshot's name). */
  readonly path: string;
  readonly repo?: string;
  readonly revision?: string;
  readonly commit?: string;
  readonly snapshot?: string;
  /** The repo files the analysis uses. */
  readonly files?: readonly string[];
  readonly downloadedBytes?: number;
  /** HTTP requests made (retries included). */
  readonly requests?: number;
}

/** One line for notes: what a reference became. */
export function describeResolution(r: ModelResolution): string | undefined {
  if (r.from === 'stream')
    return r.repo === undefined
      ? `${r.input}: streamed with HTTP range requests`
      : `${r.input} → ${refLabel(r.repo, r.revision ?? 'main')} commit ${r.commit ?? '?'}: streamed with HTTP range requests (${(r.files ?? []).join(', ')})`;
  if (r.from === 'local' || r.repo === undefined) return undefined;
  const how =
    r.from === 'download'
      ? `downloaded ${r.downloadedBytes ?? 0} bytes in ${r.requests ?? 0} requests`
      : `from the cache, ${r.requests ?? 0} requests`;
  return `${r.input} → ${refLabel(r.repo, r.revision ?? 'main')} commit ${r.commit ?? '?'}: ${r.snapshot ?? r.path} (${how})`;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

type Client = typeof import('@huggingface/hub');
let client: Promise<Client> | undefined;
// An optional dependency (a library-only install may leave it out): loaded on the first download.
const loadClient = () =>
  (client ??= importOptional('hub', () => import('@huggingface/hub')).catch((e: unknown) => {
    client = undefined;
    throw e;
  }));

function label(repo: string, revision: string | undefined): string {
  return refLabel(repo, revision);
}

/** The files a selection needs that are present in a snapshot, or undefined when some are missing. */
async function completeIn(snapshot: string, sel: Selection): Promise<string[] | undefined> {
  const files = [...sel.files];
  for (const idx of sel.indexes) {
    const p = join(snapshot, idx);
    const text = await readFile(p, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    files.push(idx, ...shardsOfIndex(text, p));
  }
  for (const f of files) if (!(await exists(join(snapshot, f)))) return undefined;
  return files;
}

/** A cached snapshot's needed files when they are all there (selection made from what it holds). */
async function completeLocal(snap: CachedSnapshot, lbl: string, o: { peft?: boolean; file?: string }) {
  const all = await snapshotFiles(snap.path);
  let sel: Selection;
  try {
    sel = selectFiles(all, lbl, o);
  } catch {
    return undefined;
  }
  const files = await completeIn(snap.path, sel);
  return files && { sel, files };
}

/** The hub's error as a WeightWatcherError that names the cause and the fix. */
async function hubError(
  e: unknown,
  f: HubFetch,
  ref: RepoRef,
  repo: string,
  revision: string | undefined,
  endpoint: string,
  locations: string[],
) {
  const status = (e as { statusCode?: number }).statusCode;
  const lbl = label(repo, revision);
  if (status === undefined) {
    if (e instanceof WeightWatcherError) return e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return new WeightWatcherError(
      'E_IO',
      `${ref.input}: cannot reach ${endpoint} (${cause?.code ?? cause?.message ?? (e as Error).message}); check the network or HF_ENDPOINT, or use the cache only with HF_HUB_OFFLINE=1 / --offline`,
      { cause: e },
    );
  }
  const code = f.lastErrorCode;
  const near = async () => {
    const names = nearNames(
      repo,
      (await cachedRepos(locations)).map((r) => r.repo),
    );
    return names.length ? ` (cached models with near names: ${names.join(', ')})` : '';
  };
  if (code === 'RevisionNotFound' || (code === undefined && status === 404 && /revision not found/i.test((e as Error).message)))
    return new WeightWatcherError(
      'E_NOT_FOUND',
      `${lbl}: revision ${revision ?? 'main'} not found in ${repo}; give an existing branch, tag or commit with @REV or --revision`,
      { cause: e },
    );
  if (code === 'GatedRepo' || status === 403 || (status === 401 && code !== 'RepoNotFound'))
    return new WeightWatcherError(
      'E_NOT_FOUND',
      `${lbl}: access denied (HTTP ${status}): the repo is gated or private — accept the licence on the model page (${endpoint}/${repo}), then set HF_TOKEN (or --token) to a token of that account${await near()}`,
      { cause: e },
    );
  if (status === 404 || code === 'RepoNotFound')
    return new WeightWatcherError(
      'E_NOT_FOUND',
      `${lbl}: repository not found on ${endpoint} (check the name; private repos need HF_TOKEN)${await near()}`,
      { cause: e },
    );
  return new WeightWatcherError('E_IO', `${lbl}: the hub answered HTTP ${status} (${(e as Error).message})`, { cause: e });
}

export interface ResolveOptions extends ModelSourceOptions {
  /** Fetch the adapter files (--peft) rather than the model's. */
  readonly peft?: boolean;
  /** Environment (tests). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Resolve a model argument to a local path (see the module comment). */
export async function resolveModel(input: string, o: ResolveOptions = {}): Promise<ModelResolution> {
  const env = o.env ?? process.env;
  const st = await stat(input).catch(() => undefined);
  if (st) {
    const repo = st.isDirectory() ? repoFromFolder(basename(input.replace(/[\\/]+$/, ''))) : undefined;
    if (repo !== undefined && (await isRepoFolder(input))) return fromRepoFolder(input, repo, input, o);
    return { input, from: 'local', path: input };
  }
  const ref = parseModelRef(input);
  if (ref === undefined) return { input, from: 'local', path: input };
  if (ref.kind === 'url')
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${input}: a model by URL is streamed, and this command reads local files: download it and pass its path, or use analyze, describe, esd or distances`,
    );
  return resolveRepo(ref, o, env);
}

async function fromRepoFolder(dir: string, repo: string, input: string, o: ResolveOptions): Promise<ModelResolution> {
  if (o.revision !== undefined) checkRevision(o.revision, input);
  const snap = await findSnapshot(dir, o.revision);
  if (!snap) {
    const refs = [...(await readRefs(dir)).keys()];
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${input}: no snapshot for revision ${o.revision ?? 'main'} in this cache folder (refs: ${refs.join(', ') || 'none'}); pick one with --revision`,
      { file: dir },
    );
  }
  const file = o.file === undefined ? undefined : checkRepoFile(o.file, input);
  const local = await completeLocal(snap, input, { ...(o.peft !== undefined && { peft: o.peft }), ...(file !== undefined && { file }) });
  const open = local?.sel.open ?? file ?? '';
  return {
    input,
    from: 'cache',
    path: open ? join(snap.path, open) : snap.path,
    repo,
    revision: o.revision ?? 'main',
    commit: snap.commit,
    snapshot: snap.path,
    ...(local && { files: local.files }),
    requests: 0,
  };
}

/** The hub's address: the option, else HF_ENDPOINT, else huggingface.co (no trailing slash). */
function hubEndpoint(o: ResolveOptions, env: Readonly<Record<string, string | undefined>>): string {
  return (o.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** The token for gated and private repos: the option, else HF_TOKEN, else HUGGING_FACE_HUB_TOKEN; it must look like one. */
function hubToken(o: ResolveOptions, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const token = o.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (token !== undefined && !token.startsWith('hf_'))
    throw new WeightWatcherError(
      'E_USAGE',
      `the hub token (HF_TOKEN / --token) must start with hf_; got one starting with ${JSON.stringify(token.slice(0, 3))}`,
    );
  return token;
}

/**
 * The client and one revision's info (its commit and file list) from the hub, every failure said
 * as a hub error that names the cause and the fix (hubError).
 */
async function hubRevision(ctx: {
  readonly f: HubFetch;
  readonly ref: RepoRef;
  readonly revision: string | undefined;
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly locations: string[];
}) {
  const { f, ref, revision, endpoint, token, locations } = ctx;
  const hub = await loadClient();
  const common = { hubUrl: endpoint, fetch: f.fetch, ...(token !== undefined && { accessToken: token }) };
  const call = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      throw await hubError(e, f, ref, ref.repo, revision, endpoint, locations);
    }
  };
  const info = await call(
    hub.modelInfo({ name: ref.repo, ...common, ...(revision !== undefined && { revision }), additionalFields: ['sha', 'filePaths'] }),
  );
  const commit = info.sha;
  if (typeof commit !== 'string' || !COMMIT_RE.test(commit))
    throw new WeightWatcherError('E_IO', `${label(ref.repo, revision)}: the hub's answer has no commit (sha) for the revision`);
  return { hub, common, call, commit, filePaths: info.filePaths ?? [] };
}

async function resolveRepo(ref: RepoRef, o: ResolveOptions, env: Readonly<Record<string, string | undefined>>): Promise<ModelResolution> {
  if (ref.revision !== undefined && o.revision !== undefined && ref.revision !== o.revision)
    throw new WeightWatcherError('E_USAGE', `${ref.input}: revision ${ref.revision} in the name and --revision ${o.revision} disagree`);
  const revision = ref.revision ?? (o.revision === undefined ? undefined : checkRevision(o.revision, ref.input));
  if (ref.file !== undefined && o.file !== undefined && ref.file !== o.file)
    throw new WeightWatcherError('E_USAGE', `${ref.input}: the file in the name and --file ${o.file} disagree`);
  const fileOpt = ref.file ?? (o.file === undefined ? undefined : checkRepoFile(o.file, ref.input));
  const sel = { ...(o.peft !== undefined && { peft: o.peft }), ...(fileOpt !== undefined && { file: fileOpt }) };
  const repo = ref.repo;
  const lbl = label(repo, revision);
  const locations = cacheLocations(o.cacheDir, env);
  const offline = o.offline ?? envOffline(env);
  const done = (snap: CachedSnapshot, files: readonly string[], open: string, extra: Partial<ModelResolution>): ModelResolution => ({
    input: ref.input,
    from: 'cache',
    path: open ? join(snap.path, ...open.split('/')) : snap.path,
    repo,
    revision: revision ?? 'main',
    commit: snap.commit,
    snapshot: snap.path,
    files,
    requests: 0,
    ...extra,
  });

  // Offline, or a commit: the cache alone can answer (zero requests).
  if (offline || (revision !== undefined && COMMIT_RE.test(revision))) {
    for (const loc of locations) {
      const snap = await findSnapshot(join(loc, repoFolderName(repo)), revision);
      const local = snap && (await completeLocal(snap, lbl, sel));
      if (snap && local) return done(snap, local.files, local.sel.open, {});
    }
    if (offline) {
      const near = nearNames(
        repo,
        (await cachedRepos(locations)).map((r) => r.repo),
      );
      throw new WeightWatcherError(
        'E_NOT_FOUND',
        `${lbl}: not in the cache, and offline (${o.offline === true ? '--offline' : 'HF_HUB_OFFLINE'}): looked for revision ${revision ?? 'main'} with its weight files in ${locations
          .map((l) => join(l, repoFolderName(repo)))
          .join(
            ', ',
          )}${near.length ? `; cached models with near names: ${near.join(', ')}` : ''}; run once online (without HF_HUB_OFFLINE / --offline) to download it, or set HF_HUB_CACHE / --cache-dir to where it is`,
      );
    }
  }

  const endpoint = hubEndpoint(o, env);
  const token = hubToken(o, env);
  const f = hubFetch(o.retry);
  const { hub, common, call, commit, filePaths: listed } = await hubRevision({ f, ref, revision, endpoint, token, locations });
  const selection = selectFiles(listed, lbl, sel);
  const writeRef = async (loc: string) => {
    if (revision === undefined || !COMMIT_RE.test(revision))
      await writeAtomic(join(loc, repoFolderName(repo), 'refs', ...(revision ?? 'main').split('/')), commit);
  };

  // Already cached at that commit, in any of the caches?
  for (const loc of locations) {
    const snap: CachedSnapshot = { path: join(loc, repoFolderName(repo), 'snapshots', commit), commit, via: 'commit' };
    const files = await completeIn(snap.path, selection);
    if (files) {
      await writeRef(loc);
      return done(snap, files, selection.open, { requests: f.requests });
    }
  }

  // Download what is missing into the first cache (the one Python's huggingface_hub uses).
  const loc = locations[0]!;
  const repoDir = join(loc, repoFolderName(repo));
  const snapDir = join(repoDir, 'snapshots', commit);
  let downloaded = 0;
  const fetchFiles = async (paths: readonly string[]) => {
    const missing: string[] = [];
    for (const p of paths) if (!(await exists(join(snapDir, p)))) missing.push(p);
    if (!missing.length) return;
    const infos = await call(hub.pathsInfo({ repo: { type: 'model', name: repo }, paths: missing, revision: commit, ...common }));
    for (const p of missing) {
      const pi = infos.find((x) => x.path === p);
      if (!pi || pi.type !== 'file')
        throw new WeightWatcherError('E_NOT_FOUND', `${lbl}: ${p} is listed by the hub but has no file information at commit ${commit}`);
      const etag = pi.lfs?.oid ?? pi.oid;
      if (etag === undefined || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag))
        throw new WeightWatcherError('E_IO', `${lbl}: ${p}: the hub gave no usable hash (${String(etag)})`);
      const remote: RemoteFile = { path: p, size: pi.lfs?.size ?? pi.size, etag, hash: pi.lfs ? 'sha256' : 'git-sha1' };
      // The resolve probe (size, ETag, where the bytes are) once per file, not once per resumed attempt.
      let downloadInfo: Promise<Awaited<ReturnType<Client['fileDownloadInfo']>>> | undefined;
      downloaded += await ensureFile(
        repoDir,
        commit,
        remote,
        async (file, start) => {
          const repoId = { type: 'model', name: repo } as const;
          downloadInfo ??= call(hub.fileDownloadInfo({ repo: repoId, path: file.path, revision: commit, ...common }));
          const di = await downloadInfo;
          if (!di) throw new WeightWatcherError('E_NOT_FOUND', `${lbl}: ${file.path} not found at commit ${commit}`);
          if (di.size !== file.size)
            throw new WeightWatcherError('E_IO', `${lbl}: ${file.path} is ${di.size} bytes on the server, the hub lists ${file.size}`);
          if (!di.xet) {
            // Plain (LFS or git) bytes: the response body itself, from `start`, over node:http (http.ts
            // `download`: fetch's web stream costs more CPU; the wrapper checks the range answer). The
            // client's WebBlob.stream() adds a TransformStream copy per chunk: ~2× slower.
            const res = await f.download(di.url, {
              headers: { ...(token !== undefined && { Authorization: `Bearer ${token}` }), ...(start > 0 && { Range: `bytes=${start}-` }) },
            });
            if (!res.ok) {
              await res.body.cancel();
              throw new WeightWatcherError('E_IO', `${lbl}: ${file.path}: HTTP ${res.status} downloading the bytes`);
            }
            return res.body;
          }
          // Xet-backed files are reassembled by the client.
          const blob = await call(
            hub.downloadFile({ repo: repoId, path: file.path, revision: commit, downloadInfo: di, ...common }).then((b) => {
              if (!b) throw new WeightWatcherError('E_NOT_FOUND', `${lbl}: ${file.path} not found at commit ${commit}`);
              return b;
            }),
          );
          if (blob.size !== file.size)
            throw new WeightWatcherError('E_IO', `${lbl}: ${file.path} is ${blob.size} bytes on the server, the hub lists ${file.size}`);
          return blob.slice(start).stream();
        },
        { ...(o.onDownload && { onProgress: o.onDownload }), ...(o.retry && { retry: o.retry }) },
      );
    }
  };
  await fetchFiles(selection.indexes);
  const shards: string[] = [];
  for (const idx of selection.indexes) shards.push(...shardsOfIndex(await readFile(join(snapDir, idx), 'utf8'), join(snapDir, idx)));
  await fetchFiles([...selection.files, ...shards]);
  await writeRef(loc);
  return done({ path: snapDir, commit, via: 'commit' }, [...selection.indexes, ...selection.files, ...shards], selection.open, {
    from: 'download',
    downloadedBytes: downloaded,
    requests: f.requests,
  });
}

/**
 * A model to stream (issue 19 item 4): an https:// URL of a safetensors file (always), or a repo
 * reference with `stream`. Undefined when the input is a local path or not to be streamed (then
 * resolveModel applies). Only safetensors can be streamed: other formats are refused with the fix.
 */
export async function streamModel(
  input: string,
  o: ResolveOptions = {},
): Promise<{ store: TensorStore; resolution: ModelResolution } | undefined> {
  const env = o.env ?? process.env;
  if (await stat(input).catch(() => undefined)) return undefined;
  const ref = parseModelRef(input);
  if (ref === undefined || (ref.kind === 'repo' && o.stream !== true)) return undefined;
  if (o.offline ?? envOffline(env))
    throw new WeightWatcherError(
      'E_USAGE',
      `${input}: streaming reads over the network, and offline mode (HF_HUB_OFFLINE / --offline) forbids it`,
    );
  const { openStreamedSafetensors } = await import('./stream.js');
  const endpoint = hubEndpoint(o, env);
  const f = hubFetch(o.retry);
  const retry = o.retry ?? {};
  const notSafetensors = (e: unknown, what: string) =>
    e instanceof WeightWatcherError && e.code === 'E_FORMAT'
      ? new WeightWatcherError(
          'E_UNSUPPORTED',
          `${what}: streaming reads safetensors files only (${e.message}); download the model instead (without --stream)`,
          {
            cause: e,
          },
        )
      : e;
  if (ref.kind === 'url') {
    // The token goes only to the hub itself, never to another host.
    const token = new URL(ref.url).origin === new URL(endpoint).origin ? hubToken(o, env) : undefined;
    const headers: Record<string, string> = token !== undefined ? { Authorization: `Bearer ${token}` } : {};
    const store = await openStreamedSafetensors([{ url: ref.url, name: ref.url }], f, headers, retry).catch((e: unknown) => {
      throw notSafetensors(e, ref.url);
    });
    return { store, resolution: { input, from: 'stream', path: ref.url, requests: f.requests } };
  }
  const revision = ref.revision ?? (o.revision === undefined ? undefined : checkRevision(o.revision, input));
  const repo = ref.repo;
  const lbl = label(repo, revision);
  const fileOpt = ref.file ?? (o.file === undefined ? undefined : checkRepoFile(o.file, input));
  const token = hubToken(o, env);
  const locations = cacheLocations(o.cacheDir, env);
  const { hub, common, call, commit, filePaths } = await hubRevision({ f, ref, revision, endpoint, token, locations });
  const sel = selectFiles(filePaths, lbl, {
    ...(o.peft !== undefined && { peft: o.peft }),
    ...(fileOpt !== undefined && { file: fileOpt }),
  });
  const repoId = { type: 'model', name: repo } as const;
  let order: string[] | undefined;
  const files = [...sel.files];
  for (const idx of sel.indexes) {
    if (!idx.endsWith('.safetensors.index.json')) break;
    const blob = await call(hub.downloadFile({ repo: repoId, path: idx, revision: commit, ...common }));
    if (!blob) throw new WeightWatcherError('E_NOT_FOUND', `${lbl}: ${idx} not found at commit ${commit}`);
    const text = await blob.text();
    order = indexOrder(text, `${lbl}/${idx}`);
    files.push(...shardsOfIndex(text, `${lbl}/${idx}`));
  }
  const weights = files.filter((p) => p.endsWith('.safetensors'));
  if (!weights.length || (sel.indexes.length && order === undefined))
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${lbl}: streaming reads safetensors files only, and this repo's weights are ${sel.format} (${[...sel.indexes, ...sel.files].join(', ')}); drop --stream to download them`,
    );
  const urls: { url: string; name: string }[] = [];
  for (const p of weights) {
    const di = await call(hub.fileDownloadInfo({ repo: repoId, path: p, revision: commit, ...common }));
    if (!di) throw new WeightWatcherError('E_NOT_FOUND', `${lbl}: ${p} not found at commit ${commit}`);
    urls.push({ url: di.url, name: `${endpoint}/${repo}/resolve/${commit}/${p}` });
  }
  const headers: Record<string, string> = token !== undefined ? { Authorization: `Bearer ${token}` } : {};
  const store = await openStreamedSafetensors(urls, f, headers, retry, order).catch((e: unknown) => {
    throw notSafetensors(e, lbl);
  });
  return {
    store,
    resolution: {
      input,
      from: 'stream',
      path: urls[0]!.name,
      repo,
      revision: revision ?? 'main',
      commit,
      files: weights,
      requests: f.requests,
    },
  };
}
