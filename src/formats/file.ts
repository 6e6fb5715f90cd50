/**
 * Positioned reads with bounds checks. Readers never load a whole model file: they open it once
 * and read headers and single tensors at explicit offsets. The bytes come from a local file, or
 * from any PositionedSource (HTTP range requests: hub/stream.ts), behind the same checks.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';
import { fsError } from '../shared/fs-errors.js';

/** Bytes at offsets from somewhere other than a local file (a URL read with range requests). */
export interface PositionedSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (the caller has checked the range lies inside `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class RandomAccessFile {
  private constructor(
    readonly path: string,
    private handle: FileHandle | undefined,
    readonly size: number,
    private source?: PositionedSource,
  ) {}

  /** A file whose bytes come from `source`; `path` names it in messages (a URL). */
  static fromSource(path: string, source: PositionedSource): RandomAccessFile {
    return new RandomAccessFile(path, undefined, source.size, source);
  }

  static async open(path: string): Promise<RandomAccessFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      throw fsError(path, e);
    }
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      throw new WeightWatcherError('E_FORMAT', `${path}: not a regular file`, { file: path });
    }
    return new RandomAccessFile(path, handle, st.size);
  }

  /** Read exactly `length` bytes at `offset`; a range outside the file is E_CORRUPT. */
  async read(offset: number, length: number, what = 'data'): Promise<Uint8Array> {
    if (!this.handle && !this.source) throw new WeightWatcherError('E_IO', `${this.path}: file already closed`, { file: this.path });
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: ${what} at bytes [${offset}, ${offset + length}) lies outside the file (size ${this.size})`,
        { file: this.path },
      );
    }
    if (!this.handle) {
      const got = await this.source!.read(offset, length);
      if (got.length !== length)
        throw new WeightWatcherError('E_IO', `${this.path}: got ${got.length} bytes of ${what} at ${offset}, expected ${length}`, {
          file: this.path,
        });
      return got;
    }
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0)
        throw new WeightWatcherError('E_IO', `${this.path}: unexpected end of file reading ${what}`, { file: this.path });
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    const h = this.handle;
    const s = this.source;
    this.handle = undefined;
    this.source = undefined;
    if (h) await h.close();
    if (s) await s.close();
  }
}

/** Whether `path` is a folder; a missing or unreadable path is E_NOT_FOUND naming it. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    throw fsError(path, e);
  }
}
