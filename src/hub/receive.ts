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
  /** Keep the connection for the next request to the same origin (range reads); else `Connection: close`. */
  readonly keepAlive?: boolean;
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

function requestText(url: URL, headers: Record<string, string>, keepAlive: boolean): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  const given = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(headers)) {
    // A value with a line break would let it add headers of its own (the token comes from the user).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n\0]/.test(v))
      throw new WeightWatcherError('E_USAGE', `invalid HTTP header ${JSON.stringify(k)}: names are tokens, values have no line breaks`);
    lines.push(`${k}: ${v}`);
  }
  if (!given.has('user-agent')) lines.push('User-Agent: weightwatcher');
  lines.push('Accept-Encoding: identity', `Connection: ${keepAlive ? 'keep-alive' : 'close'}`, '', '');
  return lines.join('\r\n');
}

/** An idle kept-alive connection is closed after this long (servers' own timeouts are 5 s and up: Node's default, nginx's 75 s). */
const KEEP_ALIVE_IDLE_MS = 4000;
/** Idle connections kept per origin. */
const KEEP_ALIVE_PER_ORIGIN = 8;

/** Idle connections by origin (and TLS options, by identity). */
const idle = new Map<string, Set<Connection>>();
const tlsIds = new WeakMap<object, number>();
let nextTlsId = 1;
function poolKey(url: URL, o: DirectOptions): string {
  if (o.tls === undefined) return url.origin;
  let id = tlsIds.get(o.tls);
  if (id === undefined) tlsIds.set(o.tls, (id = nextTlsId++));
  return `${url.origin}#${id}`;
}

/**
 * One GET at a time over one connection; resolves with the response head. The body is read by
 * `source.receive`, straight into the target's buffers. With `keepAlive`, a connection whose answer
 * was read to its end (and that the server keeps open) waits for the next request to its origin.
 */
export function requestDirect(url: URL, headers: Record<string, string>, o: DirectOptions): Promise<DirectResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return Promise.reject(new WeightWatcherError('E_IO', `${url.href}: cannot download over ${url.protocol}`));
  let request: string;
  try {
    request = requestText(url, headers, o.keepAlive === true);
  } catch (e) {
    return Promise.reject(asError(e));
  }
  if (o.keepAlive) {
    const pool = idle.get(poolKey(url, o));
    const reused = pool?.values().next().value;
    if (reused !== undefined) {
      pool!.delete(reused);
      // A connection the server closed while it waited fails before any byte of an answer: ask again on a new one.
      return reused.request(url, request).catch((e: unknown) => {
        if ((e as { staleConnection?: boolean }).staleConnection) return new Connection(url, o).request(url, request);
        throw e;
      });
    }
  }
  return new Connection(url, o).request(url, request);
}

/** A socket whose reads go where the current exchange says (`onread`'s buffer and callback are the socket's for life). */
class Connection {
  private readonly socket: Socket;
  private readonly key: string;
  private readonly head = Buffer.allocUnsafe(HEAD_BYTES);
  private readonly spare = Buffer.allocUnsafe(SPARE_BYTES);
  private next: Uint8Array = this.head;
  private connected = false;
  private closed = false;
  /** Requests made on this connection. */
  private requests = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private x: Exchange | undefined;

