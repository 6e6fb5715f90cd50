/**
 * Minimal protobuf wire-format decoding, bounds-checked at every step.
 *
 * Two front ends share one field decoder:
 * - `ProtoReader` walks a message held in memory (small messages, packed payloads);
 * - `ProtoStream` walks a message inside a file through positioned reads, so a multi-GB model can be
 *   scanned for its structure while large payloads are only located (offset + length), never read.
 *
 * Only what model files need: varints (to 64 bits), fixed32/fixed64, length-delimited fields and
 * packed repeated scalars. Groups (wire types 3/4) are deprecated and rejected as corrupt.
 */
import { WeightWatcherError } from '../shared/errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** Nesting deeper than this is refused: real models nest a few dozen levels at most. */
export const DEFAULT_MAX_DEPTH = 100;

/** One decoded field. Offsets are relative to the bytes the field was decoded from. */
export interface ProtoField {
  readonly field: number;
  readonly wire: number;
  /** Offset of the field's tag. */
  readonly tagStart: number;
  /** Value bytes [start, end): the varint, the 4/8 fixed bytes, or the length-delimited payload. */
  readonly start: number;
  readonly end: number;
  /** Varint value read as a two's-complement int64, as a JS number (exact up to 2^53); 0 otherwise. */
  readonly int: number;
}

/** Where errors point: the file, and what was being decoded. */
export interface ProtoContext {
  readonly file?: string;
  readonly what: string;
}

function corrupt(ctx: ProtoContext, message: string): WeightWatcherError {
  const prefix = ctx.file === undefined ? ctx.what : `${ctx.file}: ${ctx.what}`;
  return new WeightWatcherError('E_CORRUPT', `${prefix}: ${message}`, ctx.file === undefined ? {} : { file: ctx.file });
}

const TWO_32 = 2 ** 32;

/**
 * Decode a varint at `pos` (must end before `limit`) as a two's-complement int64.
 * Returns [value, nextPos]. Values beyond 2^53 lose precision; callers that need exact sizes check
 * `Number.isSafeInteger`.
 */
function decodeVarint(buf: Uint8Array, pos: number, limit: number, ctx: ProtoContext, base = 0): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (pos >= limit) throw corrupt(ctx, `truncated varint at byte ${base + pos}`);
    const b = buf[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if ((b & 0x80) === 0) {
      if (i === 9 && b > 1) throw corrupt(ctx, `varint overflows 64 bits at byte ${base + pos - 1}`);
      const value = (hi | 0) * TWO_32 + (lo >>> 0);
      return [value, pos];
    }
  }
  throw corrupt(ctx, `varint longer than 10 bytes at byte ${base + pos}`);
}

/**
 * Decode the field starting at `pos`. Its tag and varint/length must lie before `headerLimit` (the end
 * of the available bytes); its value must lie before `messageLimit` (the end of the enclosing message,
 * which may extend past the bytes at hand). `base` is added to every reported offset (the window's
 * position in the file for ProtoStream); limits are relative to `buf`.
 */
function decodeField(buf: Uint8Array, pos: number, headerLimit: number, messageLimit: number, base: number, ctx: ProtoContext): ProtoField {
  const tagStart = pos;
  const [tag, afterTag] = decodeVarint(buf, pos, headerLimit, ctx, base);
  if (tag <= 0 || tag > 0xffffffff) throw corrupt(ctx, `invalid field tag ${tag} at byte ${base + tagStart}`);
  const field = Math.floor(tag / 8);
  const wire = tag % 8;
  if (field === 0) throw corrupt(ctx, `field number 0 at byte ${base + tagStart}`);
  pos = afterTag;
  switch (wire) {
    case WIRE_VARINT: {
      const [value, next] = decodeVarint(buf, pos, headerLimit, ctx, base);
      return { field, wire, tagStart: base + tagStart, start: base + pos, end: base + next, int: value };
    }
    case WIRE_FIXED64:
    case WIRE_FIXED32: {
      const size = wire === WIRE_FIXED64 ? 8 : 4;
      if (pos + size > messageLimit) throw corrupt(ctx, `truncated fixed${size * 8} field ${field} at byte ${base + pos}`);
      return { field, wire, tagStart: base + tagStart, start: base + pos, end: base + pos + size, int: 0 };
    }
    case WIRE_LEN: {
      const [length, next] = decodeVarint(buf, pos, headerLimit, ctx, base);
      if (length < 0 || !Number.isSafeInteger(length) || next + length > messageLimit) {
        throw corrupt(
          ctx,
          `field ${field} at byte ${base + tagStart} declares ${length} bytes but only ${messageLimit - next} remain in its message`,
        );
      }
      return { field, wire, tagStart: base + tagStart, start: base + next, end: base + next + length, int: 0 };
    }
    default:
      throw corrupt(ctx, `unsupported wire type ${wire} for field ${field} at byte ${base + tagStart}`);
  }
}

