/**
 * Where a download's bytes go (download.ts): a ring of buffers in one block of shared memory. The
 * socket reads straight into the current buffer (receive.ts; a body that arrives as chunks is
 * copied in). A full buffer is written at its place in the file on libuv's thread pool, several at
 * once, then, in file order, counted and hashed (hasher.ts: the worker reads the shared memory in
 * place, no copy), then reused. The hash therefore covers exactly the prefix of the file counted as
 * written; after a failed write the file is cut back to that prefix, which the next attempt (or
 * run) resumes from.
 *
 * Big files on local file systems are written with O_DIRECT (Linux; open(2), "O_DIRECT"): the
 * bytes go from the ring to the disk without being copied into the page cache. Measured on this
 * project's 2-core VM (docs/performance.md, "Models by name"), writing 2 GB through the page cache
 * cost 0.5 to 9.4 s of system CPU depending on how recently the kernel had handed the freed memory
 * back to the hypervisor; O_DIRECT cost 0.3 s every time. The blob is then read from disk rather
 * than from memory by the analysis that follows. Direct I/O needs the memory, the file offset and
 * the length aligned: the ring is a WebAssembly.Memory (page-aligned), its buffers are 1 MiB, and
 * a buffer that would start or end off the alignment (a resumed prefix, the file's last bytes) is
 * written through the page cache instead.
 */
import { statfs } from 'node:fs/promises';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';
import type { BlobHasher } from './hasher.js';
import type { ByteTarget } from './receive.js';

/** O_DIRECT's alignment: 4096 covers every common logical block size. */
const DIRECT_ALIGN = 4096;
/** Files from this size on are written with O_DIRECT where possible; smaller ones are read back at once (indexes, configs). */
export const DIRECT_MIN_BYTES = 16 << 20;
/**
 * File systems where O_DIRECT is local and fast (statfs(2) magic numbers): ext4/ext3/ext2, xfs,
 * btrfs. Elsewhere (network file systems, where it makes every write a round trip; tmpfs, which
 * refuses it; overlays) the page cache is used.
 */
const DIRECT_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e]);

/**
 * The ring's shape. Through the page cache, small writes cost the kernel less: a 2 GB download in
 * 4 MiB pieces took 2.4-7 s of system CPU, in 1 MiB pieces 2.0-2.6 s, in 256 KiB pieces 1.3-2.3 s.
 * O_DIRECT is the other way round: 1 MiB writes, 0.3 s; 256 KiB writes, 0.6 s.
 */
const RING = { buffered: { slotBytes: 256 << 10, slots: 16 }, direct: { slotBytes: 1 << 20, slots: 8 } } as const;
/** The most bytes in flight at once: a killed download's file may have holes this far back from its end. */
export const RING_BYTES_MAX = Math.max(...Object.values(RING).map((r) => r.slotBytes * r.slots));

/** The file opened for the download: always through the page cache, and directly when the file system allows. */
export interface BlobOutput {
  readonly buffered: FileHandle;
  /** Open with O_DIRECT (closed by `close`, even after `useDirect` went false). */
  readonly direct: FileHandle | undefined;
  /** Write aligned buffers through `direct`: false once the file system refused a direct write. */
  useDirect: boolean;
  close(): Promise<void>;
}

/** Open `path` for positioned writes (no O_APPEND, which makes Linux ignore the position); never truncated. */
export async function openBlobOutput(path: string, bytesToCome: number): Promise<BlobOutput> {
  const buffered = await open(path, constants.O_WRONLY | constants.O_CREAT);
  let direct: FileHandle | undefined;
  if (bytesToCome >= DIRECT_MIN_BYTES && constants.O_DIRECT !== undefined && process.env.WW_DOWNLOAD_DIRECT !== '0') {
    const fs = await statfs(path).catch(() => undefined);
    if (fs !== undefined && DIRECT_FILE_SYSTEMS.has(fs.type))
      direct = await open(path, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
  }
  return {
    buffered,
    direct,
    useDirect: direct !== undefined,
    async close() {
      await Promise.all([buffered.close(), direct?.close()]);
    },
  };
}

/** WebAssembly.Memory (not in this project's TypeScript lib): page-aligned, and shared, so the hash worker reads it in place. */
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } };
  }
).WebAssembly.Memory;

/** `view` at `at` in the file, however many writes that takes. */
async function writeAll(fh: FileHandle, view: Uint8Array, at: number): Promise<void> {
  for (let off = 0; off < view.length;) {
    const { bytesWritten } = await fh.write(view, off, view.length - off, at + off);
    if (bytesWritten <= 0) throw new WeightWatcherError('E_IO', `writing the download stopped at byte ${at + off}`);
    off += bytesWritten;
  }
}

