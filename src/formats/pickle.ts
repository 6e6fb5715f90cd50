/**
 * A restricted unpickler: it builds plain data and never runs code.
 *
 * Pickles from the internet are programs; Python's pickle imports any module named by a GLOBAL
 * opcode and calls it through REDUCE. Here every GLOBAL is looked up in a caller-supplied
 * allow-list of inert values and pure data constructors, and anything else is refused with
 * E_UNSAFE before the pickle gets any further. The machine is iterative (no recursion), every
 * length is checked against the bytes actually present before anything is allocated, and the
 * only structures it walks recursively (hash keys) are restricted to flat tuples.
 */
import { WeightWatcherError } from '../shared/errors.js';

/** A value the caller's allow-list contributes (tensor descriptors, storage types, dtypes …). */
export interface PyOpaque {
  readonly pyType: string;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyCallable | PyOpaque;

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PySet {
  readonly items: PyValue[] = [];
}

/** An insertion-ordered dict; keys are hashed by value (str/int/float/bool/None/flat tuple). */
export class PyDict {
  // Created on first insert: empty dicts are the cheapest thing a hostile pickle can mass-produce.
  private map: Map<string, [PyValue, PyValue]> | undefined;
  /** State applied by BUILD (e.g. the `_metadata` attribute of a state-dict OrderedDict). */
  state: PyValue = null;

  set(key: PyValue, value: PyValue): void {
    (this.map ??= new Map()).set(hashKey(key), [key, value]);
  }

  get(key: PyValue): PyValue | undefined {
    return this.map?.get(hashKey(key))?.[1];
  }

  has(key: PyValue): boolean {
    return this.map?.has(hashKey(key)) ?? false;
  }

  get size(): number {
    return this.map?.size ?? 0;
  }

  entries(): IterableIterator<[PyValue, PyValue]> {
    return (this.map ?? new Map<string, [PyValue, PyValue]>()).values();
  }
}

/** A pure function the allow-list exposes to REDUCE / NEWOBJ (e.g. a tensor-descriptor builder). */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: readonly PyValue[]) => PyValue,
  ) {}
}

export interface UnpickleOptions {
  /** Allowed globals by `module.name`; every other GLOBAL is refused with E_UNSAFE. */
  readonly globals: ReadonlyMap<string, PyValue>;
  /** Resolves BINPERSID/PERSID ids (torch storages); without it persistent ids are refused. */
  readonly persistentLoad?: (pid: PyValue) => PyValue;
  /** Names the pickle in messages (a file path, or `archive.zip:data.pkl`). */
  readonly source: string;
  /** Start offset within `bytes` (legacy torch files hold several pickles back to back). */
  readonly offset?: number;
}

export interface UnpickleResult {
  readonly value: PyValue;
  /** Offset just past the STOP opcode. */
  readonly end: number;
}

/** The pickle ended before STOP: more bytes might complete it (used for streams of pickles). */
export class PickleTruncatedError extends WeightWatcherError {
  constructor(source: string, at: number) {
    super('E_CORRUPT', `${source}: pickle is truncated at byte ${at} (no STOP opcode)`, { file: source });
  }
}

const MAX_TEXT_LINE = 4096; // also Python's int-from-string digit limit (4300)
const MAX_LONG_BYTES = 4096;
/**
 * Every value the machine creates is pushed once, so capping pushes caps the objects a small
 * hostile pickle can make (one opcode byte can create a dict). A torch state dict needs ~40 per
 * tensor. The stack itself stays shallow in real pickles (the pickler batches items by 1000).
 */
