/**
 * The hash that checks a download (sha256 of an LFS file, git's blob sha1 else), computed on a
 * worker thread for big files. On the thread that receives the bytes, sha256 (≈ 1.5 GB/s with the
 * SHA extensions) stalled the socket reads: a 2 GB download spent a second of that thread's time on
 * it, which curl does not. blob-sink.ts hands over views of its shared ring once they are written:
 * the worker hashes them in place. An ordinary buffer is copied over.
 * Small files are hashed in place: starting a worker (tens of ms) costs more than hashing them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

export type HashKind = 'sha256' | 'git-sha1';

/** Updates are applied in call order; each promise settles when its bytes are hashed (the view may then be reused). */
export interface BlobHasher {
  /** Hash the first `length` bytes of a file (a resumed download's `.incomplete` part). */
  file(path: string, length: number): Promise<void>;
  update(bytes: Uint8Array): Promise<void>;
  /** The hex digest; the hasher is finished afterwards. */
  digest(): Promise<string>;
  /** Stop the worker (idempotent; pending calls reject). */
  close(): Promise<void>;
}

/** git hashes a blob as sha1("blob <size>\0" + content). */
const prefixOf = (kind: HashKind, size: number) => (kind === 'git-sha1' ? `blob ${size}\0` : '');
const algorithmOf = (kind: HashKind) => (kind === 'sha256' ? 'sha256' : 'sha1');

/** Files from this size on are hashed on a worker. */
export const WORKER_HASH_MIN_BYTES = 1 << 20;

/** A worker hasher for files of `WORKER_HASH_MIN_BYTES` or more, else one on this thread. */
export function blobHasher(kind: HashKind, size: number): BlobHasher {
  return size >= WORKER_HASH_MIN_BYTES ? workerHasher(kind, size) : inlineHasher(kind, size);
}

/** The hash on this thread (small files, and the reference the worker is tested against). */
export function inlineHasher(kind: HashKind, size: number): BlobHasher {
  const h = createHash(algorithmOf(kind));
  h.update(prefixOf(kind, size));
  return {
    async file(path, length) {
      let got = 0;
      if (length > 0)
        for await (const c of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) {
          h.update(c as Buffer);
          got += (c as Buffer).length;
        }
      if (got !== length) throw new WeightWatcherError('E_IO', `${path}: ${got} bytes to hash, expected ${length}`, { file: path });
    },
    async update(bytes) {
      h.update(bytes);
    },
    async digest() {
      return h.digest('hex');
    },
    async close() {},
  };
}

// CommonJS source run with `eval: true`: the same in src/ under vite-node, dist/ and dist-cjs/, with no file to locate.
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const hash = createHash(workerData.algorithm);
hash.update(workerData.prefix);
function hashFile(path, length) {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(length, 4 << 20));
    for (let at = 0; at < length; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - at), at);
      if (n === 0) throw new Error(path + ': ' + at + ' bytes to hash, expected ' + length);
      hash.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'update') hash.update(new Uint8Array(m.buffer, m.offset, m.length));
    else if (m.op === 'file') hashFile(m.path, m.length);
    else if (m.op === 'digest') return parentPort.postMessage({ digest: hash.digest('hex') });
    parentPort.postMessage({});
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

type Reply = { digest?: string; error?: string };

/**
 * The hash on a worker thread. Messages are answered in order, so one FIFO of waiting promises
 * matches the replies. The worker is referenced only while a call waits on it: an idle hasher
 * never keeps the process alive.
 */
export function workerHasher(kind: HashKind, size: number): BlobHasher {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { algorithm: algorithmOf(kind), prefix: prefixOf(kind, size) },
    // Hashing allocates nothing that grows with the file.
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  worker.unref();
  const waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiting.splice(0)) w.reject(failure);
  };
  worker.on('message', (r: Reply) => {
    const w = waiting.shift();
    if (waiting.length === 0) worker.unref();
    if (r.error !== undefined) w?.reject(new WeightWatcherError('E_IO', `hashing the download failed: ${r.error}`));
    else w?.resolve(r);
  });
  worker.on('error', (e) =>
    fail(new WeightWatcherError('E_INTERNAL', `the download's hash worker failed (${errorMessage(e)})`, { cause: e })),
  );
  worker.on('exit', () => fail(new WeightWatcherError('E_INTERNAL', "the download's hash worker stopped")));
  const send = (message: unknown, transfer: ArrayBuffer[] = []): Promise<Reply> => {
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      if (waiting.length === 0) worker.ref();
      waiting.push({ resolve, reject });
      worker.postMessage(message, transfer);
    });
  };
  return {
    async file(path, length) {
      if (length > 0) await send({ op: 'file', path, length });
    },
    async update(bytes) {
      if (bytes.length === 0) return;
      if (bytes.buffer instanceof SharedArrayBuffer) {
        await send({ op: 'update', buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.length });
        return;
      }
      // An ordinary buffer: one copy, handed over (the caller's bytes stay untouched).
      const copy = bytes.slice();
      await send({ op: 'update', buffer: copy.buffer, offset: 0, length: copy.length }, [copy.buffer]);
    },
    async digest() {
      const { digest } = await send({ op: 'digest' });
      if (digest === undefined) throw new WeightWatcherError('E_INTERNAL', "the download's hash worker gave no digest");
      return digest;
    },
    async close() {
      failure ??= new WeightWatcherError('E_INTERNAL', "the download's hash worker was closed");
      await worker.terminate();
    },
  };
}
