/**
 * A local stand-in for the Hugging Face Hub, speaking what @huggingface/hub 2.17 uses, on
 * 127.0.0.1 only:
 * - GET  /api/models/{repo}/revision/{rev}   model info (sha, siblings) of a branch, tag or commit
 * - GET  /api/models/{repo}/tree/{rev}       the file list
 * - POST /api/models/{repo}/paths-info/{rev} size, git oid and LFS sha256 of given paths
 * - GET/HEAD /{repo}/resolve/{rev}/{path}    LFS files: 302 to a second host (the "CDN") that serves
 *   the bytes; small files: served here. Range (206), ETag, X-Repo-Commit, X-Linked-Etag and
 *   X-Linked-Size as the hub sends them.
 * Switches: `gated` repos answer 401 without the right token, unknown repos/revisions/files 404 with
 * the hub's X-Error-Code, `cut` drops the connection mid-file, `fail` answers N requests with a
 * status (5xx, 429 + Retry-After), `wrongRange` answers a range with the wrong bytes; `bytesServed`
 * and `requests` count what went over the wire. Point HF_ENDPOINT (or `endpoint`) at `url`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFile {
  /** The content, in memory… */
  readonly bytes: Uint8Array;
  /** …or a file on disk (benchmarks: gigabytes), with its sha256; `bytes` is then empty. */
  readonly disk?: { readonly path: string; readonly size: number; readonly sha256: string };
  /** Served through LFS (redirect to the CDN host); default: .safetensors/.bin/.gguf/.pt/.onnx files. */
  readonly lfs?: boolean;
}

export interface HubCommit {
  readonly sha: string;
  readonly files: ReadonlyMap<string, HubFile>;
}

export interface HubRepoState {
  commits: HubCommit[];
  /** Branches and tags → commit sha. */
  refs: Map<string, string>;
}

export interface HubSwitches {
  /** Repos that answer 401 unless the request carries `Bearer <token>`. */
  gated: Map<string, string>;
  /** Drop the connection after this many body bytes of this file (once per `times`). */
  cut?: { file: string; afterBytes: number; times: number };
  /** Answer the next `times` requests (any route) with this status. */
  fail?: { status: number; times: number; retryAfter?: string; path?: RegExp };
  /** Answer a range that starts past 0 from one byte earlier (one byte more than asked). */
  wrongRange?: boolean;
  /** Serve this file with its last byte flipped (the listed size and hashes stay those of the real file). */
  corrupt?: string;
  /** Wait this long between 64 KiB chunks (a slow link, so that concurrent downloads overlap). */
  chunkDelayMs?: number;
}

export interface HubServer {
  /** The hub's address: HF_ENDPOINT. */
  readonly url: string;
  /** The second host serving LFS bytes. */
  readonly cdnUrl: string;
  readonly repos: Map<string, HubRepoState>;
  readonly switches: HubSwitches;
  /** File-content bytes sent (both hosts). */
  bytesServed: number;
  /** Every request: method, host ('hub' | 'cdn'), path. */
  readonly requests: { method: string; host: 'hub' | 'cdn'; path: string }[];
  /** Add a commit to a repo (created if new) and point `branch` (default main) at it. */
  addCommit(repo: string, files: Record<string, Uint8Array | HubFile>, branch?: string): string;
  reset(): void;
  close(): Promise<void>;
}

