/**
 * The fetch every hub request goes through (handed to @huggingface/hub as its `fetch`): counts
 * requests, retries transient failures (connection reset or refused mid-run, 5xx, 429 with
 * Retry-After) with exponential backoff, remembers the hub's X-Error-Code of a failed answer (the
 * client keeps only the status), and refuses a range answer of the wrong length: a 206 whose
 * Content-Range is not the range asked for, or a 200 to a range that does not start at 0, is an
 * error, never silent data.
 */
import { WeightWatcherError } from '../shared/errors.js';

export interface RetryPolicy {
  /** Attempts per request, the first included (default 5). */
  readonly attempts?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  readonly baseDelayMs?: number;
  /** Longest wait, also the cap on Retry-After (default 30 000). */
  readonly maxDelayMs?: number;
}

export interface HubFetch {
  readonly fetch: typeof fetch;
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
function requestedRange(init: RequestInit | undefined): { start: number; end: number | undefined } | undefined {
  const h = new Headers(init?.headers);
  const m = /^bytes=(\d+)-(\d*)$/.exec(h.get('range') ?? '');
  return m ? { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) } : undefined;
}

/** Throws when a range answer does not hold exactly the bytes asked for. */
function checkRangeAnswer(url: string, init: RequestInit | undefined, res: Response): void {
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

export function hubFetch(policy: RetryPolicy = {}, inner: typeof fetch = globalThis.fetch): HubFetch {
  const state: HubFetch = {
    requests: 0,
    lastErrorCode: undefined,
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const attempts = policy.attempts ?? 5;
      for (let attempt = 0; ; attempt++) {
        let res: Response;
        try {
          state.requests++;
          res = await inner(input, init);
        } catch (e) {
          if (attempt + 1 >= attempts || !isTransientNetworkError(e)) throw e;
          await sleep(backoffMs(attempt, policy));
          continue;
        }
        if (TRANSIENT_STATUS.has(res.status) && attempt + 1 < attempts) {
          const wait = retryAfterMs(res.headers.get('retry-after'));
          await res.body?.cancel();
          await sleep(Math.min(policy.maxDelayMs ?? 30_000, wait ?? backoffMs(attempt, policy)));
          continue;
        }
        if (!res.ok) state.lastErrorCode = res.headers.get('x-error-code') ?? undefined;
        checkRangeAnswer(url, init, res);
        return res;
      }
    },
  };
  return state;
}
