/**
 * The download's transfer path (issue 19's download benchmark): the worker hasher gives crypto's
 * digest whatever the chunking, ensureFile's shared-memory ring writes and hashes exactly the bytes
 * received (odd chunks, chunks larger than a slot, resumed prefixes, retried cuts), and the
 * download follows redirects with credentials kept to their origin.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inlineHasher, workerHasher, WORKER_HASH_MIN_BYTES, type HashKind } from '../../src/hub/hasher.js';
import { ensureFile, type RemoteFile } from '../../src/hub/download.js';
import { BlobSink, DIRECT_MIN_BYTES, openBlobOutput, RING_BYTES_MAX } from '../../src/hub/blob-sink.js';
import { hubFetch } from '../../src/hub/http.js';
import { copyAll } from '../../src/hub/receive.js';
import { expectError } from '../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-hasher-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const reference = (kind: HashKind, bytes: Uint8Array) => {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') h.update(`blob ${bytes.length}\0`);
  return h.update(bytes).digest('hex');
};

/** Cut `bytes` at these lengths (cycled): odd sizes, empty chunks, one bigger than a 4 MiB slot. */
function* chunked(bytes: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, bytes.length - at);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}
async function* streamed(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}
const ODD = [1, 7, 65_537, 0, 3, (5 << 20) + 13, 4093, 1 << 20];

describe('worker hasher', () => {
  for (const kind of ['sha256', 'git-sha1'] as const)
    it(`${kind}: the same digest as crypto, fed odd views of shared memory, plain buffers and a file prefix`, async () => {
      const bytes = randomBytes((9 << 20) + 11);
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.length + 5), 5); // an odd byteOffset
      shared.set(bytes);
      const prefix = 3_000_001;
      const file = join(tmp, `prefix-${kind}`);
      writeFileSync(file, bytes.subarray(0, prefix + 100)); // longer than the prefix: only `length` bytes count
      const h = workerHasher(kind, bytes.length);
      try {
        await h.file(file, prefix);
        let at = prefix;
        let i = 0;
        const pending: Promise<unknown>[] = [];
        for (const c of chunked(bytes.subarray(prefix), ODD)) {
          // Shared views and ordinary copies in turn, several in flight at once: order is kept.
          if (i++ % 2 === 0) pending.push(h.update(shared.subarray(at, at + c.length)));
          else {
            const piece = new Uint8Array(c);
            pending.push(h.update(piece));
            expect(piece.length).toBe(c.length); // the caller's buffer is not detached
          }
          at += c.length;
        }
        await Promise.all(pending);
        expect(await h.digest()).toBe(reference(kind, bytes));
      } finally {
        await h.close();
      }
      const inline = inlineHasher(kind, bytes.length);
      await inline.file(file, prefix);
      for (const c of chunked(bytes.subarray(prefix), ODD)) await inline.update(c);
      expect(await inline.digest()).toBe(reference(kind, bytes));
    });

  it('a prefix longer than the file is an E_IO error; a closed hasher rejects', async () => {
    const file = join(tmp, 'short');
    writeFileSync(file, new Uint8Array(10));
    const h = workerHasher('sha256', 100);
    await expectError(h.file(file, 11), 'E_IO', '10 bytes to hash, expected 11');
    await h.close();
    await expect(h.update(new Uint8Array(3))).rejects.toThrow(/closed/);
    await expectError(inlineHasher('sha256', 100).file(file, 11), 'E_IO', 'expected 11');
  });
});

