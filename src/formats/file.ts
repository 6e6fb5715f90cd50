/**
 * Positioned reads with bounds checks. Readers never load a whole model file: they open it once
 * and read headers and single tensors at explicit offsets.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';

export class RandomAccessFile {
  private constructor(
    readonly path: string,
    private handle: FileHandle | undefined,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<RandomAccessFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new WeightWatcherError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `${path}: cannot open (${code ?? String(e)})`, {
        file: path,
        cause: e,
      });
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
    if (!this.handle) throw new WeightWatcherError('E_IO', `${this.path}: file already closed`, { file: this.path });
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: ${what} at bytes [${offset}, ${offset + length}) lies outside the file (size ${this.size})`,
        { file: this.path },
      );
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
    this.handle = undefined;
    if (h) await h.close();
  }
}

/** Whether `path` is a folder; a missing or unreadable path is E_NOT_FOUND naming it. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WeightWatcherError('E_NOT_FOUND', `${path}: cannot open (${code ?? String(e)})`, { file: path, cause: e });
  }
}
