/**
 * The bytes of a download, read from the socket straight into the buffers they are written and
 * hashed from (download.ts's ring). node:http hands each read over in a new buffer, which the ring
 * then copies: for a 2 GB file that was half a CPU second of allocation, copying and garbage
 * collection on the receiving thread, on a machine where the hash and the writes need the CPU too
 * (docs/performance.md, "Models by name"). Here a socket's `onread` option (Node's net and tls docs:
 * "a reusable chunk of memory … or a function that returns such") makes every read land in the
 * unfilled part of the current ring buffer, and a read can fill a whole 256 KiB buffer at once.
 *
 * That needs the HTTP/1.1 response framing done here: one GET per connection (`Connection: close`),
 * its head parsed from a separate buffer, then exactly Content-Length body bytes. An answer framed
 * otherwise (chunked, or read until close) says so (`source` undefined) and the caller asks again
 * over node:http. Redirects, retries and the range check stay with the caller (http.ts).
 */
import { connect as netConnect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { WeightWatcherError } from '../shared/errors.js';

/** Where received bytes go: a sequence of buffers to fill. */
export interface ByteTarget {
  /** The free space the next bytes go to, or undefined when there is none yet (then wait for `ready`). */
  space(): Uint8Array | undefined;
  /** The first `n` bytes of the last `space()` now hold the next bytes. */
  commit(n: number): void;
  /** Settles when `space()` has room again; rejects when the target failed (a write, the hash). */
  ready(): Promise<void>;
}

/** A response body. */
export interface ByteSource {
  /** Put the whole body into `target`; more than `maxBytes` is an error. */
  receive(target: ByteTarget, maxBytes: number): Promise<void>;
  /** Drop the connection (the body is not wanted). */
  readonly cancel: () => Promise<void>;
}

/** Copy as much of `bytes` as the target has room for right now; returns the count copied. */
export function copySome(target: ByteTarget, bytes: Uint8Array): number {
  let off = 0;
  while (off < bytes.length) {
    const room = target.space();
    if (room === undefined || room.length === 0) break;
    const n = Math.min(room.length, bytes.length - off);
    room.set(n === bytes.length ? bytes : bytes.subarray(off, off + n));
    target.commit(n);
    off += n;
  }
  return off;
}

/** Copy all of `bytes`, waiting for room. */
export async function copyAll(target: ByteTarget, bytes: Uint8Array): Promise<void> {
  for (let off = copySome(target, bytes); off < bytes.length; off += copySome(target, bytes.subarray(off))) await target.ready();
}

function tooMuch(maxBytes: number): WeightWatcherError {
  return new WeightWatcherError('E_IO', `the server sent more than the ${maxBytes} bytes expected`);
}

/** A body that arrives as chunks (node:http, a Blob's stream): each is copied into the target. */
export function chunkSource(chunks: AsyncIterable<Uint8Array>, cancel: () => Promise<void>): ByteSource {
  return {
    async receive(target, maxBytes) {
      let got = 0;
      for await (const chunk of chunks) {
        got += chunk.length;
        if (got > maxBytes) throw tooMuch(maxBytes);
        await copyAll(target, chunk);
      }
    },
    cancel,
  };
}

export interface DirectResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  /** The body, when it is framed by Content-Length; undefined else (the connection is then closed by `cancel`). */
  readonly source: ByteSource | undefined;
  /** Drop the connection. */
  readonly cancel: () => Promise<void>;
}

export interface DirectOptions {
  /** Give up on a connection silent for this long (ms), as a transient failure. */
  readonly idleTimeoutMs: number;
  /** Extra TLS options (tests: a private CA). */
  readonly tls?: ConnectionOptions;
}

/** The head (status line and headers) must fit here. */
const HEAD_BYTES = 64 << 10;
/** Where reads go while the target has no room, or before it is known. */
const SPARE_BYTES = 64 << 10;
const CRLFCRLF = Buffer.from('\r\n\r\n');

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** A network failure the caller retries (http.ts isTransientNetworkError knows these codes). */
function transient(message: string, code: 'ECONNRESET' | 'ETIMEDOUT'): Error {
  return Object.assign(new Error(message), { code });
}