describe('ensureFile transfer path', () => {
  let n = 0;
  const remote = (bytes: Uint8Array, kind: HashKind = 'sha256'): RemoteFile => ({
    path: `w${n++}.safetensors`,
    size: bytes.length,
    etag: reference(kind, bytes),
    hash: kind,
  });

  for (const size of [WORKER_HASH_MIN_BYTES - 1, (13 << 20) + 7, (40 << 20) + 7])
    it(`${size} bytes (${size >= WORKER_HASH_MIN_BYTES ? 'worker' : 'inline'} hash${size >= DIRECT_MIN_BYTES ? ', direct I/O where the file system allows' : ''}) in odd chunks, resumed from an odd prefix after a cut`, async () => {
      const bytes = randomBytes(size);
      const repoDir = join(tmp, `repo-${n}`);
      const file = remote(bytes);
      // A previous run left 12345 bytes.
      mkdirSync(join(repoDir, 'blobs'), { recursive: true });
      writeFileSync(join(repoDir, 'blobs', `${file.etag}.incomplete`), bytes.subarray(0, 12_345));
      const starts: number[] = [];
      const cutAt = Math.floor(size * 0.6) + 1;
      const fetched = await ensureFile(
        repoDir,
        'c'.repeat(40),
        file,
        async (_f, start) => {
          starts.push(start);
          return (async function* () {
            let at = start;
            for (const c of chunked(bytes.subarray(start), ODD)) {
              // The first attempt is cut mid-chunk, as a dropped connection is.
              if (starts.length === 1 && at + c.length > cutAt) {
                yield c.subarray(0, cutAt - at);
                throw new TypeError('terminated');
              }
              yield c;
              at += c.length;
            }
          })();
        },
        { retry: { baseDelayMs: 1 } },
      );
      // Everything received before the cut was kept: the retry starts exactly there.
      expect(starts).toEqual([12_345, cutAt]);
      expect(fetched).toBe(size - 12_345);
      // (Compared by digest: vitest's toEqual walks megabytes byte by byte, for seconds.)
      expect(reference('sha256', readFileSync(join(repoDir, 'snapshots', 'c'.repeat(40), file.path)))).toBe(file.etag);
      expect(existsSync(join(repoDir, 'blobs', `${file.etag}.incomplete`))).toBe(false);
    });

  it('after a process died holding the lock, the last ring of buffers is fetched again (writes land out of order)', async () => {
    const bytes = randomBytes(24 << 20);
    const file = remote(bytes);
    const repoDir = join(tmp, 'repo-killed');
    // What a killed download may leave: 20 MiB on disk, with a hole a later write skipped over …
    const partial = Buffer.from(bytes.subarray(0, 20 << 20));
    partial.fill(0, 19 << 20, (19 << 20) + (300 << 10));
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    writeFileSync(join(repoDir, 'blobs', `${file.etag}.incomplete`), partial);
    // … and its lock, naming a process that is gone.
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    mkdirSync(join(tmp, '.locks', 'repo-killed'), { recursive: true });
    writeFileSync(join(tmp, '.locks', 'repo-killed', `${file.etag}.ww-lock`), String(dead));
    const starts: number[] = [];
    await ensureFile(repoDir, 'f'.repeat(40), file, async (_f, start) => {
      starts.push(start);
      return streamed(chunked(bytes.subarray(start), ODD));
    });
    expect(starts).toEqual([(20 << 20) - RING_BYTES_MAX]);
    expect(reference('sha256', readFileSync(join(repoDir, 'blobs', file.etag)))).toBe(file.etag);
  });

  it('git-sha1 files and a wrong digest on the worker path: E_CORRUPT, nothing kept', async () => {
    const bytes = randomBytes(3 << 20);
    const ok = remote(bytes, 'git-sha1');
    const repoDir = join(tmp, 'repo-git');
    await ensureFile(repoDir, 'd'.repeat(40), ok, async () => streamed(chunked(bytes, ODD)));
    expect(Buffer.compare(readFileSync(join(repoDir, 'blobs', ok.etag)), bytes)).toBe(0);
    const bad = { ...remote(bytes), path: 'bad.bin' };
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 1;
    await expectError(
      ensureFile(repoDir, 'd'.repeat(40), bad, async () => streamed(chunked(flipped, ODD))),
      'E_CORRUPT',
      'do not match',
    );
    expect(existsSync(join(repoDir, 'blobs', `${bad.etag}.incomplete`))).toBe(false);
    expect(existsSync(join(repoDir, 'blobs', bad.etag))).toBe(false);
  });

  it('no space left on the worker path: the cause and the fix, the transfer stopped early', async () => {
    const bytes = randomBytes(40 << 20);
    const file = remote(bytes);
    const repoDir = join(tmp, 'repo-full');
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    symlinkSync('/dev/full', join(repoDir, 'blobs', `${file.etag}.incomplete`));
    let sent = 0;
    await expectError(
      ensureFile(repoDir, 'e'.repeat(40), file, async () =>
        (async function* () {
          for (const c of chunked(bytes, [1 << 16])) {
            sent += c.length;
            yield c;
          }
        })(),
      ),
      'E_IO',
      'no space left on the device',
      'resumes',
    );
    // The first failed write stops the transfer: at most the ring (16 × 256 KiB) and a chunk past it.
    expect(sent).toBeLessThanOrEqual((4 << 20) + (1 << 16));
    expect(existsSync(join(repoDir, 'snapshots'))).toBe(false);
  });
});

