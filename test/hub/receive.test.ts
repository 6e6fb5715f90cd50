/**
 * receive.ts: the download's own HTTP/1.1 GET, whose body is read straight into the caller's
 * buffers. Against raw TCP (and TLS) servers that send exactly the bytes a test wants: heads split
 * across reads, interim 1xx answers, body bytes that arrive with the head, a target that runs out of
 * room (the socket pauses and resumes), early closes, silences, chunked answers (asked again over
 * node:http), and a private CA over HTTPS.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { hubFetch } from '../../src/hub/http.js';
import { copyAll, requestDirect, type ByteSource, type ByteTarget } from '../../src/hub/receive.js';
import { expectError } from '../helpers/errors.js';

const servers: Server[] = [];
afterAll(() => servers.forEach((s) => s.close()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP server whose connections are handled by `talk` (the request is read first). */
async function raw(talk: (s: Socket, request: string) => Promise<void> | void): Promise<URL> {
  const server = createNetServer((s) => {
    s.on('error', () => {});
    let got = '';
    s.on('data', function onData(d) {
      got += String(d);
      if (got.includes('\r\n\r\n')) {
        s.off('data', onData);
        void talk(s, got);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/file?x=1`);
}

/**
 * A ring of `slots` buffers of `size` bytes; a full buffer is "written" after `delayMs` and its
 * bytes appended to `out`, as download.ts's ring does. `readyCalls` counts the pauses.
 */
function ring(slots: number, size: number, delayMs: number) {
  const free: Uint8Array[] = Array.from({ length: slots }, () => new Uint8Array(size));
  const parts: Uint8Array[] = [];
  let current: { buf: Uint8Array; filled: number } | undefined;
  let wake: (() => void) | undefined;
  const stats = { readyCalls: 0, commits: 0 };
  const flushCurrent = () => {
    const c = current;
    current = undefined;
    if (!c || c.filled === 0) return;
    parts.push(c.buf.slice(0, c.filled));
    setTimeout(() => {
      free.push(c.buf);
      wake?.();
    }, delayMs);
  };
  const target: ByteTarget = {
    space() {
      if (!current) {
        const buf = free.pop();
        if (!buf) return undefined;
        current = { buf, filled: 0 };
      }
      return current.buf.subarray(current.filled);
    },
    commit(n) {
      stats.commits++;
      current!.filled += n;
      if (current!.filled === size) flushCurrent();
    },
    async ready() {
      stats.readyCalls++;
      while (!current && free.length === 0) await new Promise<void>((r) => (wake = r));
    },
  };
  return {
    target,
    stats,
    bytes: () => {
      flushCurrent();
      return Buffer.concat(parts);
    },
  };
}

const answer = (body: Uint8Array, extra = '') =>
  Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);

async function receiveAll(source: ByteSource | undefined, max = Infinity) {
  const r = ring(3, 1000, 2);
  await source!.receive(r.target, max);
  return r;
}

describe('requestDirect', () => {
  it('sends one GET with Connection: close; a head split byte by byte, a 103 first, body bytes with the head', async () => {
    const body = randomBytes(10_000);
    let request = '';
    const url = await raw(async (s, req) => {
      request = req;
      const all = Buffer.concat([Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n'), answer(body, 'X-Two: a\r\nX-Two: b\r\n')]);
      const headEnd = all.indexOf('\r\n\r\n', 60) + 4;
      for (let i = 0; i < headEnd + 10; i++) {
        s.write(all.subarray(i, i + 1));
        if (i % 16 === 0) await sleep(1);
      }
      s.end(all.subarray(headEnd + 10));
    });
    const res = await requestDirect(url, { Range: 'bytes=0-', Authorization: 'Bearer t' }, { idleTimeoutMs: 10_000 });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Two')).toBe('a, b');
    expect(res.headers.get('content-length')).toBe('10000');
    const r = await receiveAll(res.source);
    expect(Buffer.compare(r.bytes(), body)).toBe(0);
    expect(request.split('\r\n')).toEqual([
      'GET /file?x=1 HTTP/1.1',
      `Host: ${url.host}`,
      'Range: bytes=0-',
      'Authorization: Bearer t',
      'User-Agent: weightwatcher',
      'Accept-Encoding: identity',
      'Connection: close',
      '',
      '',
    ]);
  });

  it('reads into the target; pauses while it has no room and resumes, bytes in order', async () => {
    const body = randomBytes(3 << 20);
    const url = await raw((s) => void s.end(answer(body)));
    const res = await requestDirect(url, {}, { idleTimeoutMs: 10_000 });
    const r = ring(2, 64 << 10, 5);
    await res.source!.receive(r.target, body.length);
    expect(Buffer.compare(r.bytes(), body)).toBe(0);
    // The ring (2 × 64 KiB, each buffer busy 5 ms) ran out of room again and again.
    expect(r.stats.readyCalls).toBeGreaterThan(5);
  });

  it('stops at Content-Length: bytes after it are never read as body', async () => {
    const body = randomBytes(5000);
    const url = await raw((s) => void s.end(Buffer.concat([answer(body), Buffer.from('trailing garbage')])));
    const r = await receiveAll((await requestDirect(url, {}, { idleTimeoutMs: 10_000 })).source);
    expect(Buffer.compare(r.bytes(), body)).toBe(0);
  });

  it('a connection closed early is a transient error (ECONNRESET) saying how much was missing', async () => {
    const url = await raw(
      (s) => void s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n'), randomBytes(4000)])),
    );
    const res = await requestDirect(url, {}, { idleTimeoutMs: 10_000 });
    const r = ring(3, 1000, 0);
    await expect(res.source!.receive(r.target, 1e9)).rejects.toMatchObject({
      code: 'ECONNRESET',
      message: expect.stringMatching(/96000 bytes of the body still to come/),
    });
    // What arrived before the cut is in the target (the download keeps it and resumes after it).
    expect(r.bytes().length).toBe(4000);
    const closed = await raw((s) => void s.end('HTTP/1.1 200 OK\r\nContent-'));
    await expect(requestDirect(closed, {}, { idleTimeoutMs: 10_000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('silence is a transient error (ETIMEDOUT); a body larger than allowed, bad headers and bad answers are errors', async () => {
    const silent = await raw((s) => void s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'));
    const res = await requestDirect(silent, {}, { idleTimeoutMs: 200 });
    await expect(res.source!.receive(ring(1, 100, 0).target, 100)).rejects.toMatchObject({ code: 'ETIMEDOUT' });

    const big = await raw((s) => void s.end(answer(randomBytes(500))));
    await expectError(
      (async () => (await requestDirect(big, {}, { idleTimeoutMs: 10_000 })).source!.receive(ring(1, 1000, 0).target, 499))(),
      'E_IO',
      'more than the 499 bytes expected',
    );
    await expectError(requestDirect(big, { Authorization: 'Bearer x\r\nX-Evil: 1' }, { idleTimeoutMs: 1000 }), 'E_USAGE', 'no line breaks');
    const notHttp = await raw((s) => void s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expectError(requestDirect(notHttp, {}, { idleTimeoutMs: 1000 }), 'E_IO', 'not an HTTP/1.1 answer');
    const huge = await raw((s) => void s.end(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`));
    await expectError(requestDirect(huge, {}, { idleTimeoutMs: 1000 }), 'E_IO', 'headers exceed');
  });

  it('a chunked answer has no direct source; hubFetch.download asks again over node:http and gets the same bytes', async () => {
    const body = randomBytes(200_000);
    let requests = 0;
    const server = createHttpServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(body.subarray(0, 1000));
      res.end(body.subarray(1000));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/c`;
    const direct = await requestDirect(new URL(url), {}, { idleTimeoutMs: 10_000 });
    expect(direct.source).toBeUndefined();
    await direct.cancel();
    const res = await hubFetch({ baseDelayMs: 1 }).download(url, {});
    const r = await receiveAll(res.body);
    expect(Buffer.compare(r.bytes(), body)).toBe(0);
    expect(requests).toBe(3);
  });
});

describe('kept-alive connections (range reads)', () => {
  /** A node:http server counting its connections; `handler` answers each request. */
  async function counted(handler: Parameters<typeof createHttpServer>[1]) {
    const server = createHttpServer(handler);
    const stats = { connections: 0, requests: [] as string[] };
    server.on('connection', () => stats.connections++);
    server.on('request', (req) => stats.requests.push(`${req.headers.connection} ${req.headers.range ?? ''}`));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats, server };
  }
  const body = randomBytes(100_000);
  const ranged = (req: { headers: { range?: string } }, res: import('node:http').ServerResponse, extra: Record<string, string> = {}) => {
    const [a, b] = /bytes=(\d+)-(\d+)/
      .exec(req.headers.range ?? '')!
      .slice(1)
      .map(Number) as [number, number];
    res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}`, 'content-length': String(b - a + 1), ...extra });
    res.end(body.subarray(a, b + 1));
  };
  async function read(f: ReturnType<typeof hubFetch>, url: string, a: number, b: number) {
    const res = await f.download(url, { headers: { Range: `bytes=${a}-${b}` }, keepAlive: true });
    const out = new Uint8Array(b - a + 1);
    let filled = 0;
    await res.body.receive({ space: () => out.subarray(filled), commit: (n) => void (filled += n), ready: async () => {} }, out.length);
    return out;
  }

  it('ranges one after another share one connection, across a redirect whose body is read and dropped', async () => {
    const cdn = await counted((req, res) => ranged(req, res));
    const hub = await counted((_req, res) => {
      res.writeHead(302, { location: `${cdn.url}/blob`, 'content-length': '20' });
      res.end('Found. Redirecting..');
    });
    const f = hubFetch({ baseDelayMs: 1 });
    for (const [a, b] of [
      [0, 0],
      [10, 5009],
      [50_000, 99_999],
      [7, 7],
    ] as const)
      expect(Buffer.compare(await read(f, `${hub.url}/resolve`, a, b), body.subarray(a, b + 1))).toBe(0);
    expect(hub.stats.connections).toBe(1);
    expect(cdn.stats.connections).toBe(1);
    expect(cdn.stats.requests).toEqual([
      'keep-alive bytes=0-0',
      'keep-alive bytes=10-5009',
      'keep-alive bytes=50000-99999',
      'keep-alive bytes=7-7',
    ]);
  });

  it('a server that says Connection: close, or drops a kept-alive connection unanswered, gets a new one; the reads still succeed', async () => {
    const closing = await counted((req, res) => ranged(req, res, { connection: 'close' }));
    const f = hubFetch({ baseDelayMs: 1 });
    await read(f, closing.url, 0, 99);
    await read(f, closing.url, 100, 199);
    expect(closing.stats.connections).toBe(2);
    // Keeps the connection open after its answer, then drops it unanswered when the next request
    // comes: the client's reused connection fails before any byte of an answer, and it asks again.
    const served = new WeakMap<object, number>();
    const dropping = await counted((req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (n > 1) return void req.socket.destroy();
      ranged(req, res);
    });
    expect(Buffer.compare(await read(f, dropping.url, 0, 999), body.subarray(0, 1000))).toBe(0);
    expect(Buffer.compare(await read(f, dropping.url, 1000, 1999), body.subarray(1000, 2000))).toBe(0);
    expect(dropping.stats.requests).toHaveLength(3);
    expect(dropping.stats.connections).toBe(2);
  });

  it('downloads (no keepAlive) say Connection: close', async () => {
    const one = await counted((req, res) => ranged(req, res));
    const res = await hubFetch({ baseDelayMs: 1 }).download(one.url, { headers: { Range: 'bytes=0-9' } });
    await res.body.receive(ring(1, 100, 0).target, 10);
    expect(one.stats.requests).toEqual(['close bytes=0-9']);
  });
});