function parseHead(text: string, url: URL): { status: number; headers: Map<string, string> } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw new WeightWatcherError('E_IO', `${url.host}: not an HTTP/1.1 answer (${JSON.stringify((lines[0] ?? '').slice(0, 80))})`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new WeightWatcherError('E_IO', `${url.host}: malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

function requestText(url: URL, headers: Record<string, string>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  const given = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(headers)) {
    // A value with a line break would let it add headers of its own (the token comes from the user).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(v))
      throw new WeightWatcherError('E_USAGE', `invalid HTTP header ${JSON.stringify(k)}: names are tokens, values have no line breaks`);
    lines.push(`${k}: ${v}`);
  }
  if (!given.has('user-agent')) lines.push('User-Agent: weightwatcher');
  lines.push('Accept-Encoding: identity', 'Connection: close', '', '');
  return lines.join('\r\n');
}

/**
 * One GET over its own connection; resolves with the response head. The body is read by
 * `source.receive`, straight into the target's buffers.
 */
export function requestDirect(url: URL, headers: Record<string, string>, o: DirectOptions): Promise<DirectResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new WeightWatcherError('E_IO', `${url.href}: cannot download over ${url.protocol}`));
  let request: string;
  try {
    request = requestText(url, headers);
  } catch (e) {
    return Promise.reject(asError(e));
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));

  return new Promise<DirectResponse>((resolveHead, rejectHead) => {
    const head = Buffer.allocUnsafe(HEAD_BYTES);
    const spare = Buffer.allocUnsafe(SPARE_BYTES);
    let headLength = 0;
    let phase: 'head' | 'hold' | 'body' | 'done' | 'failed' = 'head';
    /** Body bytes that arrived outside the target's buffers (after the head, or after a pause), in order. */
    const pending: Uint8Array[] = [];
    let target: ByteTarget | undefined;
    let remaining = 0;
    let waiting = false;
    let body: { resolve: () => void; reject: (e: Error) => void } | undefined;
    let failure: Error | undefined;
    let closed = false;
    let next: Uint8Array = head;

    const fail = (cause: unknown) => {
      if (phase === 'done' || phase === 'failed') return;
      const e = asError(cause);
      const before = phase;
      phase = 'failed';
      failure = e;
      socket.destroy();
      if (before === 'head') rejectHead(e);
      else body?.reject(e);
    };
    const finish = () => {
      phase = 'done';
      socket.destroy();
      body?.resolve();
    };
    /** Move pending bytes into the target while it has room; true when none are left. */
    const deliver = (): boolean => {
      while (pending.length > 0) {
        const first = pending[0]!;
        const n = copySome(target!, first);
        if (n < first.length) {
          pending[0] = first.subarray(n);
          return false;
        }
        pending.shift();
      }
      return true;
    };
    /** Where the next read goes: the target's room (never past the body's end), else the spare buffer. */
    const aim = (): boolean => {
      const room = pending.length === 0 ? target!.space() : undefined;
      if (room === undefined || room.length === 0) {
        next = spare;
        return false;
      }
      next = room.length > remaining ? room.subarray(0, remaining) : room;
      return true;
    };
    /** Paused: wait for room, move what is pending, and read again. */
    const wait = () => {
      if (waiting) return;
      waiting = true;
      void (async () => {
        try {
          for (;;) {
            await target!.ready();
            if (phase !== 'body') return;
            if (!deliver()) continue;
            if (remaining === 0) return finish();
            if (aim()) break;
          }
          waiting = false;
          read();
        } catch (e) {
          fail(e);
        }
      })();
    };
    /** Read on, unless the server has already closed the connection. */
    const read = () => {
      if (closed) fail(transient(`${url.host} closed the connection with ${remaining} bytes of the body still to come`, 'ECONNRESET'));
      else socket.resume();
    };

    const onRead = (n: number, buf: Uint8Array): boolean => {
      try {
        if (phase === 'head') {
          let from = Math.max(0, headLength - 3);
          headLength += n;
          for (;;) {
            const end = head.subarray(0, headLength).indexOf(CRLFCRLF, from);
            if (end < 0) {
              if (headLength === HEAD_BYTES)
                throw new WeightWatcherError('E_IO', `${url.host}: the answer's headers exceed ${HEAD_BYTES} bytes`);
              next = head.subarray(headLength);
              return true;
            }
            const { status, headers: map } = parseHead(head.toString('latin1', 0, end), url);
            if (status >= 100 && status < 200) {
              // An interim answer (103 Early Hints): the real one follows.
              head.copy(head, 0, end + 4, headLength);
              headLength -= end + 4;
              from = 0;
              continue;
            }
            if (headLength > end + 4) pending.push(Buffer.from(head.subarray(end + 4, headLength)));
            phase = 'hold';
            next = spare;
            const length = map.get('content-length');
            const framed = !map.has('transfer-encoding') && length !== undefined && /^\d{1,16}$/.test(length);
            remaining = framed ? Number(length) : 0;
            resolveHead({
              status,
              headers: { get: (name) => map.get(name.toLowerCase()) ?? null },
              source: framed ? { receive, cancel } : undefined,
              cancel,
            });
            return false;
          }
        }
        if (phase !== 'body') {
          // Read before the body is asked for (or after its end): kept in order, or ignored.
          if (phase === 'hold' && n > 0) pending.push(Buffer.from(buf.subarray(0, n)));
          next = spare;
          return false;
        }
        if (buf === spare) {
          // (Past Content-Length is not the body; the target's room never reaches past it.)
          n = Math.min(n, remaining);
          pending.push(Buffer.from(spare.subarray(0, n)));
        } else target!.commit(n);
        remaining -= n;
        if (!deliver()) {
          next = spare;
          wait();
          return false;
        }
        if (remaining === 0) {
          finish();
          return false;
        }
        if (aim()) return true;
        wait();
        return false;
      } catch (e) {
        fail(e);
        return false;
      }
    };

    function receive(t: ByteTarget, maxBytes: number): Promise<void> {
      if (phase !== 'hold') return Promise.reject(failure ?? new WeightWatcherError('E_INTERNAL', 'a response body was read twice'));
      if (remaining > maxBytes) {
        void cancel();
        return Promise.reject(tooMuch(maxBytes));
      }
      target = t;
      phase = 'body';
      return new Promise<void>((resolve, reject) => {
        body = { resolve, reject };
        // Bytes past Content-Length are not the body (with Connection: close, nothing is).
        let held = 0;
        for (let i = 0; i < pending.length; i++) {
          const p = pending[i]!;
          if (held + p.length > remaining) {
            pending[i] = p.subarray(0, remaining - held);
            pending.length = i + 1;
          }
          held += pending[i]!.length;
        }
        remaining -= held;
        if (!deliver()) return wait();
        if (remaining === 0) return finish();
        if (aim()) read();
        else wait();
      });
    }

    async function cancel(): Promise<void> {
      if (phase === 'hold' || phase === 'head') phase = 'done';
      socket.destroy();
    }

    const onread: OnReadOpts = { buffer: () => next, callback: onRead };
    const socket: Socket =
      url.protocol === 'https:'
        ? // tls.connect takes `onread` as net.connect does (Node's tls docs); @types/node does not list it.
          tlsConnect({
            host,
            port,
            ...(isIP(host) === 0 && { servername: host }),
            ALPNProtocols: ['http/1.1'],
            ...o.tls,
            onread,
          } as ConnectionOptions)
        : netConnect({ host, port, onread });
    socket.setNoDelay(true);
    socket.setTimeout(o.idleTimeoutMs, () =>
      fail(transient(`no data from ${url.host} for ${Math.round(o.idleTimeoutMs / 1000)} s`, 'ETIMEDOUT')),
    );
    socket.on(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.on('error', fail);
    socket.on('close', () => {
      closed = true;
      // (With the whole body arrived, some may still wait for room in the target: not a failure.)
      if (phase === 'head' || (phase === 'body' && remaining > 0))
        fail(
          transient(
            phase === 'head'
              ? `${url.host} closed the connection before answering`
              : `${url.host} closed the connection with ${remaining} bytes of the body still to come`,
            'ECONNRESET',
          ),
        );
    });
  });
}