const utf8 = new TextDecoder('utf-8');

/** In-memory message reader. */
export class ProtoReader {
  private pos: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly ctx: ProtoContext,
    private readonly depth = 0,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {
    if (depth > maxDepth) throw corrupt(ctx, `messages nested deeper than ${maxDepth} levels`);
    this.pos = 0;
  }

  /** Next field, or undefined at the end of the message. */
  next(): ProtoField | undefined {
    if (this.pos >= this.bytes.length) return undefined;
    const f = decodeField(this.bytes, this.pos, this.bytes.length, this.bytes.length, 0, this.ctx);
    this.pos = f.end;
    return f;
  }

  /** Payload of a length-delimited field (a view, not a copy). */
  payload(f: ProtoField): Uint8Array {
    return this.bytes.subarray(f.start, f.end);
  }

  /** Reader for a nested message field. */
  message(f: ProtoField, what = this.ctx.what): ProtoReader {
    if (f.wire !== WIRE_LEN) throw corrupt(this.ctx, `field ${f.field} should be a message (wire type 2), found wire type ${f.wire}`);
    return new ProtoReader(this.payload(f), { ...this.ctx, what }, this.depth + 1, this.maxDepth);
  }

  string(f: ProtoField): string {
    if (f.wire !== WIRE_LEN) throw corrupt(this.ctx, `field ${f.field} should be a string (wire type 2), found wire type ${f.wire}`);
    return utf8.decode(this.payload(f));
  }
}

/** UTF-8 text of a string field's payload (invalid sequences become U+FFFD, as protobuf runtimes do). */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Values of a repeated varint field, accepting both encodings (packed payload or one field per value).
 * Each value is a two's-complement int64 as a number; `onValue` may throw to bound the count.
 */
export function repeatedVarints(reader: ProtoReader, f: ProtoField, onValue: (value: number) => void): void {
  if (f.wire === WIRE_VARINT) onValue(f.int);
  else if (f.wire === WIRE_LEN) packedVarints(reader.payload(f), reader.ctx, onValue);
  else throw corrupt(reader.ctx, `field ${f.field} should hold varints, found wire type ${f.wire}`);
}

/** Decode a packed varint payload, calling `onValue` for each value. */
export function packedVarints(payload: Uint8Array, ctx: ProtoContext, onValue: (value: number) => void): void {
  let pos = 0;
  while (pos < payload.length) {
    const [value, next] = decodeVarint(payload, pos, payload.length, ctx);
    onValue(value);
    pos = next;
  }
}

/**
 * Little-endian bytes of a repeated fixed-width field (fixed32/float or fixed64/double), accepting
 * packed payloads and one-field-per-value encodings. Returns views into the reader's bytes.
 */
export function repeatedFixedBytes(reader: ProtoReader, f: ProtoField, width: 4 | 8): Uint8Array {
  const expectedWire = width === 4 ? WIRE_FIXED32 : WIRE_FIXED64;
  if (f.wire === expectedWire) return reader.payload(f);
  if (f.wire !== WIRE_LEN) throw corrupt(reader.ctx, `field ${f.field} should hold ${width * 8}-bit values, found wire type ${f.wire}`);
  const p = reader.payload(f);
  if (p.length % width !== 0) throw corrupt(reader.ctx, `packed field ${f.field} has ${p.length} bytes, not a multiple of ${width}`);
  return p;
}

/** Something that supports bounds-checked positioned reads (a RandomAccessFile). */
export interface PositionedSource {
  readonly path: string;
  readonly size: number;
  read(offset: number, length: number, what?: string): Promise<Uint8Array>;
}

/** Longest tag + length/varint header of one field; fixed64 values (8 bytes) fit too. */
const MAX_FIELD_HEADER = 20;