const MAX_PUSHES = 1 << 22;
const MAX_STACK = 1 << 20;

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Decode one pickle starting at `options.offset` (default 0). */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private pos: number;
  private stack: StackItem[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly dv: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.pos = opts.offset ?? 0;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(code: 'E_CORRUPT' | 'E_UNSUPPORTED' | 'E_UNSAFE', msg: string): never {
    throw new WeightWatcherError(code, `${this.opts.source}: ${msg}`, { file: this.opts.source });
  }

  private need(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0) this.fail('E_CORRUPT', `invalid length ${n} at byte ${this.pos}`);
    if (this.pos + n > this.bytes.length) throw new PickleTruncatedError(this.opts.source, this.bytes.length);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number {
    return this.bytes[this.need(1)]!;
  }
  private u16(): number {
    return this.dv.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.dv.getUint32(this.need(4), true);
  }
  private i32(): number {
    return this.dv.getInt32(this.need(4), true);
  }
  private u64(): number {
    const v = this.dv.getBigUint64(this.need(8), true);
    // Lengths beyond the buffer are caught by need(); this just keeps them exact.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
  }
  private raw(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  private utf8(n: number): string {
    try {
      return utf8Strict.decode(this.raw(n));
    } catch (e) {
      if (e instanceof WeightWatcherError) throw e;
      return this.fail('E_CORRUPT', `invalid UTF-8 string at byte ${this.pos - n}`);
    }
  }
  private line(): string {
    const start = this.pos;
    const limit = Math.min(this.bytes.length, start + MAX_TEXT_LINE);
    for (let p = start; p < limit; p++) {
      if (this.bytes[p] === 0x0a) {
        this.pos = p + 1;
        return latin1.decode(this.bytes.subarray(start, p));
      }
    }
    if (limit === this.bytes.length) throw new PickleTruncatedError(this.opts.source, this.bytes.length);
    return this.fail('E_CORRUPT', `text argument at byte ${start} is longer than ${MAX_TEXT_LINE} bytes`);
  }

  private pushes = 0;

  private push(v: StackItem): void {
    if (++this.pushes > MAX_PUSHES || this.stack.length >= MAX_STACK) {
      this.fail(
        'E_UNSUPPORTED',
        `pickle creates more than ${this.pushes > MAX_PUSHES ? `${MAX_PUSHES} values` : `${MAX_STACK} stack entries`} (byte ${this.pos - 1}); refusing a possible memory bomb`,
      );
    }
    this.stack.push(v);
  }

  private pop(): PyValue {
    const v = this.stack.pop();
    if (v === undefined) this.fail('E_CORRUPT', `stack underflow at byte ${this.pos - 1}`);
    if (v === MARK) this.fail('E_CORRUPT', `unexpected MARK on the stack at byte ${this.pos - 1}`);
    return v;
  }

  private top(): PyValue {
    const v = this.stack[this.stack.length - 1];
    if (v === undefined || v === MARK) this.fail('E_CORRUPT', `missing stack operand at byte ${this.pos - 1}`);
    return v;
  }

  /** Pop everything above the topmost MARK, and the MARK. */
  private popMark(): PyValue[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) this.fail('E_CORRUPT', `no MARK on the stack at byte ${this.pos - 1}`);
    const items = this.stack.splice(i) as PyValue[];
    items.shift();
    return items;
  }

  private memoGet(i: number): void {
    if (!this.memo.has(i)) this.fail('E_CORRUPT', `memo key ${i} is not defined (byte ${this.pos})`);
    this.push(this.memo.get(i)!);
  }

  private memoPut(i: number): void {
    this.memo.set(i, this.top());
  }

  private global(module: string, name: string): void {
    const key = `${module}.${name}`;
    if (!this.opts.globals.has(key)) {
      this.fail(
        'E_UNSAFE',
        `refusing to load pickle global ${key} (not on the allow-list of tensor-data globals; loading it could execute code)`,
      );
    }
    this.push(this.opts.globals.get(key)!);
  }

  private call(fn: PyValue, args: readonly PyValue[]): void {
    if (!(fn instanceof PyCallable)) {
      this.fail('E_UNSUPPORTED', `pickle calls ${describeValue(fn)}, which is not a supported constructor (byte ${this.pos - 1})`);
    }
    this.push(fn.call(args));
  }

  private setItems(target: PyValue, kv: readonly PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail('E_UNSUPPORTED', `SETITEM(S) on ${describeValue(target)} (byte ${this.pos - 1})`);
    if (kv.length % 2) this.fail('E_CORRUPT', `SETITEMS with an odd number of items (byte ${this.pos - 1})`);
    for (let i = 0; i < kv.length; i += 2) target.set(kv[i]!, kv[i + 1]!);
  }

  private append(target: PyValue, items: readonly PyValue[]): void {
    if (Array.isArray(target)) pushAll(target, items);
    else if (target instanceof PySet) pushAll(target.items, items);
    else this.fail('E_UNSUPPORTED', `APPEND(S) on ${describeValue(target)} (byte ${this.pos - 1})`);
  }

  private long(bytes: Uint8Array): number | bigint {
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(bytes.length * 8);
    return normalizeInt(v);
  }

  private textInt(s: string): number | bigint | boolean {
    const t = s.trim().replace(/L$/, '');
    if (t === '00') return false;
    if (t === '01') return true;
    if (!/^[+-]?\d+$/.test(t)) this.fail('E_CORRUPT', `invalid integer literal ${JSON.stringify(s.slice(0, 40))}`);
    return normalizeInt(BigInt(t));
  }

  run(): UnpickleResult {
    for (;;) {
      const opAt = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: {
          // PROTO
          const v = this.u8();
          if (v > 5) this.fail('E_UNSUPPORTED', `pickle protocol ${v} is not supported (max 5)`);
          break;
        }
        case 0x95:
          this.u64();
          break; // FRAME: framing only matters for streaming readers
        case 0x2e: {
          // STOP
          const value = this.pop();
          return { value, end: this.pos };
        }
        case 0x28:
          this.push(MARK);
          break; // MARK
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          this.push(this.top());
          break; // DUP

        case 0x4e:
          this.push(null);
          break; // NONE
        case 0x88:
          this.push(true);
          break; // NEWTRUE
        case 0x89:
          this.push(false);
          break; // NEWFALSE
        case 0x4b:
          this.push(this.u8());
          break; // BININT1
        case 0x4d:
          this.push(this.u16());
          break; // BININT2
        case 0x4a:
          this.push(this.i32());
          break; // BININT
        case 0x8a:
          this.push(this.long(this.raw(this.u8())));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0 || n > MAX_LONG_BYTES) this.fail('E_UNSUPPORTED', `LONG4 of ${n} bytes at byte ${opAt}`);
          this.push(this.long(this.raw(n)));
          break;
        }
        case 0x49:
          this.push(this.textInt(this.line()));
          break; // INT
        case 0x4c:
          this.push(this.textInt(this.line()));
          break; // LONG
        case 0x46: {
          // FLOAT
          const s = this.line().trim();
          const v = Number(s);
          if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) this.fail('E_CORRUPT', `invalid float literal at byte ${opAt}`);
          this.push(v);
          break;
        }
        case 0x47:
          this.push(this.dv.getFloat64(this.need(8), false));
          break; // BINFLOAT (big-endian)

        case 0x8c:
          this.push(this.utf8(this.u8()));
          break; // SHORT_BINUNICODE
        case 0x58:
          this.push(this.utf8(this.u32()));
          break; // BINUNICODE
        case 0x8d:
          this.push(this.utf8(this.u64()));
          break; // BINUNICODE8
        case 0x55:
          this.push(latin1.decode(this.raw(this.u8())));
          break; // SHORT_BINSTRING (py2 str)
        case 0x54:
          this.push(latin1.decode(this.raw(this.i32())));
          break; // BINSTRING
        case 0x43:
          this.push(this.raw(this.u8()).slice());
          break; // SHORT_BINBYTES
        case 0x42:
          this.push(this.raw(this.u32()).slice());
          break; // BINBYTES
        case 0x8e:
          this.push(this.raw(this.u64()).slice());
          break; // BINBYTES8
        case 0x96:
          this.push(this.raw(this.u64()).slice());
          break; // BYTEARRAY8

        case 0x7d:
          this.push(new PyDict());
          break; // EMPTY_DICT
        case 0x5d:
          this.push([]);
          break; // EMPTY_LIST
        case 0x29:
          this.push(new PyTuple([]));
          break; // EMPTY_TUPLE
        case 0x8f:
          this.push(new PySet());
          break; // EMPTY_SET
        case 0x85:
          this.push(new PyTuple([this.pop()]));
          break; // TUPLE1
        case 0x86: {
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b]));
          break;
        } // TUPLE2
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b, c]));
          break;
        } // TUPLE3
        case 0x74:
          this.push(new PyTuple(this.popMark()));
          break; // TUPLE
        case 0x6c:
          this.push(this.popMark());
          break; // LIST
        case 0x64: {
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        } // DICT
        case 0x91: {
          const s = new PySet();
          pushAll(s.items, this.popMark());
          this.push(s);
          break;
        } // FROZENSET
        case 0x61: {
          const v = this.pop();
          this.append(this.top(), [v]);
          break;
        } // APPEND
        case 0x65: {
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        } // APPENDS
        case 0x90: {
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        } // ADDITEMS
        case 0x73: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        } // SETITEM
        case 0x75: {
          const kv = this.popMark();
          this.setItems(this.top(), kv);
          break;
        } // SETITEMS

        case 0x71:
          this.memoPut(this.u8());
          break; // BINPUT
        case 0x72:
          this.memoPut(this.u32());
          break; // LONG_BINPUT
        case 0x94:
          this.memoPut(this.memo.size);
          break; // MEMOIZE
        case 0x70:
          this.memoPut(Number(this.textInt(this.line())));
          break; // PUT
        case 0x68:
          this.memoGet(this.u8());
          break; // BINGET
        case 0x6a:
          this.memoGet(this.u32());
          break; // LONG_BINGET
        case 0x67:
          this.memoGet(Number(this.textInt(this.line())));
          break; // GET

        case 0x63: {
          const module = this.line();
          const name = this.line();
          this.global(module, name);
          break;
        } // GLOBAL
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string')
            this.fail('E_CORRUPT', `STACK_GLOBAL needs two strings (byte ${opAt})`);
          this.global(module, name);
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          if (!(args instanceof PyTuple)) this.fail('E_CORRUPT', `REDUCE arguments are ${describeValue(args)}, not a tuple (byte ${opAt})`);
          this.call(fn, args.items);
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          if (!(args instanceof PyTuple)) this.fail('E_CORRUPT', `NEWOBJ arguments are not a tuple (byte ${opAt})`);
          this.call(cls, args.items);
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict))
            this.fail('E_CORRUPT', `NEWOBJ_EX needs a tuple and a dict (byte ${opAt})`);
          if (kwargs.size) this.fail('E_UNSUPPORTED', `NEWOBJ_EX with keyword arguments (byte ${opAt})`);
          this.call(cls, args.items);
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const target = this.top();
          // Only dicts keep their state (OrderedDict._metadata); descriptors ignore it: setting
          // attributes on data we built ourselves can never matter to the tensors.
          if (target instanceof PyDict) target.state = state;
          break;
        }
        case 0x51:
          this.persistent(this.pop());
          break; // BINPERSID
        case 0x50:
          this.persistent(this.line());
          break; // PERSID

        case 0x69:
        case 0x6f: // INST, OBJ
          this.fail('E_UNSAFE', `refusing pickle opcode ${op === 0x69 ? 'INST' : 'OBJ'} (instantiates arbitrary classes) at byte ${opAt}`);
          break;
        case 0x82:
        case 0x83:
        case 0x84: // EXT1/2/4
          this.fail('E_UNSAFE', `refusing pickle extension-registry opcode at byte ${opAt}`);
          break;
        default:
          this.fail(
            op === 0x53 || op === 0x56 || op === 0x97 || op === 0x98 ? 'E_UNSUPPORTED' : 'E_CORRUPT',
            `unsupported or invalid pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt}`,
          );
      }
    }
  }

  private persistent(pid: PyValue): void {
    if (!this.opts.persistentLoad)
      this.fail('E_UNSUPPORTED', `pickle uses a persistent id ${describeValue(pid)} but no persistent loader is available`);
    this.push(this.opts.persistentLoad(pid));
  }
}

