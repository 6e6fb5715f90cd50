/**
 * Minimal read-only ZIP reader for torch.save archives and .npz files.
 *
 * Only the central directory is trusted for sizes: torch writes local headers with the
 * data-descriptor flag and zero sizes, so local headers are read just to find where the data
 * starts (their extra field carries torch's 64-byte alignment padding). STORED entries are read
 * with positioned reads, so a single tensor can be sliced out of a multi-gigabyte storage entry.
 * CRCs are not verified: range reads never see a whole entry, and torch can write archives with
 * CRC computation disabled (crc = 0).
 */
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { RandomAccessFile } from './file.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';

export const ZIP_STORED = 0;
export const ZIP_DEFLATED = 8;

export interface ZipEntry {
  readonly name: string;
  /** Compression method: ZIP_STORED or ZIP_DEFLATED (others are refused when read). */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
  readonly flags: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** Real central directories are ~100 bytes per entry; anything larger than this is not a model. */
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;
/** Whole-entry reads (pickles, compressed .npy) are capped below Node's buffer limit. */
export const DEFAULT_MAX_ENTRY_BYTES = 2 ** 31 - 1;
/** DEFLATE cannot expand data by more than ~1032:1; used to bound prefix inflation. */
const MAX_DEFLATE_RATIO = 1032;
/**
 * Decompression-bomb guard: a compressed entry that inflates to more than EXPANSION_FLOOR bytes
 * and more than MAX_EXPANSION_RATIO times its compressed size is refused unless `allowLarge`.
 * Weights compress 1.05–1.3× (sparse ones ~10×); 100× over 8 MiB means mostly zeros or repeats.
 */
export const MAX_EXPANSION_RATIO = 100;
export const EXPANSION_FLOOR = 8 * 1024 * 1024;

export interface ZipOptions {
  /** Inflate entries beyond the MAX_EXPANSION_RATIO guard. */
  readonly allowLarge?: boolean;
}
/** Compressed bytes read at a time when an entry is streamed to a file. */
const EXTRACT_CHUNK = 8 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8');

export function isZipSignature(head: Uint8Array): boolean {
  // An empty archive starts with the EOCD signature instead of a local header.
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

function le(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(dv: DataView, at: number): number {
  // Offsets beyond 2^53 cannot address a real file; treat them as corruption, not precision loss.
  const v = dv.getBigUint64(at, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
}

export class ZipArchive {
  private readonly byName = new Map<string, ZipEntry>();
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    private readonly file: RandomAccessFile,
    private readonly list: readonly ZipEntry[],
    /** Start of the central directory: no entry's data may extend past it. */
    private readonly dataLimit: number,
    private readonly options: ZipOptions = {},
  ) {
    for (const e of list) if (!this.byName.has(e.name)) this.byName.set(e.name, e);
  }

  get path(): string {
    return this.file.path;
  }

  static async open(path: string, options: ZipOptions = {}): Promise<ZipArchive> {
    const file = await RandomAccessFile.open(path);
    try {
      return await ZipArchive.fromFile(file, options);
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /** Parse the central directory of an already-open file; the archive takes ownership of it. */
  static async fromFile(file: RandomAccessFile, options: ZipOptions = {}): Promise<ZipArchive> {
    const { cdOffset, cdSize, count } = await readEndOfCentralDirectory(file);
    const entries = parseCentralDirectory(file.path, await file.read(cdOffset, cdSize, 'ZIP central directory'), count, cdOffset);
    return new ZipArchive(file, entries, cdOffset, options);
  }

  /** Entries in central-directory order (the order the writer added them). */
  entries(): readonly ZipEntry[] {
    return this.list;
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Read and (if needed) inflate a whole entry, refusing entries larger than `maxBytes`. */
  async readEntry(name: string, maxBytes = DEFAULT_MAX_ENTRY_BYTES): Promise<Uint8Array> {
    const e = this.require(name);
    if (e.uncompressedSize > maxBytes) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${this.path}: ZIP entry ${name} is ${e.uncompressedSize} bytes, more than the ${maxBytes} allowed`,
        { file: this.path },
      );
    }
    const start = await this.dataOffset(e);
    if (e.method !== ZIP_STORED) this.checkExpansion(e);
    const raw = await this.file.read(start, e.compressedSize, `ZIP entry ${name}`);
    if (e.method === ZIP_STORED) return raw;
    return this.inflate(e, raw, false);
  }

  /**
   * Read `length` bytes at `offset` of an entry's uncompressed content. STORED entries are read in
   * place; a DEFLATED entry has to be inflated whole first (acceptable for .npz members).
   */
  async readEntryRange(name: string, offset: number, length: number): Promise<Uint8Array> {
    const e = this.require(name);
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > e.uncompressedSize
    ) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: range [${offset}, ${offset + length}) lies outside ZIP entry ${name} (${e.uncompressedSize} bytes)`,
        { file: this.path },
      );
    }
    if (e.method !== ZIP_STORED) return (await this.readEntry(name)).subarray(offset, offset + length);
    const start = await this.dataOffset(e);
    return this.file.read(start + offset, length, `ZIP entry ${name}`);
  }

  /** The first `length` bytes (or fewer, if the entry is shorter) without inflating the whole entry. */
  async readEntryPrefix(name: string, length: number): Promise<Uint8Array> {
    const e = this.require(name);
    const want = Math.min(length, e.uncompressedSize);
    if (e.method === ZIP_STORED) return this.readEntryRange(name, 0, want);
    this.checkMethod(e);
    const start = await this.dataOffset(e);
    // Inflate growing compressed prefixes: output is bounded by the ratio, never by a declared size.
    for (let chunk = Math.min(e.compressedSize, 16384); ; chunk = Math.min(e.compressedSize, chunk * 4)) {
      const raw = await this.file.read(start, chunk, `ZIP entry ${name}`);
      const out = this.inflate(e, raw, chunk < e.compressedSize);
      if (out.length >= want) return out.subarray(0, want);
      if (chunk === e.compressedSize) {
        throw new WeightWatcherError(
          'E_CORRUPT',
          `${this.path}: ZIP entry ${name} inflates to ${out.length} bytes, expected ${e.uncompressedSize}`,
          { file: this.path },
        );
      }
    }
  }

  /**
   * Write an entry's uncompressed content to a new file `dest` (created exclusively, mode 0600),
   * streaming: a stored entry is copied and a deflated one inflated chunk by chunk, so memory stays
   * bounded whatever the entry's size. The output must be exactly the declared size. Returns it.
   */
  async extractEntry(name: string, dest: string): Promise<number> {
    const e = this.require(name);
    const start = await this.dataOffset(e);
    if (e.method !== ZIP_STORED) this.checkExpansion(e); // a bomb would fill the disk instead of the memory
    const corrupt = (msg: string) => new WeightWatcherError('E_CORRUPT', `${this.path}: ZIP entry ${name} ${msg}`, { file: this.path });
    let out;
    try {
      out = await open(dest, 'wx', 0o600);
    } catch (cause) {
      throw new WeightWatcherError('E_IO', `${this.path}: cannot create ${dest} to extract ZIP entry ${name} (${errorMessage(cause)})`, {
        file: this.path,
        cause,
      });
    }
    let written = 0;
    const sink = async (chunks: AsyncIterable<Uint8Array>): Promise<void> => {
      for await (const chunk of chunks) {
        if (written + chunk.length > e.uncompressedSize)
          throw corrupt(`inflates to more than the ${e.uncompressedSize} bytes its header declares`);
        let done = 0;
        while (done < chunk.length) done += (await out.write(chunk, done, chunk.length - done, written + done)).bytesWritten;
        written += chunk.length;
      }
    };
    try {
      const compressed = this.chunks(start, e.compressedSize, name);
      if (e.method === ZIP_STORED) await sink(compressed);
      else await pipeline(compressed, createInflateRaw(), sink);
    } catch (cause) {
      if (cause instanceof WeightWatcherError) throw cause;
      const code = (cause as NodeJS.ErrnoException).code ?? '';
      if (code.startsWith('Z_')) throw corrupt(`does not inflate (${errorMessage(cause)})`);
      throw new WeightWatcherError(
        'E_IO',
        `${this.path}: cannot extract ZIP entry ${name} to ${dest} (${errorMessage(cause)}; it needs ${e.uncompressedSize} bytes of free space)`,
        { file: this.path, cause },
      );
    } finally {
      await out.close();
    }
    if (written !== e.uncompressedSize) throw corrupt(`inflates to ${written} bytes, expected ${e.uncompressedSize}`);
    return written;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  private async *chunks(start: number, length: number, name: string): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < length; at += EXTRACT_CHUNK) {
      yield await this.file.read(start + at, Math.min(EXTRACT_CHUNK, length - at), `ZIP entry ${name}`);
    }
  }

  private require(name: string): ZipEntry {
    const e = this.byName.get(name);
    if (!e) throw new WeightWatcherError('E_NOT_FOUND', `${this.path}: ZIP archive has no entry ${name}`, { file: this.path });
    return e;
  }

  private checkExpansion(e: ZipEntry): void {
    if (this.options.allowLarge || e.uncompressedSize <= EXPANSION_FLOOR) return;
    const ratio = e.uncompressedSize / Math.max(1, e.compressedSize);
    if (ratio <= MAX_EXPANSION_RATIO) return;
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${this.path}: ZIP entry ${e.name} inflates ${Math.round(ratio)}× (${e.compressedSize} → ${e.uncompressedSize} bytes), above the ${MAX_EXPANSION_RATIO}× limit for entries over ${EXPANSION_FLOOR / 2 ** 20} MiB (a likely decompression bomb); pass --allow-large (allow_large: true) to read it`,
      { file: this.path },
    );
  }

  private checkMethod(e: ZipEntry): void {
    if (e.flags & 1) throw new WeightWatcherError('E_UNSUPPORTED', `${this.path}: ZIP entry ${e.name} is encrypted`, { file: this.path });
    if (e.method !== ZIP_STORED && e.method !== ZIP_DEFLATED) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${this.path}: ZIP entry ${e.name} uses compression method ${e.method} (only stored and deflated are supported)`,
        { file: this.path },
      );
    }
  }

  private inflate(e: ZipEntry, raw: Uint8Array, partial: boolean): Uint8Array {
    let out: Uint8Array;
    try {
      out = partial
        ? inflateRawSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: Math.max(1, raw.length * MAX_DEFLATE_RATIO) })
        : inflateRawSync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
    } catch (cause) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: ZIP entry ${e.name} does not inflate (${(cause as Error).message}); expected ${e.uncompressedSize} bytes of deflate data`,
        { file: this.path, cause },
      );
    }
    if (!partial && out.length !== e.uncompressedSize) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: ZIP entry ${e.name} inflates to ${out.length} bytes, expected ${e.uncompressedSize}`,
        { file: this.path },
      );
    }
    return out;
  }

  /** Where an entry's data starts, from its local header (cached). */
  private async dataOffset(e: ZipEntry): Promise<number> {
    this.checkMethod(e);
    const cached = this.dataOffsets.get(e.name);
    if (cached !== undefined) return cached;
    const what = `local header of ZIP entry ${e.name}`;
    const head = le(await this.file.read(e.localHeaderOffset, LOCAL_SIZE, what));
    if (head.getUint32(0, true) !== SIG_LOCAL) {
      throw new WeightWatcherError('E_CORRUPT', `${this.path}: ${what} at byte ${e.localHeaderOffset} has no local header signature`, {
        file: this.path,
      });
    }
    const start = e.localHeaderOffset + LOCAL_SIZE + head.getUint16(26, true) + head.getUint16(28, true);
    if (start + e.compressedSize > this.dataLimit) {
      throw new WeightWatcherError(
        'E_CORRUPT',
        `${this.path}: data of ZIP entry ${e.name} ([${start}, ${start + e.compressedSize})) overlaps the central directory at byte ${this.dataLimit}`,
        { file: this.path },
      );
    }
    this.dataOffsets.set(e.name, start);
    return start;
  }
}

