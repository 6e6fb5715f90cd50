/**
 * The fetch every hub request goes through (handed to @huggingface/hub as its `fetch`): counts
 * requests, retries transient failures (connection reset or refused mid-run, 5xx, 429 with
 * Retry-After) with exponential backoff, remembers the hub's X-Error-Code of a failed answer (the
 * client keeps only the status), and refuses a range answer of the wrong length: a 206 whose
 * Content-Range is not the range asked for, or a 200 to a range that does not start at 0, is an
 * error, never silent data.
 *
 * Downloads read their bytes through `download`, the same rules without fetch: fetch copies every
 * chunk twice more (into llhttp's WebAssembly memory, then into a new Uint8Array for the web
 * stream) and resolves a promise per chunk, which made the transfer's thread spend about a CPU
 * second per GB. Each hop is one GET of receive.ts, whose body is read straight into the caller's
 * buffers; an answer it cannot frame (chunked) is asked for again over node:http(s).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { WeightWatcherError } from '../shared/errors.js';
import { chunkSource, requestDirect, type ByteSource, type ByteTarget } from './receive.js';

export interface RetryPolicy {
  /** Attempts per request, the first included (default 5). */
  readonly attempts?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  readonly baseDelayMs?: number;
  /** Longest wait, also the cap on Retry-After (default 30 000). */
  readonly maxDelayMs?: number;
}

/** What the retry loop and the range check read of an answer (a fetch Response or a node:http one). */
interface Answer {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
}

/** A download's answer; `body.cancel` drops the connection. */
export interface DownloadAnswer extends Answer {
  readonly body: ByteSource;
}

export interface HubFetch {
  readonly fetch: typeof fetch;
  /** GET over node:http(s) for big bodies (see the module comment); redirects are followed. */
  /** `keepAlive`: keep the connections for the next request (range reads); a download closes them. */
  readonly download: (
    url: string,
    init: { readonly headers?: Record<string, string>; readonly keepAlive?: boolean },
  ) => Promise<DownloadAnswer>;
  /** Requests sent (retries included). */
  requests: number;
  /** X-Error-Code of the last failed answer ('RepoNotFound', 'RevisionNotFound', 'GatedRepo', …). */
  lastErrorCode: string | undefined;
}

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Retry-After in ms (seconds or an HTTP date), or undefined. */
function retryAfterMs(h: string | null): number | undefined {
  if (h === null) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** The `bytes=a-b` a request asked for, if any. */
function requestedRange(
  init: { readonly headers?: RequestInit['headers'] } | undefined,
): { start: number; end: number | undefined } | undefined {
  const h = new Headers(init?.headers);
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.get('range') ?? '');
  return m ? { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) } : undefined;
}