/**
 * Streaming reader over a file. Keeps one window of `chunkSize` bytes; decoding a field header needs
 * at most 20 bytes, so payloads that are skipped are never read.
 */
export class ProtoStream {
  private window: Uint8Array = new Uint8Array(0);
  private windowStart = 0;

  constructor(
    private readonly src: PositionedSource,
    private readonly chunkSize = 1 << 16,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {}

  get size(): number {
    return this.src.size;
  }

  private covers(offset: number, length: number): boolean {
    return offset >= this.windowStart && offset + length <= this.windowStart + this.window.length;
  }

  private async load(offset: number, minLength: number): Promise<void> {
    const length = Math.min(Math.max(this.chunkSize, minLength), this.src.size - offset);
    this.window = await this.src.read(offset, length, 'protobuf data');
    this.windowStart = offset;
  }

  /**
   * Fields of the message occupying file bytes [start, end). `depth` is the message's nesting level.
   * Payload offsets are absolute file offsets; payloads are bounds-checked against `end`.
   */
  async *fields(start: number, end: number, depth: number, ctx: ProtoContext): AsyncGenerator<ProtoField> {
    if (depth > this.maxDepth) throw corrupt(ctx, `messages nested deeper than ${this.maxDepth} levels`);
    if (start < 0 || end > this.src.size || start > end)
      throw corrupt(ctx, `message [${start}, ${end}) lies outside the file (size ${this.src.size})`);
    let pos = start;
    while (pos < end) {
      const need = Math.min(MAX_FIELD_HEADER, end - pos);
      if (!this.covers(pos, need)) await this.load(pos, need);
      const f = this.fieldAt(pos, end, ctx);
      pos = f.end;
      yield f;
    }
  }

  /**
   * The fields of a message like `fields`, but a window at a time: each batch holds every field
   * whose header lies in the current window, so a consumer handles thousands of small fields
   * without an await each (see `windowBytes`).
   */
  async *fieldBatches(start: number, end: number, depth: number, ctx: ProtoContext): AsyncGenerator<ProtoField[]> {
    if (depth > this.maxDepth) throw corrupt(ctx, `messages nested deeper than ${this.maxDepth} levels`);
    if (start < 0 || end > this.src.size || start > end)
      throw corrupt(ctx, `message [${start}, ${end}) lies outside the file (size ${this.src.size})`);
    let pos = start;
    while (pos < end) {
      if (!this.covers(pos, Math.min(MAX_FIELD_HEADER, end - pos))) await this.load(pos, Math.min(MAX_FIELD_HEADER, end - pos));
      const batch: ProtoField[] = [];
      const windowEnd = this.windowStart + this.window.length;
      while (pos < end && pos + Math.min(MAX_FIELD_HEADER, end - pos) <= windowEnd) {
        const f = this.fieldAt(pos, end, ctx);
        batch.push(f);
        pos = f.end;
      }
      yield batch;
    }
  }

  /** The field whose header starts at file offset `pos` (inside the current window) of a message ending at `end`. */
  private fieldAt(pos: number, end: number, ctx: ProtoContext): ProtoField {
    const messageLimit = end - this.windowStart;
    return decodeField(
      this.window,
      pos - this.windowStart,
      Math.min(messageLimit, this.window.length),
      messageLimit,
      this.windowStart,
      ctx,
    );
  }

  /** The bytes [start, end) when the current window holds them (a view, no read), else undefined. */
  windowBytes(start: number, end: number): Uint8Array | undefined {
    return this.covers(start, end - start) ? this.window.subarray(start - this.windowStart, end - this.windowStart) : undefined;
  }

  /** Read the bytes [start, end) (a payload located by `fields`), at most `maxLength` bytes. */
  async bytes(start: number, end: number, maxLength: number, ctx: ProtoContext): Promise<Uint8Array> {
    const length = end - start;
    if (length > maxLength) throw corrupt(ctx, `${length}-byte field exceeds the ${maxLength}-byte limit`);
    if (this.covers(start, length)) return this.window.subarray(start - this.windowStart, end - this.windowStart);
    if (length <= this.chunkSize) {
      await this.load(start, length);
      return this.window.subarray(0, length);
    }
    return this.src.read(start, length, ctx.what);
  }
}