/** A loop rather than `push(...items)`, which overflows the call stack for huge item lists. */
function pushAll(target: PyValue[], items: readonly PyValue[]): void {
  for (const v of items) target.push(v);
}

function normalizeInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function hashKey(key: PyValue): string {
  const scalar = hashScalar(key);
  if (scalar !== undefined) return scalar;
  if (key instanceof PyTuple) {
    const parts = key.items.map(hashScalar);
    if (parts.every((p) => p !== undefined)) return `t(${parts.join(',')})`;
  }
  throw new WeightWatcherError(
    'E_UNSUPPORTED',
    `pickle uses ${describeValue(key)} as a dict key (only strings, numbers and flat tuples are supported)`,
  );
}

function hashScalar(key: PyValue): string | undefined {
  switch (typeof key) {
    case 'string':
      return `s${JSON.stringify(key)}`;
    // Python: 1 == 1.0 == True hash alike.
    case 'number':
      return `n${key}`;
    case 'bigint':
      return `n${key}`;
    case 'boolean':
      return `n${key ? 1 : 0}`;
    default:
      return key === null ? 'None' : undefined;
  }
}

/** A short description of a value for error messages. */
export function describeValue(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (v instanceof PyCallable) return v.qualname;
  if (v instanceof PyTuple) return `a ${v.items.length}-tuple`;
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PySet) return 'a set';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return v.pyType;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return String(v);
}