  constructor(
    private url: URL,
    private readonly o: DirectOptions,
  ) {
    this.key = poolKey(url, o);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const onread: OnReadOpts = { buffer: () => this.next, callback: (n, buf) => this.onRead(n, buf) };
    this.socket =
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
    this.socket.setNoDelay(true);
    this.socket.setTimeout(o.idleTimeoutMs, () =>
      this.fail(transient(`no data from ${this.url.host} for ${Math.round(o.idleTimeoutMs / 1000)} s`, 'ETIMEDOUT')),
    );
    this.socket.on(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      if (this.x) this.socket.write(this.x.request);
    });
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => {
      this.closed = true;
      this.leavePool();
      const x = this.x;
      // (With the whole body arrived, some may still wait for room in the target: not a failure.)
      if (x && (x.phase === 'head' || (x.phase === 'body' && x.remaining > 0)))
        this.fail(
          x.phase === 'head'
            ? Object.assign(transient(`${this.url.host} closed the connection before answering`, 'ECONNRESET'), {
                staleConnection: this.requests > 1 && x.headLength === 0,
              })
            : transient(`${this.url.host} closed the connection with ${x.remaining} bytes of the body still to come`, 'ECONNRESET'),
        );
    });
  }

  request(url: URL, request: string): Promise<DirectResponse> {
    this.url = url;
    this.clearIdle();
    return new Promise<DirectResponse>((resolveHead, rejectHead) => {
      this.x = {
        request,
        resolveHead,
        rejectHead,
        phase: 'head',
        headLength: 0,
        pending: [],
        target: undefined,
        remaining: 0,
        waiting: false,
        body: undefined,
        failure: undefined,
        reusable: false,
      };
      this.next = this.head;
      if (this.requests++ > 0) {
        this.socket.write(request);
        this.socket.resume();
      } else if (this.connected) this.socket.write(request);
    });
  }

  private fail(cause: unknown): void {
    const x = this.x;
    this.socket.destroy();
    this.leavePool();
    if (!x || x.phase === 'done' || x.phase === 'failed') return;
    const e = asError(cause);
    const before = x.phase;
    x.phase = 'failed';
    x.failure = e;
    if (before === 'head') x.rejectHead(e);
    else x.body?.reject(e);
  }

  /** The body is complete: keep the connection for the next request, or close it. */
  private finish(x: Exchange, inCallback: boolean): boolean {
    x.phase = 'done';
    const keep = this.o.keepAlive === true && x.reusable && !this.closed && x.pending.length === 0;
    if (!keep) this.socket.destroy();
    else {
      // Read on (into the head buffer) while idle, to see the server close it.
      this.next = this.head;
      this.x = undefined;
      let pool = idle.get(this.key);
      if (!pool) idle.set(this.key, (pool = new Set()));
      if (pool.size >= KEEP_ALIVE_PER_ORIGIN) this.socket.destroy();
      else {
        pool.add(this);
        this.idleTimer = setTimeout(() => this.socket.destroy(), KEEP_ALIVE_IDLE_MS).unref();
        this.socket.unref();
        if (!inCallback) this.socket.resume();
      }
    }
    x.body?.resolve();
    return keep;
  }

  private leavePool(): void {
    this.clearIdle();
    idle.get(this.key)?.delete(this);
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.socket.ref();
  }

  /** Move pending bytes into the target while it has room; true when none are left. */
  private deliver(x: Exchange): boolean {
    while (x.pending.length > 0) {
      const first = x.pending[0]!;
      const n = copySome(x.target!, first);
      if (n < first.length) {
        x.pending[0] = first.subarray(n);
        return false;
      }
      x.pending.shift();
    }
    return true;
  }

  /** Where the next read goes: the target's room (never past the body's end), else the spare buffer. */
  private aim(x: Exchange): boolean {
    const room = x.pending.length === 0 ? x.target!.space() : undefined;
    if (room === undefined || room.length === 0) {
      this.next = this.spare;
      return false;
    }
    this.next = room.length > x.remaining ? room.subarray(0, x.remaining) : room;
    return true;
  }

  /** Paused: wait for room, move what is pending, and read again. */
  private wait(x: Exchange): void {
    if (x.waiting) return;
    x.waiting = true;
    void (async () => {
      try {
        for (;;) {
          await x.target!.ready();
          if (x.phase !== 'body') return;
          if (!this.deliver(x)) continue;
          if (x.remaining === 0) return void this.finish(x, false);
          if (this.aim(x)) break;
        }
        x.waiting = false;
        this.read(x);
      } catch (e) {
        this.fail(e);
      }
    })();
  }

  /** Read on, unless the server has already closed the connection. */
  private read(x: Exchange): void {
    if (this.closed)
      this.fail(transient(`${this.url.host} closed the connection with ${x.remaining} bytes of the body still to come`, 'ECONNRESET'));
    else this.socket.resume();
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    const x = this.x;
    try {
      if (x === undefined) {
        // Idle: a kept-alive connection has nothing to say until asked. Close it.
        if (n > 0) this.socket.destroy();
        return false;
      }
      if (x.phase === 'head') {
        const head = this.head;
        // The read went where the previous exchange last pointed (the spare buffer, when a kept-alive
        // connection's body ended outside a read): move it to the head buffer.
        if (n > 0 && (buf.buffer !== head.buffer || buf.byteOffset !== head.byteOffset + x.headLength)) {
          if (x.headLength + n > HEAD_BYTES)
            throw new WeightWatcherError('E_IO', `${this.url.host}: the answer's headers exceed ${HEAD_BYTES} bytes`);
          head.set(buf.subarray(0, n), x.headLength);
        }
        let from = Math.max(0, x.headLength - 3);
        x.headLength += n;
        for (;;) {
          const end = head.subarray(0, x.headLength).indexOf(CRLFCRLF, from);
          if (end < 0) {
            if (x.headLength === HEAD_BYTES)
              throw new WeightWatcherError('E_IO', `${this.url.host}: the answer's headers exceed ${HEAD_BYTES} bytes`);
            this.next = head.subarray(x.headLength);
            return true;
          }
          const text = head.toString('latin1', 0, end);
          const { status, headers: map } = parseHead(text, this.url);
          if (status >= 100 && status < 200) {
            // An interim answer (103 Early Hints): the real one follows.
            head.copy(head, 0, end + 4, x.headLength);
            x.headLength -= end + 4;
            from = 0;
            continue;
          }
          if (x.headLength > end + 4) x.pending.push(Buffer.from(head.subarray(end + 4, x.headLength)));
          x.phase = 'hold';
          this.next = this.spare;
          const length = map.get('content-length');
          const framed = !map.has('transfer-encoding') && length !== undefined && /^\d{1,16}$/.test(length);
          x.remaining = framed ? Number(length) : 0;
          x.reusable = framed && text.startsWith('HTTP/1.1') && !/(^|,)\s*close\s*(,|$)/i.test(map.get('connection') ?? '');
          x.resolveHead({
            status,
            headers: { get: (name) => map.get(name.toLowerCase()) ?? null },
            source: framed ? { receive: (t, max) => this.receive(x, t, max), cancel: () => this.cancel(x) } : undefined,
            cancel: () => this.cancel(x),
          });
          return false;
        }
      }
      if (x.phase !== 'body') {
        // Read before the body is asked for (or after its end): kept in order, or ignored.
        if (x.phase === 'hold' && n > 0) x.pending.push(Buffer.from(buf.subarray(0, n)));
        this.next = this.spare;
        return false;
      }
      if (buf === this.spare) {
        // (Past Content-Length is not the body, and the connection is then unfit to reuse; the
        // target's room never reaches past it.)
        if (n > x.remaining) x.reusable = false;
        n = Math.min(n, x.remaining);
        x.pending.push(Buffer.from(this.spare.subarray(0, n)));
      } else x.target!.commit(n);
      x.remaining -= n;
      if (!this.deliver(x)) {
        this.next = this.spare;
        this.wait(x);
        return false;
      }
      if (x.remaining === 0) return this.finish(x, true);
      if (this.aim(x)) return true;
      this.wait(x);
      return false;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  private receive(x: Exchange, t: ByteTarget, maxBytes: number): Promise<void> {
    if (x.phase !== 'hold') return Promise.reject(x.failure ?? new WeightWatcherError('E_INTERNAL', 'a response body was read twice'));
    if (x.remaining > maxBytes) {
      void this.cancel(x);
      return Promise.reject(tooMuch(maxBytes));
    }
    x.target = t;
    x.phase = 'body';
    return new Promise<void>((resolve, reject) => {
      x.body = { resolve, reject };
      // Bytes past Content-Length are not the body (and make the connection unfit to reuse).
      let held = 0;
      for (let i = 0; i < x.pending.length; i++) {
        const p = x.pending[i]!;
        if (held + p.length > x.remaining) {
          x.pending[i] = p.subarray(0, x.remaining - held);
          x.pending.length = i + 1;
          x.reusable = false;
        }
        held += x.pending[i]!.length;
      }
      x.remaining -= held;
      if (!this.deliver(x)) return this.wait(x);
      if (x.remaining === 0) return void this.finish(x, false);
      if (this.aim(x)) this.read(x);
      else this.wait(x);
    });
  }

  private async cancel(x: Exchange): Promise<void> {
    if (x.phase === 'hold' || x.phase === 'head') x.phase = 'done';
    this.socket.destroy();
    this.leavePool();
  }
}

/** One request and its answer on a Connection. */
interface Exchange {
  readonly request: string;
  readonly resolveHead: (r: DirectResponse) => void;
  readonly rejectHead: (e: Error) => void;
  phase: 'head' | 'hold' | 'body' | 'done' | 'failed';
  headLength: number;
  /** Body bytes that arrived outside the target's buffers (after the head, or after a pause), in order. */
  readonly pending: Uint8Array[];
  target: ByteTarget | undefined;
  remaining: number;
  waiting: boolean;
  body: { resolve: () => void; reject: (e: Error) => void } | undefined;
  failure: Error | undefined;
  /** The connection may serve another request after this answer. */
  reusable: boolean;
}