/** Throws when a range answer does not hold exactly the bytes asked for. */
function checkRangeAnswer(url: string, init: { readonly headers?: RequestInit['headers'] } | undefined, res: Answer): void {
  const want = requestedRange(init);
  if (!want || !res.ok) return;
  if (res.status === 200) {
    if (want.start > 0)
      throw new WeightWatcherError('E_IO', `${url}: the server ignored the byte range ${want.start}- (answered 200 with the whole file)`);
    return;
  }
  if (res.status !== 206) return;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  const len = res.headers.get('content-length');
  const bad = (why: string) =>
    new WeightWatcherError('E_IO', `${url}: wrong range answer for bytes=${want.start}-${want.end ?? ''}: ${why}`);
  if (!m) throw bad(`Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  const total = m[3] === '*' ? undefined : Number(m[3]);
  const wantEnd =
    want.end === undefined ? (total === undefined ? end : total - 1) : Math.min(want.end, total === undefined ? want.end : total - 1);
  if (start !== want.start || end !== wantEnd) throw bad(`got bytes ${start}-${end}`);
  if (len !== null && Number(len) !== end - start + 1) throw bad(`Content-Length ${len} for ${end - start + 1} bytes`);
}

/** A network failure (not an HTTP answer) worth retrying. */
export function isTransientNetworkError(e: unknown): boolean {
  if (e instanceof WeightWatcherError) return false;
  const code = (e as { cause?: { code?: string } } | undefined)?.cause?.code ?? (e as { code?: string } | undefined)?.code;
  return (
    e instanceof TypeError ||
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN'].includes(code ?? '')
  );
}

export function backoffMs(attempt: number, policy: RetryPolicy): number {
  const base = policy.baseDelayMs ?? 500;
  return Math.min(policy.maxDelayMs ?? 30_000, base * 2 ** attempt);
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const IDLE_TIMEOUT_MS = 300_000;

function get(url: URL, headers: Record<string, string>, tls: ConnectionOptions | undefined): Promise<IncomingMessage> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new WeightWatcherError('E_IO', `${url.href}: cannot download over ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { headers, ...tls }, (res) => {
      // Errors reach whoever reads the body (its iterator); until then, an error must not crash the process.
      res.on('error', () => {});
      resolve(res);
    });
    req.on('error', reject);
    // fetch gives up on a silent connection after 300 s (undici's body timeout); so does this, as a
    // transient failure (retried, the download resuming where it stopped).
    req.setTimeout(IDLE_TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error(`no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    req.end();
  });
}

/** A redirect's body (a line of HTML) is read and dropped, up to this size; a longer one closes the connection. */
const REDIRECT_BODY_MAX = 64 << 10;
const scratch = new Uint8Array(16 << 10);
const discard: ByteTarget = { space: () => scratch, commit: () => {}, ready: async () => {} };

/** The answer of one node:http(s) GET, for bodies receive.ts does not frame. */
async function getOverNodeHttp(url: URL, headers: Record<string, string>, tls: ConnectionOptions | undefined): Promise<DownloadAnswer> {
  const res = await get(url, headers, tls);
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
    body: chunkSource(res as AsyncIterable<Uint8Array>, async () => void res.destroy()),
  };
}

/** GET with redirects followed; credentials go only to the origin they were given for, as fetch does. */
async function getFollowing(
  url: string,
  headers: Record<string, string>,
  tls: ConnectionOptions | undefined,
  keepAlive: boolean,
): Promise<DownloadAnswer> {
  let u = new URL(url);
  let h = headers;
  for (let hops = 0; ; hops++) {
    const res = await requestDirect(u, h, { idleTimeoutMs: IDLE_TIMEOUT_MS, keepAlive, ...(tls && { tls }) });
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || location === null) {
      const ok = res.status >= 200 && res.status < 300;
      if (ok && res.source === undefined) {
        // Chunked, or read until the connection closes: node:http frames that.
        await res.cancel();
        return getOverNodeHttp(u, h, tls);
      }
      return {
        ok,
        status: res.status,
        headers: res.headers,
        body: res.source ?? {
          receive: () => Promise.reject(new WeightWatcherError('E_IO', `${u.host}: HTTP ${res.status} has no body to download`)),
          cancel: res.cancel,
        },
      };
    }
    // A kept-alive connection can serve the next request once the redirect's own (small) body is read.
    if (keepAlive && res.source) await res.source.receive(discard, REDIRECT_BODY_MAX).catch(() => res.cancel());
    else await res.cancel();
    if (hops >= 10) throw new WeightWatcherError('E_IO', `${url}: more than 10 redirects`);
    const next = new URL(location, u);
    if (next.origin !== u.origin) h = Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'authorization'));
    u = next;
  }
}

/** Send (and resend) one request under the retry policy; the answer's range is checked. */
async function retrying<R extends Answer>(
  state: HubFetch,
  policy: RetryPolicy,
  url: string,
  init: { readonly headers?: RequestInit['headers'] } | undefined,
  send: () => Promise<R>,
  discard: (r: R) => Promise<void> | undefined,
): Promise<R> {
  const attempts = policy.attempts ?? 5;
  for (let attempt = 0; ; attempt++) {
    let res: R;
    try {
      state.requests++;
      res = await send();
    } catch (e) {
      if (attempt + 1 >= attempts || !isTransientNetworkError(e)) throw e;
      await sleep(backoffMs(attempt, policy));
      continue;
    }
    if (TRANSIENT_STATUS.has(res.status) && attempt + 1 < attempts) {
      const wait = retryAfterMs(res.headers.get('retry-after'));
      await discard(res);
      await sleep(Math.min(policy.maxDelayMs ?? 30_000, wait ?? backoffMs(attempt, policy)));
      continue;
    }
    if (!res.ok) state.lastErrorCode = res.headers.get('x-error-code') ?? undefined;
    try {
      checkRangeAnswer(url, init, res);
    } catch (e) {
      await discard(res);
      throw e;
    }
    return res;
  }
}

/**
 * `tls`: extra options for the downloads' TLS connections (tests: a private CA; fetch's own
 * connections are undici's).
 */
export function hubFetch(policy: RetryPolicy = {}, inner: typeof fetch = globalThis.fetch, tls?: ConnectionOptions): HubFetch {
  const state: HubFetch = {
    requests: 0,
    lastErrorCode: undefined,
    fetch: (input, init) =>
      retrying(
        state,
        policy,
        typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
        init,
        () => inner(input, init),
        (r) => r.body?.cancel(),
      ),
    download: (url, init) =>
      retrying(
        state,
        policy,
        url,
        init,
        () => getFollowing(url, init.headers ?? {}, tls, init.keepAlive === true),
        (r) => r.body.cancel(),
      ),
  };
  return state;
}