describe('BlobSink', () => {
  const LOCAL_FILE_SYSTEMS = [0xef53, 0x58465342, 0x9123683e];

  it('direct I/O where the file system is local: aligned buffers direct, a resumed odd head and the tail through the page cache, the file and hash exact', async () => {
    const path = join(tmp, 'direct.incomplete');
    const bytes = randomBytes((20 << 20) + 12_345 + 777);
    const start = 12_345;
    writeFileSync(path, bytes.subarray(0, start));
    const out = await openBlobOutput(path, bytes.length - start);
    const local = LOCAL_FILE_SYSTEMS.includes(statfsSync(tmp).type);
    // (On tmpfs or a network file system the page cache is used, with the same bytes.)
    expect(out.direct !== undefined).toBe(local);
    const hasher = workerHasher('sha256', bytes.length);
    let written = 0;
    try {
      await hasher.file(path, start);
      const sink = new BlobSink(out, hasher, start, start, bytes.length - start, {
        written: (n) => void (written += n),
        writeError: (e) => e,
      });
      for (const c of chunked(bytes.subarray(start), ODD)) await copyAll(sink, c);
      await sink.flush();
      expect(await hasher.digest()).toBe(reference('sha256', bytes));
      if (local) {
        // The first buffer ends on the alignment (1 MiB less the odd part of the start), the last is partial.
        const head = (1 << 20) - (start % 4096);
        const tail = (bytes.length - start - head) % (1 << 20);
        expect(tail % 4096).not.toBe(0);
        expect(sink.directBytes).toBe(bytes.length - start - head - tail);
      } else expect(sink.directBytes).toBe(0);
    } finally {
      await out.close();
      await hasher.close();
    }
    expect(written).toBe(bytes.length - start);
    expect(reference('sha256', readFileSync(path))).toBe(reference('sha256', bytes));
  });

  it('a file system that refuses a direct write (EINVAL): that buffer and the rest through the page cache', async () => {
    const path = join(tmp, 'refused.incomplete');
    const bytes = randomBytes((3 << 20) + 5);
    const buffered = await open(path, 'w');
    let refused = 0;
    const direct = {
      write: async () => {
        refused++;
        throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
      },
      close: async () => {},
    } as unknown as FileHandle;
    const out = { buffered, direct, useDirect: true, close: () => buffered.close() };
    const hasher = inlineHasher('sha256', bytes.length);
    const sink = new BlobSink(out, hasher, 0, 0, bytes.length, { written: () => {}, writeError: (e) => e });
    for (const c of chunked(bytes, ODD)) await copyAll(sink, c);
    await sink.flush();
    await out.close();
    expect(out.useDirect).toBe(false);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(sink.directBytes).toBe(0);
    expect(await hasher.digest()).toBe(reference('sha256', bytes));
    expect(reference('sha256', readFileSync(path))).toBe(reference('sha256', bytes));
  });

  it('small files, and WW_DOWNLOAD_DIRECT=0, use the page cache', async () => {
    const path = join(tmp, 'small.incomplete');
    const small = await openBlobOutput(path, DIRECT_MIN_BYTES - 1);
    expect(small.direct).toBeUndefined();
    await small.close();
    process.env.WW_DOWNLOAD_DIRECT = '0';
    try {
      const off = await openBlobOutput(path, DIRECT_MIN_BYTES * 4);
      expect(off.direct).toBeUndefined();
      await off.close();
    } finally {
      delete process.env.WW_DOWNLOAD_DIRECT;
    }
  });
});

describe('download (redirects, ranges, retries)', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  const serve = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  it('follows redirects, keeps the range, sends the token only to its own origin, checks the range answer', async () => {
    const seen: { host: string; auth?: string; range?: string }[] = [];
    const body = Buffer.from('0123456789');
    const cdn = await serve((req, res) => {
      seen.push({
        host: 'cdn',
        ...(req.headers.authorization && { auth: req.headers.authorization }),
        ...(req.headers.range && { range: req.headers.range }),
      });
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const wrong = req.url === '/wrong' ? 1 : 0;
      res.writeHead(206, { 'content-range': `bytes ${start - wrong}-9/10`, 'content-length': String(10 - start + wrong) });
      res.end(body.subarray(start - wrong));
    });
    const hub = await serve((req, res) => {
      seen.push({ host: 'hub', ...(req.headers.authorization && { auth: req.headers.authorization }) });
      res.writeHead(302, { location: `${cdn}${req.url === '/bad' ? '/wrong' : '/x'}` });
      res.end();
    });
    const f = hubFetch({ baseDelayMs: 1 });
    const res = await f.download(`${hub}/file`, { headers: { Authorization: 'Bearer hf_x', Range: 'bytes=4-' } });
    expect(res.status).toBe(206);
    const got = new Uint8Array(6);
    let filled = 0;
    await res.body.receive({ space: () => got.subarray(filled), commit: (n) => void (filled += n), ready: async () => {} }, 6);
    expect(Buffer.from(got.subarray(0, filled)).toString()).toBe('456789');
    expect(seen).toEqual([
      { host: 'hub', auth: 'Bearer hf_x' },
      { host: 'cdn', range: 'bytes=4-' },
    ]);
    await expectError(f.download(`${hub}/bad`, { headers: { Range: 'bytes=4-' } }), 'E_IO', 'wrong range answer');
    expect(f.requests).toBe(2);
  });

  it('5xx answers are retried; a refused connection is a transient error after the retries', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(calls < 3 ? 503 : 200, { 'content-length': '2' });
      res.end('ok');
    });
    const f = hubFetch({ baseDelayMs: 1 });
    const res = await f.download(url, {});
    expect(res.status).toBe(200);
    expect(calls).toBe(3);
    await expect(hubFetch({ attempts: 2, baseDelayMs: 1 }).download('http://127.0.0.1:9/', {})).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