interface CentralDirectoryLocation {
  cdOffset: number;
  cdSize: number;
  count: number;
}

async function readEndOfCentralDirectory(file: RandomAccessFile): Promise<CentralDirectoryLocation> {
  const fail = (msg: string): never => {
    throw new WeightWatcherError('E_FORMAT', `${file.path}: not a readable ZIP archive (${msg})`, { file: file.path });
  };
  if (file.size < EOCD_SIZE) fail(`file is only ${file.size} bytes`);
  const tailLen = Math.min(file.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = file.size - tailLen;
  const tail = await file.read(tailStart, tailLen, 'ZIP end of central directory');
  const tv = le(tail);
  // Scan backwards; prefer a record whose comment ends exactly at the end of the file, so a
  // signature-like byte sequence inside a comment is not mistaken for the record.
  let at = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) !== SIG_EOCD) continue;
    if (at < 0) at = i;
    if (i + EOCD_SIZE + tv.getUint16(i + 20, true) === tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) fail('no end-of-central-directory record');
  const eocdOffset = tailStart + at;
  const disk = tv.getUint16(at + 4, true);
  const cdDisk = tv.getUint16(at + 6, true);
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);
  let cdEnd = eocdOffset;

  const locatorOffset = eocdOffset - ZIP64_LOCATOR_SIZE;
  const hasLocator = locatorOffset >= 0 && le(await file.read(locatorOffset, 4, 'ZIP64 locator')).getUint32(0, true) === SIG_ZIP64_LOCATOR;
  if (hasLocator) {
    const loc = le(await file.read(locatorOffset, ZIP64_LOCATOR_SIZE, 'ZIP64 locator'));
    const z64Offset = u64(loc, 8);
    if (loc.getUint32(16, true) > 1) fail('multi-disk archives are not supported');
    if (!(z64Offset + ZIP64_EOCD_SIZE <= locatorOffset)) fail(`ZIP64 end-of-central-directory offset ${z64Offset} is outside the file`);
    const z = le(await file.read(z64Offset, ZIP64_EOCD_SIZE, 'ZIP64 end of central directory'));
    if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) fail('ZIP64 locator does not point to a ZIP64 end-of-central-directory record');
    if (z.getUint32(16, true) !== 0 || z.getUint32(20, true) !== 0) fail('multi-disk archives are not supported');
    count = u64(z, 32);
    cdSize = u64(z, 40);
    cdOffset = u64(z, 48);
    cdEnd = z64Offset;
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail('ZIP64 sizes are flagged but there is no ZIP64 locator');
  } else if (disk !== 0 || cdDisk !== 0) {
    fail('multi-disk archives are not supported');
  }
  if (!(cdOffset + cdSize <= cdEnd)) fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) overruns its end record at byte ${cdEnd}`);
  if (cdSize > MAX_CENTRAL_DIRECTORY) fail(`central directory of ${cdSize} bytes is implausibly large`);
  if (count * CENTRAL_SIZE > cdSize) fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
  return { cdOffset, cdSize, count };
}

function parseCentralDirectory(path: string, cd: Uint8Array, count: number, cdOffset: number): ZipEntry[] {
  const dv = le(cd);
  const entries: ZipEntry[] = [];
  const corrupt = (msg: string): never => {
    throw new WeightWatcherError('E_CORRUPT', `${path}: ZIP central directory entry ${entries.length}: ${msg}`, { file: path });
  };
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cd.length) corrupt('truncated');
    if (dv.getUint32(p, true) !== SIG_CENTRAL) corrupt(`bad signature at byte ${cdOffset + p}`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let uncompressedSize = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const nameStart = p + CENTRAL_SIZE;
    const extraStart = nameStart + nameLen;
    const next = extraStart + extraLen + commentLen;
    if (next > cd.length) corrupt('name, extra field or comment overruns the central directory');
    const name = utf8.decode(cd.subarray(nameStart, extraStart));

    // ZIP64 extended information holds, in this order, only the fields saturated above.
    if (uncompressedSize === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX) {
      const z = findExtra(dv, extraStart, extraStart + extraLen, 0x0001);
      if (!z) corrupt(`${name}: sizes are flagged as ZIP64 but there is no ZIP64 extra field`);
      let q = z!.start;
      const take = (): number => {
        if (q + 8 > z!.end) corrupt(`${name}: ZIP64 extra field is too short`);
        const v = u64(dv, q);
        q += 8;
        return v;
      };
      if (uncompressedSize === U32_MAX) uncompressedSize = take();
      if (compressedSize === U32_MAX) compressedSize = take();
      if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
    }
    if (!(localHeaderOffset + LOCAL_SIZE + compressedSize <= cdOffset)) {
      corrupt(
        `${name}: local header offset ${localHeaderOffset} with ${compressedSize} data bytes lies beyond the central directory at byte ${cdOffset}`,
      );
    }
    if (!Number.isSafeInteger(uncompressedSize)) corrupt(`${name}: uncompressed size is too large`);
    if (method === ZIP_STORED && compressedSize !== uncompressedSize) {
      corrupt(`${name}: stored entry has compressed size ${compressedSize} but uncompressed size ${uncompressedSize}`);
    }
    entries.push({ name, method, compressedSize, uncompressedSize, localHeaderOffset, flags });
    p = next;
  }
  return entries;
}

function findExtra(dv: DataView, start: number, end: number, id: number): { start: number; end: number } | undefined {
  for (let p = start; p + 4 <= end;) {
    const size = dv.getUint16(p + 2, true);
    if (p + 4 + size > end) return undefined;
    if (dv.getUint16(p, true) === id) return { start: p + 4, end: p + 4 + size };
    p += 4 + size;
  }
  return undefined;
}