describe('over TLS', () => {
  let dir = '';
  const haveOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!haveOpenssl)('https with a private CA: the bytes, a redirect across hosts, the certificate checked', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ww-tls-'));
    // A self-signed certificate for localhost and 127.0.0.1.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const key = readFileSync(join(dir, 'k.pem'));
    const cert = readFileSync(join(dir, 'c.pem'));
    const body = randomBytes(1 << 20);
    const tls = createTlsServer({ key, cert }, (s) => {
      s.on('error', () => {});
      let got = '';
      s.on('data', (d) => {
        got += String(d);
        if (!got.includes('\r\n\r\n')) return;
        if (got.startsWith('GET /hop '))
          s.end(`HTTP/1.1 302 Found\r\nLocation: https://localhost:${port}/bytes\r\nContent-Length: 0\r\n\r\n`);
        else s.end(answer(body));
      });
    });
    servers.push(tls);
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const port = (tls.address() as AddressInfo).port;
    const res = await hubFetch({ baseDelayMs: 1 }, fetch, { ca: cert }).download(`https://127.0.0.1:${port}/hop`, {});
    expect(res.status).toBe(200);
    const r = ring(4, 100_000, 0);
    await res.body.receive(r.target, body.length);
    expect(Buffer.compare(r.bytes(), body)).toBe(0);
    // Without the CA the certificate is refused, and that is not retried as a network blip.
    await expect(hubFetch({ attempts: 3, baseDelayMs: 1 }).download(`https://127.0.0.1:${port}/hop`, {})).rejects.toMatchObject({
      code: expect.stringMatching(/CERT|SELF_SIGNED|UNABLE/),
    });
  });
});

describe('copyAll', () => {
  it('waits for room and keeps the order', async () => {
    const r = ring(1, 10, 1);
    const bytes = randomBytes(95);
    await copyAll(r.target, bytes.subarray(0, 33));
    await copyAll(r.target, bytes.subarray(33));
    expect(Buffer.compare(r.bytes(), bytes)).toBe(0);
  });
});