interface Slot {
  readonly view: Uint8Array;
  /** Where this buffer goes in the file. */
  readonly at: number;
  /** Bytes it takes: a full buffer, less at an unaligned start so that the next one starts aligned. */
  readonly capacity: number;
  filled: number;
}

export class BlobSink implements ByteTarget {
  private readonly slotBytes: number;
  private readonly memory: SharedArrayBuffer;
  private readonly free: number[] = [];
  private wake: (() => void) | undefined;
  private current: (Slot & { index: number }) | undefined;
  /** Settles when the last dispatched buffer was handed to the hasher (in file order). */
  private lastHanded: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  /** Bytes written with O_DIRECT (tests and the bench read it). */
  directBytes = 0;

  constructor(
    private readonly out: BlobOutput,
    private readonly hasher: BlobHasher,
    /** File offset of the next buffer. */
    private position: number,
    /** End of the prefix written and hashed (or being hashed), in order. */
    private counted: number,
    remaining: number,
    private readonly on: { written: (bytes: number) => void; writeError: (e: unknown) => unknown },
  ) {
    const ring = out.direct ? RING.direct : RING.buffered;
    // Whole WebAssembly pages (64 KiB); a small file gets one buffer of its size.
    const page = 64 << 10;
    this.slotBytes = Math.min(ring.slotBytes, Math.max(page, Math.ceil(remaining / page) * page));
    const pages = (this.slotBytes * ring.slots) / page;
    this.memory = new WasmMemory({ initial: pages, maximum: pages, shared: true }).buffer;
    for (let i = ring.slots - 1; i >= 0; i--) this.free.push(i);
  }

  space(): Uint8Array | undefined {
    if (this.failure) return undefined;
    let cur = this.current;
    if (!cur) {
      const index = this.free.pop();
      if (index === undefined) return undefined;
      const at = this.position;
      cur = this.current = {
        index,
        view: new Uint8Array(this.memory, index * this.slotBytes, this.slotBytes),
        at,
        capacity: this.slotBytes - (this.out.direct ? at % DIRECT_ALIGN : 0),
        filled: 0,
      };
    }
    return cur.view.subarray(cur.filled, cur.capacity);
  }

  commit(n: number): void {
    const cur = this.current!;
    cur.filled += n;
    if (cur.filled === cur.capacity) this.dispatch();
  }

  /** A failed write or hash stops the transfer here, not at its end. */
  async ready(): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      if (this.current !== undefined || this.free.length > 0) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Everything committed is written and hashed, or the first failure is thrown with the file cut back to the counted prefix. */
  async flush(): Promise<void> {
    this.dispatch();
    while (this.inFlight.size) await Promise.all(this.inFlight);
    if (this.failure) {
      // Writes past a failed one may have landed: drop them, so the file is the prefix the hash covers.
      await this.out.buffered.truncate(this.counted).catch(() => {});
      throw this.failure.error;
    }
  }

  /** Directly when memory, offset and length are aligned; through the page cache else, or when the file system refuses. */
  private async write(view: Uint8Array, at: number): Promise<void> {
    const { direct } = this.out;
    if (direct && this.out.useDirect && at % DIRECT_ALIGN === 0 && view.length % DIRECT_ALIGN === 0) {
      try {
        await writeAll(direct, view, at);
        this.directBytes += view.length;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        // Accepted at open, refused at write (some file systems; nothing was written): the page
        // cache from here on, this buffer included. (A short direct write leaves the rest
        // unaligned, which lands here too.)
        this.out.useDirect = false;
      }
    }
    await writeAll(this.out.buffered, view, at);
  }

  private dispatch(): void {
    const cur = this.current;
    this.current = undefined;
    if (!cur) return;
    if (cur.filled === 0) return void this.free.push(cur.index);
    const length = cur.filled;
    const view = cur.view.subarray(0, length);
    this.position += length;
    const written = this.write(view, cur.at).catch((e: unknown) => {
      // Set at once, before any later buffer can be counted.
      this.failure ??= { error: this.on.writeError(e) };
      throw this.failure.error;
    });
    // Counted and hashed in file order, once this buffer and every one before it are written.
    const handed = Promise.all([this.lastHanded, written]).then(() => {
      if (this.failure) throw this.failure.error;
      this.counted += length;
      this.on.written(length);
      return { hashed: this.hasher.update(view) };
    });
    this.lastHanded = handed.then(
      () => {},
      () => {},
    );
    const done: Promise<void> = handed
      .then(async ({ hashed }) => {
        await hashed;
        this.free.push(cur.index);
      })
      .catch((e: unknown) => {
        this.failure ??= { error: e };
      })
      .finally(() => {
        this.inFlight.delete(done);
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
      });
    this.inFlight.add(done);
  }
}