const isLfsName = (p: string) => /\.(safetensors|bin|gguf|pt|pth|onnx|h5|npz)$/i.test(p);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const sizeOf = (f: HubFile) => f.disk?.size ?? f.bytes.length;
const sha256Of = (f: HubFile) => f.disk?.sha256 ?? sha256(f.bytes);
/** For a disk file (always LFS) the git oid is that of its pointer file, as on the hub. */
const gitOidOf = (f: HubFile) =>
  f.disk
    ? gitOid(new TextEncoder().encode(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.disk.sha256}\nsize ${f.disk.size}\n`))
    : gitOid(f.bytes);

function lfsOf(path: string, f: HubFile): boolean {
  return f.disk !== undefined || (f.lfs ?? isLfsName(path));
}

async function listen(s: Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function hubError(res: ServerResponse, status: number, code: string, message: string) {
  json(res, status, { error: message }, { 'x-error-code': code });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, HubRepoState>();
  const blobs = new Map<string, HubFile>(); // sha256 → content (the CDN's store)
  const switches: HubSwitches = { gated: new Map() };
  const state = { bytesServed: 0 };
  const requests: HubServer['requests'] = [];

  /** Serve a file from disk with Range support (no switches: benchmarks). */
  const serveDisk = (req: IncomingMessage, res: ServerResponse, disk: NonNullable<HubFile['disk']>, headers: Record<string, string>) => {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), disk.size - 1) : disk.size - 1;
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      ...(range && { 'content-range': `bytes ${start}-${end}/${disk.size}` }),
      ...headers,
    });
    if (req.method === 'HEAD') return void res.end();
    const rs = createReadStream(disk.path, { start, end, highWaterMark: 1 << 20 });
    rs.on('data', (c) => (state.bytesServed += c.length));
    rs.pipe(res);
  };

  /** Serve bytes with Range support, counting them and honouring the cut switch. */
  const serveBytes = (req: IncomingMessage, res: ServerResponse, file: HubFile, name: string, headers: Record<string, string>) => {
    if (file.disk) return serveDisk(req, res, file.disk, headers);
    const bytes = file.bytes;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = bytes.length - 1;
    let status = 200;
    if (range) {
      start = Number(range[1]);
      end = range[2] === '' ? bytes.length - 1 : Math.min(Number(range[2]), bytes.length - 1);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        res.end();
        return;
      }
      status = 206;
      if (switches.wrongRange && start > 0) start -= 1;
    }
    let body = bytes.subarray(start, end + 1);
    if (switches.corrupt === name && end === bytes.length - 1 && body.length > 0) {
      body = new Uint8Array(body);
      body[body.length - 1]! ^= 0xff;
    }
    res.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(status === 206 && { 'content-range': `bytes ${start}-${end}/${bytes.length}` }),
      ...headers,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const cut = switches.cut && switches.cut.file === name && switches.cut.times > 0 ? switches.cut : undefined;
    let sent = 0;
    const CHUNK = 1 << 16;
    const pump = () => {
      while (sent < body.length) {
        let n = Math.min(CHUNK, body.length - sent);
        if (cut && start + sent + n > cut.afterBytes) {
          n = Math.max(0, cut.afterBytes - start - sent);
          if (n > 0) {
            res.write(body.subarray(sent, sent + n));
            state.bytesServed += n;
            sent += n;
          }
          cut.times--;
          // Flush what was written, then drop the connection without ending the response.
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        const ok = res.write(body.subarray(sent, sent + n));
        state.bytesServed += n;
        sent += n;
        if (switches.chunkDelayMs !== undefined && sent < body.length) {
          setTimeout(pump, switches.chunkDelayMs);
          return;
        }
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };

  const failNow = (req: IncomingMessage, res: ServerResponse): boolean => {
    const f = switches.fail;
    if (!f || f.times <= 0 || (f.path && !f.path.test(req.url ?? ''))) return false;
    f.times--;
    res.writeHead(f.status, { 'content-type': 'text/plain', ...(f.retryAfter !== undefined && { 'retry-after': f.retryAfter }) });
    res.end(`injected ${f.status}`);
    return true;
  };

  const cdn = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push({ method: req.method ?? '', host: 'cdn', path });
    if (failNow(req, res)) return;
    const blob = blobs.get(path.slice(1));
    if (!blob) {
      res.writeHead(404);
      res.end();
      return;
    }
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '';
    serveBytes(req, res, blob, name, { etag: `"${path.slice(1)}"` });
  });
  const cdnUrl = await listen(cdn);

  /** Find the repo id at the start of `segs` (one or two segments) and the rest. */
  const splitRepo = (segs: string[]): { repo: string; rest: string[] } | undefined => {
    for (const n of [2, 1]) {
      const repo = segs.slice(0, n).join('/');
      if (repos.has(repo)) return { repo, rest: segs.slice(n) };
    }
    return undefined;
  };
  const commitOf = (r: HubRepoState, rev: string): HubCommit | undefined => {
    const sha = r.refs.get(rev) ?? (rev === 'HEAD' ? r.refs.get('main') : rev);
    return r.commits.find((c) => c.sha === sha);
  };
  const authorized = (req: IncomingMessage, repo: string) => {
    const token = switches.gated.get(repo);
    return token === undefined || req.headers.authorization === `Bearer ${token}`;
  };
  const entry = (path: string, f: HubFile, c: HubCommit) => ({
    type: 'file',
    path,
    size: sizeOf(f),
    oid: gitOidOf(f),
    ...(lfsOf(path, f) && { lfs: { oid: sha256Of(f), size: sizeOf(f), pointerSize: 134 } }),
    lastCommit: { id: c.sha, title: 'commit', date: '2024-01-01T00:00:00.000Z' },
  });

  const hub = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const segs = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      requests.push({ method: req.method ?? '', host: 'hub', path: u.pathname });
      if (failNow(req, res)) return;
      const api = segs[0] === 'api' && segs[1] === 'models';
      const found = splitRepo(api ? segs.slice(2) : segs);
      if (!found) return hubError(res, 404, 'RepoNotFound', 'Repository not found');
      const { repo, rest } = found;
      if (!authorized(req, repo))
        return hubError(res, 401, 'GatedRepo', `Access to model ${repo} is restricted. You must have access to it and be authenticated.`);
      const r = repos.get(repo)!;
      if (api) {
        const [kind, rev = 'main', ...sub] = rest;
        const c = commitOf(r, rev);
        if (!c) return hubError(res, 404, 'RevisionNotFound', `Revision Not Found for url ${u.pathname}`);
        if (kind === 'revision' && req.method === 'GET')
          return json(res, 200, {
            _id: `id-${repo}`,
            id: repo,
            sha: c.sha,
            siblings: [...c.files.keys()].map((rfilename) => ({ rfilename })),
            private: false,
            gated: switches.gated.has(repo) ? 'manual' : false,
            downloads: 0,
            likes: 0,
            lastModified: '2024-01-01T00:00:00.000Z',
            pipeline_tag: 'text-generation',
          });
        if (kind === 'tree' && req.method === 'GET') {
          const prefix = sub.join('/');
          return json(
            res,
            200,
            [...c.files].filter(([p]) => !prefix || p.startsWith(`${prefix}/`)).map(([p, f]) => entry(p, f, c)),
          );
        }
        if (kind === 'paths-info' && req.method === 'POST') {
          const body = JSON.parse(await readBody(req)) as { paths: string[] };
          return json(
            res,
            200,
            body.paths.flatMap((p) => {
              const f = c.files.get(p);
              return f ? [entry(p, f, c)] : [];
            }),
          );
        }
        return hubError(res, 404, 'NotFound', 'no such API route');
      }
      const [kind, rev = 'main', ...fileSegs] = rest;
      if (kind !== 'resolve') return hubError(res, 404, 'NotFound', 'no such route');
      const c = commitOf(r, rev);
      if (!c) return hubError(res, 404, 'RevisionNotFound', `Revision Not Found for url ${u.pathname}`);
      const path = fileSegs.join('/');
      const f = c.files.get(path);
      if (!f) return hubError(res, 404, 'EntryNotFound', `${path} does not exist on "${rev}"`);
      const common = { 'x-repo-commit': c.sha };
      if (lfsOf(path, f)) {
        const oid = sha256Of(f);
        res.writeHead(302, {
          location: `${cdnUrl}/${oid}?name=${encodeURIComponent(path)}`,
          'x-linked-etag': `"${oid}"`,
          'x-linked-size': String(sizeOf(f)),
          etag: `"${gitOidOf(f)}"`,
          ...common,
        });
        res.end();
        return;
      }
      serveBytes(req, res, f, path, { etag: `"${gitOidOf(f)}"`, ...common });
    })().catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  const url = await listen(hub);

  let counter = 0;
  const server: HubServer = {
    url,
    cdnUrl,
    repos,
    switches,
    get bytesServed() {
      return state.bytesServed;
    },
    set bytesServed(v: number) {
      state.bytesServed = v;
    },
    requests,
    addCommit(repo, files, branch = 'main') {
      const map = new Map<string, HubFile>();
      for (const [p, v] of Object.entries(files)) {
        const f: HubFile = v instanceof Uint8Array ? { bytes: v } : v;
        map.set(p, f);
        if (lfsOf(p, f) || f.disk) blobs.set(sha256Of(f), f);
      }
      const h = createHash('sha1').update(`${repo}\0${counter++}`);
      for (const [p, f] of map) h.update(p).update(f.disk ? f.disk.sha256 : f.bytes);
      const sha = h.digest('hex');
      const r = repos.get(repo) ?? { commits: [], refs: new Map<string, string>() };
      r.commits.push({ sha, files: map });
      r.refs.set(branch, sha);
      repos.set(repo, r);
      return sha;
    },
    reset() {
      state.bytesServed = 0;
      requests.length = 0;
      delete switches.cut;
      delete switches.fail;
      delete switches.wrongRange;
      delete switches.corrupt;
      delete switches.chunkDelayMs;
    },
    async close() {
      await Promise.all(
        [hub, cdn].map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      );
    },
  };
  return server;
}

/** A file on disk as a HubFile (its sha256 computed by streaming it once). */
export async function diskFile(path: string): Promise<HubFile> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 4 << 20 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { bytes: new Uint8Array(0), disk: { path, size, sha256: h.digest('hex') } };
}
