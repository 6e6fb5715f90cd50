import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPyTorch, openPyTorchShards } from '../../src/formats/pytorch.js';
import { unpickle, PyCallable, PyDict, PyTuple, type PyValue } from '../../src/formats/pickle.js';
import { ZipArchive } from '../../src/formats/zip.js';
import { decodeToFloat32 } from '../../src/formats/decode.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import type { TensorStore } from '../../src/formats/types.js';
import { expectMatches, generateFixtures, hasNumpy, type Expected } from '../helpers/python-fixtures.js';
import { zipBytes } from '../helpers/zip-writer.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = path.resolve(projectRoot, '../shared/corpus');
const hasCorpus = existsSync(path.join(corpus, 'synthetic/convnet_state_dict.pt'));
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'ww-pytorch-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

async function expectWWError(p: Promise<unknown>, codes: string[], pattern?: RegExp): Promise<WeightWatcherError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a WeightWatcherError').toBeInstanceOf(WeightWatcherError);
  const w = e as WeightWatcherError;
  expect(codes, w.message).toContain(w.code);
  if (pattern) expect(w.message).toMatch(pattern);
  return w;
}

/** Any failure on hostile input must be a WeightWatcherError; success is fine too. */
async function openAndReadAll(file: string): Promise<void> {
  let store: TensorStore | undefined;
  try {
    store = await openPyTorch(file);
    for (const e of store.list()) await store.read(e.name);
  } catch (e) {
    if (!(e instanceof WeightWatcherError)) throw e;
  } finally {
    await store?.close();
  }
}

/** Seeded PRNG so fuzz failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readSafetensorsHeader(file: string): {
  dataStart: number;
  tensors: Map<string, { dtype: string; shape: number[]; offsets: [number, number] }>;
} {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, { dtype: string; shape: number[]; offsets: [number, number] }>();
  for (const [k, v] of Object.entries(json))
    if (k !== '__metadata__') tensors.set(k, { dtype: v.dtype, shape: v.shape, offsets: v.data_offsets });
  return { dataStart: 8 + n, tensors };
}

// Pickle builders (protocol 2 opcodes) for hand-made, possibly hostile, pickles.
const enc = new TextEncoder();
const bytes = (...parts: (number | string | Uint8Array)[]): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === 'number' ? Uint8Array.of(p) : typeof p === 'string' ? enc.encode(p) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
};
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const P = {
  proto: bytes(0x80, 2),
  str: (s: string) => bytes('X', u32(enc.encode(s).length), s),
  int: (n: number) => bytes('J', u32(n)),
  global: (m: string, n: string) => bytes('c', `${m}\n${n}\n`),
  mark: bytes('('),
  tuple: bytes('t'),
  reduce: bytes('R'),
  stop: bytes('.'),
  emptyTuple: bytes(')'),
  setitems: bytes('u'),
  binpersid: bytes('Q'),
  newfalse: bytes(0x89),
};

/** A protocol-2 torch state-dict pickle with one float tensor `name` of `shape` in storage '0'. */
function torchPickle(name: string, shape: number[], global: Uint8Array = P.global('torch._utils', '_rebuild_tensor_v2')): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return bytes(
    P.proto,
    P.global('collections', 'OrderedDict'),
    P.emptyTuple,
    P.reduce,
    P.mark,
    P.str(name),
    global,
    P.mark,
    P.mark,
    P.str('storage'),
    P.global('torch', 'FloatStorage'),
    P.str('0'),
    P.str('cpu'),
    P.int(numel),
    P.tuple,
    P.binpersid,
    P.int(0),
    P.mark,
    ...shape.map(P.int),
    P.tuple,
    P.mark,
    ...strides.map(P.int),
    P.tuple,
    P.newfalse,
    P.global('collections', 'OrderedDict'),
    P.emptyTuple,
    P.reduce,
    P.tuple,
    P.reduce,
    P.setitems,
    P.stop,
  );
}

function torchZip(pickle: Uint8Array, storage: Uint8Array, zip64 = false): Uint8Array {
  return zipBytes(
    [
      { name: 'archive/data.pkl', data: pickle },
      { name: 'archive/data/0', data: storage },
      { name: 'archive/version', data: enc.encode('3\n') },
    ],
    zip64,
  );
}

function writeTmp(name: string, data: Uint8Array): string {
  const file = path.join(tmp, name);
  writeFileSync(file, data);
  return file;
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!hasCorpus)(`corpus torch files match their safetensors twins (needs ${corpus}; skipped when absent)`, () => {
  const pairs = [
    ['minigpt/big-data/pytorch_model.bin', 'minigpt/big-data/model.safetensors'],
    ['synthetic/convnet_state_dict.pt', 'synthetic/convnet.safetensors'],
  ] as const;

  for (const [torchFile, stFile] of pairs) {
    it(`${torchFile}: same names, dtypes, shapes and bit-identical float data`, async () => {
      const st = readSafetensorsHeader(path.join(corpus, stFile));
      const stBuf = readFileSync(path.join(corpus, stFile));
      const store = await openPyTorch(path.join(corpus, torchFile));
      try {
        expect(store.format).toBe('pytorch');
        expect(store.convention).toBe('statedict');
        const list = store.list();
        expect(new Set(list.map((e) => e.name))).toEqual(new Set(st.tensors.keys()));
        let floats = 0;
        for (const e of list) {
          const ref = st.tensors.get(e.name)!;
          expect(e.shape, e.name).toEqual(ref.shape);
          expect(e.dtype, e.name).toBe(ref.dtype);
          if (!['F32', 'F16', 'BF16', 'F64'].includes(e.dtype)) continue;
          const count = ref.shape.reduce((a, b) => a * b, 1);
          const expected = decodeToFloat32(
            new Uint8Array(stBuf.subarray(st.dataStart + ref.offsets[0], st.dataStart + ref.offsets[1])),
            ref.dtype,
            count,
          );
          const got = await store.read(e.name);
          expect(got.length, e.name).toBe(count);
          expect(Buffer.from(bits(got).buffer).equals(Buffer.from(bits(expected).buffer)), e.name).toBe(true);
          floats++;
        }
        expect(floats).toBeGreaterThan(10);
      } finally {
        await store.close();
      }
    });
  }

  it('keeps state-dict order (the order torch pickled the keys)', async () => {
    const store = await openPyTorch(path.join(corpus, 'minigpt/big-data/pytorch_model.bin'));
    expect(
      store
        .list()
        .slice(0, 3)
        .map((e) => e.name),
    ).toEqual(['wte.weight', 'wpe.weight', 'h.0.ln_1.weight']);
    await store.close();
  });

  it('survives truncation of a real checkpoint at many points', async () => {
    const buf = readFileSync(path.join(corpus, 'synthetic/convnet_state_dict.pt'));
    const cuts = [0, 1, 4, 30, 100, 500, 2000, 3000, buf.length >> 1, buf.length - 200, buf.length - 98, buf.length - 22, buf.length - 1];
    for (const cut of cuts) {
      const file = writeTmp('trunc.pt', buf.subarray(0, cut));
      await expectWWError(openPyTorch(file), ['E_FORMAT', 'E_CORRUPT']);
    }
  });
});

describe('restricted unpickler', () => {
  const marker = (): string => path.join(tmp, 'pwned');
  const hostile = (): { label: string; pickle: Uint8Array; global: string }[] => [
    {
      label: 'os.system',
      global: 'os.system',
      pickle: bytes(P.proto, P.global('os', 'system'), P.mark, P.str(`touch ${marker()}`), P.tuple, P.reduce, P.stop),
    },
    {
      label: 'posix.system',
      global: 'posix.system',
      pickle: bytes(P.proto, P.global('posix', 'system'), P.mark, P.str(`touch ${marker()}`), P.tuple, P.reduce, P.stop),
    },
    {
      label: 'builtins.eval',
      global: 'builtins.eval',
      pickle: bytes(
        P.proto,
        P.global('builtins', 'eval'),
        P.mark,
        P.str(`__import__('os').system('touch ${marker()}')`),
        P.tuple,
        P.reduce,
        P.stop,
      ),
    },
    {
      label: 'subprocess.Popen',
      global: 'subprocess.Popen',
      pickle: bytes(P.proto, P.global('subprocess', 'Popen'), P.mark, P.str('id'), P.tuple, P.reduce, P.stop),
    },
    {
      label: 'unknown foo.bar (STACK_GLOBAL, protocol 4)',
      global: 'foo.bar',
      pickle: bytes(0x80, 4, 0x8c, 3, 'foo', 0x8c, 3, 'bar', 0x93, P.emptyTuple, P.reduce, P.stop),
    },
    // A malicious global hidden as the tensor rebuild function inside an otherwise valid state dict.
    { label: 'os.system as a rebuild function', global: 'os.system', pickle: torchPickle('w', [2, 2], P.global('os', 'system')) },
  ];

  // Harmless stand-ins for the state-dict globals, so a hostile global later in the pickle is reached.
  const harmless = new Map<string, PyValue>([
    ['collections.OrderedDict', new PyCallable('collections.OrderedDict', () => new PyDict())],
    ['torch.FloatStorage', null],
  ]);

  it('refuses dangerous and unknown globals as a raw pickle, naming them, without running anything', () => {
    for (const h of hostile()) {
      let err: unknown;
      try {
        unpickle(h.pickle, { globals: harmless, source: h.label });
      } catch (e) {
        err = e;
      }
      expect(err, h.label).toBeInstanceOf(WeightWatcherError);
      expect((err as WeightWatcherError).code).toBe('E_UNSAFE');
      expect((err as WeightWatcherError).message).toContain(`refusing to load pickle global ${h.global}`);
    }
    expect(existsSync(marker())).toBe(false);
  });

  it('refuses them through openPyTorch, as a raw pickle file and inside a torch-style zip', async () => {
    for (const [i, h] of hostile().entries()) {
      const raw = writeTmp(`hostile${i}.pkl`, h.pickle);
      await expectWWError(openPyTorch(raw), ['E_UNSAFE'], new RegExp(`refusing to load pickle global ${h.global.replace('.', '\\.')}`));
      const zipped = writeTmp(`hostile${i}.pt`, torchZip(h.pickle, new Uint8Array(16)));
      await expectWWError(openPyTorch(zipped), ['E_UNSAFE'], new RegExp(h.global.replace('.', '\\.')));
    }
    expect(existsSync(marker())).toBe(false);
  });

  it('refuses INST/OBJ and the extension registry', () => {
    for (const p of [
      bytes('i', 'os\nsystem\n', P.stop),
      bytes(P.mark, P.global('os', 'system'), 'o', P.stop),
      bytes(P.proto, 0x82, 1, P.stop),
    ]) {
      expect(() => unpickle(p, { globals: new Map(), source: 'x' })).toThrow(WeightWatcherError);
    }
  });

  it('decodes the plain-data opcodes', () => {
    const p = bytes(
      0x80,
      4,
      0x95,
      new Uint8Array(8), // PROTO 4, FRAME
      '}',
      0x94, // EMPTY_DICT, MEMOIZE
      P.mark,
      0x8c,
      1,
      'a',
      'K',
      7, // 'a': 7
      0x8c,
      1,
      'b',
      'M',
      0x34,
      0x12, // 'b': 0x1234
      0x8c,
      1,
      'c',
      'J',
      0xff,
      0xff,
      0xff,
      0xff, // 'c': -1
      0x8c,
      1,
      'd',
      0x8a,
      10,
      0x6c,
      0xfc,
      0x9c,
      0x46,
      0xf9,
      0x20,
      0x6a,
      0xa8,
      0x50,
      0x19, // 'd': LONG1 magic
      0x8c,
      1,
      'e',
      'G',
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0, // 'e': 1.5
      0x8c,
      1,
      'f',
      ']',
      0x94,
      P.mark,
      'N',
      0x88,
      0x89,
      'K',
      1,
      'e', // 'f': [None, True, False, 1]
      0x8c,
      1,
      'g',
      'C',
      2,
      1,
      2, // 'g': b'\x01\x02'
      0x8c,
      1,
      'h',
      'K',
      1,
      'K',
      2,
      0x86, // 'h': (1, 2)
      0x8c,
      1,
      'i',
      'h',
      0, // 'i': memo[0] (the dict itself)
      'u',
      P.stop,
    );
    const { value, end: stop } = unpickle(p, { globals: new Map(), source: 'test' });
    expect(stop).toBe(p.length);
    expect(value).toBeInstanceOf(PyDict);
    const d = value as PyDict;
    expect(d.get('a')).toBe(7);
    expect(d.get('b')).toBe(0x1234);
    expect(d.get('c')).toBe(-1);
    expect(d.get('d')).toBe(0x1950a86a20f9469cfc6cn);
    expect(d.get('e')).toBe(1.5);
    expect(d.get('f')).toEqual([null, true, false, 1]);
    expect(d.get('g')).toEqual(Uint8Array.of(1, 2));
    expect((d.get('h') as PyTuple).items).toEqual([1, 2]);
    expect(d.get('i')).toBe(d);
  });

  it('rejects memory bombs by length before allocating', () => {
    const huge = [
      bytes(P.proto, 0x8d, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0x10]), P.stop), // BINUNICODE8 2^60
      bytes(P.proto, 'B', u32(0xffffffff), P.stop), // BINBYTES 4 GiB
      bytes(P.proto, 0x8b, u32(0x7fffffff), P.stop), // LONG4 2 GiB
      bytes(P.proto, 'X', u32(0xfffffff0), 'abc', P.stop),
    ];
    for (const p of huge) {
      const t = Date.now();
      expect(() => unpickle(p, { globals: new Map(), source: 'bomb' })).toThrow(WeightWatcherError);
      expect(Date.now() - t).toBeLessThan(1000);
    }
  });

  it('caps the number of values a small pickle can create', () => {
    for (const op of ['}', 'N', '(']) {
      const p = new Uint8Array(2 + 6_000_000).fill(op.charCodeAt(0));
      p.set(P.proto);
      const err = (() => {
        try {
          unpickle(p, { globals: new Map(), source: 'flood' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(WeightWatcherError);
      expect((err as WeightWatcherError).code).toBe('E_UNSUPPORTED');
      expect((err as WeightWatcherError).message).toMatch(/memory bomb/);
    }
  });

  it('handles very deep nesting without recursion', async () => {
    const depth = 200_000;
    const p = new Uint8Array(2 + 2 * depth);
    p.set(P.proto);
    p.fill(']'.charCodeAt(0), 2, 2 + depth);
    p.fill('a'.charCodeAt(0), 2 + depth, 1 + 2 * depth);
    p[p.length - 1] = '.'.charCodeAt(0);
    const { value } = unpickle(p, { globals: new Map(), source: 'deep' });
    expect(Array.isArray(value)).toBe(true);
    await expectWWError(openPyTorch(writeTmp('deep.pt', torchZip(p, new Uint8Array(0)))), ['E_FORMAT']);
  });

  it('reports every truncation of a valid pickle as E_CORRUPT', () => {
    const p = torchPickle('w', [2, 3]);
    for (let cut = 0; cut < p.length; cut++) {
      let err: unknown;
      try {
        unpickle(p.subarray(0, cut), { globals: new Map([['collections.OrderedDict', null]]), source: 'cut' });
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(WeightWatcherError);
    }
  });
});

describe('torch zip checkpoints built by hand', () => {
  const values = Float32Array.from([1.5, -2, 3.25, 0, 1e-3, 42]);
  const storage = new Uint8Array(values.buffer);
  const good = (): Uint8Array => torchZip(torchPickle('layer.weight', [2, 3]), storage);

  it('reads a minimal checkpoint', async () => {
    const store = await openPyTorch(writeTmp('min.pt', good()));
    expect(store.list()).toEqual([{ name: 'layer.weight', dtype: 'F32', shape: [2, 3] }]);
    expect(await store.read('layer.weight')).toEqual(values);
    await expectWWError(store.read('nope'), ['E_NOT_FOUND']);
    await store.close();
    await store.close();
  });

  it('reads ZIP64 archives (sizes and offsets in ZIP64 extra fields and end records)', async () => {
    const file = writeTmp('z64.pt', torchZip(torchPickle('layer.weight', [2, 3]), storage, true));
    const store = await openPyTorch(file);
    expect(await store.read('layer.weight')).toEqual(values);
    await store.close();
    const buf = torchZip(torchPickle('layer.weight', [2, 3]), storage, true);
    for (let cut = buf.length - 120; cut < buf.length; cut++) {
      await expectWWError(openPyTorch(writeTmp('z64cut.pt', buf.subarray(0, cut))), ['E_FORMAT', 'E_CORRUPT']);
    }
  });

  it('refuses a storage that is shorter than the tensor', async () => {
    const file = writeTmp('short.pt', torchZip(torchPickle('w', [2, 3]), storage.subarray(0, 20)));
    await expectWWError(openPyTorch(file), ['E_CORRUPT'], /storage 0/);
  });

  it('gives E_FORMAT / E_CORRUPT for every truncation and never crashes on byte flips', async () => {
    const buf = good();
    for (let cut = 0; cut < buf.length; cut += 7) {
      await expectWWError(openPyTorch(writeTmp('cut.pt', buf.subarray(0, cut))), ['E_FORMAT', 'E_CORRUPT']);
    }
    const rand = rng(1234);
    for (let i = 0; i < 400; i++) {
      const mutated = new Uint8Array(buf);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      await openAndReadAll(writeTmp('flip.pt', mutated));
    }
  });

  it('refuses non-torch files with E_FORMAT', async () => {
    await expectWWError(openPyTorch(writeTmp('empty.bin', new Uint8Array(0))), ['E_FORMAT']);
    await expectWWError(openPyTorch(writeTmp('text.bin', enc.encode('hello world, not a model'))), ['E_FORMAT']);
    await expectWWError(
      openPyTorch(writeTmp('other.zip', zipBytes([{ name: 'a.txt', data: enc.encode('x') }]))),
      ['E_FORMAT'],
      /data\.pkl/,
    );
    await expectWWError(openPyTorch(path.join(tmp, 'missing.pt')), ['E_NOT_FOUND']);
  });

  it('exposes entries and ranges through ZipArchive', async () => {
    const zip = await ZipArchive.open(writeTmp('z.pt', good()));
    expect(zip.entries().map((e) => e.name)).toEqual(['archive/data.pkl', 'archive/data/0', 'archive/version']);
    expect(await zip.readEntryRange('archive/data/0', 4, 8)).toEqual(storage.subarray(4, 12));
    await expectWWError(zip.readEntryRange('archive/data/0', 20, 8), ['E_CORRUPT']);
    await zip.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Fixtures written by Python's pickle with a stand-in `torch` module (no torch is installed):
// the pickles are byte-for-byte what torch.save produces for the same state dict.

const GENERATOR = String.raw`
import sys, types, pickle, zipfile, struct, json, collections, io, os
import numpy as np
out = sys.argv[1]

torch = types.ModuleType('torch'); utils = types.ModuleType('torch._utils')
sys.modules['torch'] = torch; sys.modules['torch._utils'] = utils; torch._utils = utils
def storage_class(name):
    c = type(name, (), {}); c.__module__ = 'torch'; c.__qualname__ = name; setattr(torch, name, c); return c
def torch_function(name):
    def f(*a): raise RuntimeError('never called')
    f.__module__ = 'torch._utils'; f.__qualname__ = f.__name__ = name; setattr(utils, name, f); return f
rebuild_v2 = torch_function('_rebuild_tensor_v2'); rebuild_param = torch_function('_rebuild_parameter')
KINDS = {'F32': (storage_class('FloatStorage'), '<f4'), 'F16': (storage_class('HalfStorage'), '<f2'),
         'F64': (storage_class('DoubleStorage'), '<f8'), 'I64': (storage_class('LongStorage'), '<i8'),
         'BF16': (storage_class('BFloat16Storage'), '<u2')}

class Storage:
    def __init__(self, key, dtype, values):
        self.key, self.dtype = key, dtype
        cls, fmt = KINDS[dtype]
        self.cls = cls
        if dtype == 'BF16':
            f = np.asarray(values, dtype='<f4')
            self.array = (f.view('<u4') >> 16).astype('<u2')
            self.as_f32 = (self.array.astype('<u4') << 16).view('<f4')
        else:
            self.array = np.asarray(values).astype(fmt)
            self.as_f32 = self.array.astype('<f4')
        self.numel = self.array.size
    def raw(self, big=False):
        return self.array.astype(self.array.dtype.newbyteorder('>')).tobytes() if big else self.array.tobytes()

class Tensor:
    def __init__(self, storage, offset, shape, stride, param=False):
        self.storage, self.offset, self.shape, self.stride, self.param = storage, offset, tuple(shape), tuple(stride), param
    def __reduce_ex__(self, proto):
        inner = (rebuild_v2, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))
        if self.param:
            return (rebuild_param, (Tensor(self.storage, self.offset, self.shape, self.stride), False, collections.OrderedDict()))
        return inner
    def expected(self):
        a = self.storage.as_f32
        view = np.lib.stride_tricks.as_strided(a[self.offset:], self.shape, [s * 4 for s in self.stride]) if a.size else np.zeros(self.shape, '<f4')
        return np.ascontiguousarray(view, dtype='<f4')

def contiguous(shape):
    st, acc = [], 1
    for d in reversed(shape): st.insert(0, acc); acc *= d
    return st

rs = np.random.RandomState(7)
S = {k: Storage(k, d, v) for k, d, v in [
    ('0', 'F32', rs.randn(12)), ('1', 'F32', rs.randn(3)), ('2', 'F16', rs.randn(6)), ('3', 'BF16', rs.randn(4)),
    ('4', 'F64', rs.randn(4)), ('5', 'I64', [17]), ('6', 'F32', rs.randn(20)), ('7', 'F32', rs.randn(4)),
    ('8', 'F32', []), ('9', 'F32', rs.randn(24))]}
def sd(prefix=''):
    d = collections.OrderedDict()
    d[prefix + 'fc.weight'] = Tensor(S['0'], 0, (3, 4), (4, 1))
    d[prefix + 'fc.bias'] = Tensor(S['1'], 0, (3,), (1,))
    d[prefix + 'half.weight'] = Tensor(S['2'], 0, (2, 3), (3, 1))
    d[prefix + 'bf.weight'] = Tensor(S['3'], 0, (2, 2), (2, 1))
    d[prefix + 'dbl.weight'] = Tensor(S['4'], 0, (2, 2), (2, 1))
    d[prefix + 'bn.num_batches_tracked'] = Tensor(S['5'], 0, (), ())
    d[prefix + 'tr.weight'] = Tensor(S['0'], 0, (4, 3), (1, 4))
    d[prefix + 'slice.weight'] = Tensor(S['6'], 7, (2, 3), (5, 1))
    d[prefix + 'expand.weight'] = Tensor(S['1'], 0, (2, 3), (0, 1))
    d[prefix + 'param.weight'] = Tensor(S['7'], 0, (2, 2), (2, 1), param=True)
    d[prefix + 'empty.weight'] = Tensor(S['8'], 0, (0, 3), (3, 1))
    d[prefix + 'perm.weight'] = Tensor(S['9'], 0, (2, 3, 4), (1, 8, 2))
    return d

expected = {}
def record(name, d):
    items = []
    for k, t in d.items():
        if not isinstance(t, Tensor): continue
        f = os.path.join(out, 'expected_%d.f32' % len(os.listdir(out)))
        t.expected().tofile(f)
        items.append({'name': k, 'dtype': t.storage.dtype, 'shape': list(t.shape), 'file': f})
    expected[name] = items

def pickled(obj, protocol, pid):
    class P(pickle.Pickler):
        def persistent_id(self, o):
            return pid(o) if isinstance(o, Storage) else None
    buf = io.BytesIO(); P(buf, protocol=protocol).dump(obj); return buf.getvalue()

def storages_of(d):
    seen = collections.OrderedDict()
    def walk(v):
        if isinstance(v, Tensor):
            s = v.storage.root if isinstance(v.storage, View) else v.storage
            seen[s.key] = s
        elif isinstance(v, dict): [walk(x) for x in v.values()]
    walk(d); return list(seen.values())

def write_zip(name, obj, tensors, protocol=2, prefix='archive', big=False, method=zipfile.ZIP_STORED):
    data = pickled(obj, protocol, lambda s: ('storage', s.cls, s.key, 'cpu', s.numel))
    with zipfile.ZipFile(os.path.join(out, name), 'w', method) as z:
        z.writestr(prefix + '/data.pkl', data)
        if big: z.writestr(prefix + '/byteorder', 'big')
        for s in storages_of(tensors): z.writestr(prefix + '/data/' + s.key, s.raw(big))
        z.writestr(prefix + '/version', '3\n')
    record(name, tensors)

def write_legacy(name, obj, tensors):
    def pid(s):
        view = None
        if isinstance(s, View): return ('storage', s.root.cls, s.root.key, 'cpu', s.root.numel, (s.key, s.offset, s.size))
        return ('storage', s.cls, s.key, 'cpu', s.numel, view)
    with open(os.path.join(out, name), 'wb') as f:
        pickle.dump(0x1950a86a20f9469cfc6c, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, f, protocol=2)
        f.write(pickled(obj, 2, pid))
        roots = {s.key: s for s in storages_of(tensors)}
        keys = sorted(roots)
        pickle.dump(keys, f, protocol=2)
        for k in keys:
            f.write(struct.pack('<q', roots[k].numel)); f.write(roots[k].raw())
    record(name, tensors)

class View(Storage):
    def __init__(self, root, key, offset, size):
        self.root, self.key, self.offset, self.size = root, key, offset, size
        self.dtype, self.as_f32 = root.dtype, root.as_f32[offset:offset + size]

base = sd()
mixed = collections.OrderedDict(base); mixed['epoch'] = 5; mixed['config'] = {'lr': 0.1}; mixed['blob'] = b'\x00\x01'
write_zip('mixed.pt', mixed, base)
write_zip('proto4.pt', mixed, base, protocol=4, prefix='some_other_name')
write_zip('bigendian.pt', mixed, base, big=True)
write_zip('deflated.pt', mixed, base, method=zipfile.ZIP_DEFLATED)
write_zip('nested_state_dict.pt', {'epoch': 3, 'state_dict': base}, base)
write_zip('nested_model.pt', {'model': base, 'optimizer': {'lr': 0.1}, 'step': 4}, base)
view = View(S['6'], 'v6', 2, 10)
legacy = collections.OrderedDict(base); legacy['view.weight'] = Tensor(view, 1, (3, 3), (3, 1))
write_legacy('legacy.pt', legacy, legacy)

# Shards: shard 2 listed first in the JSON; the order must follow sorted shard names.
os.makedirs(os.path.join(out, 'shards'))
a = collections.OrderedDict([(k, base[k]) for k in ['fc.weight', 'fc.bias', 'tr.weight']])
b = collections.OrderedDict([(k, base[k]) for k in ['half.weight', 'perm.weight']])
write_zip('shards/pytorch_model-00001-of-00002.bin', a, a)
write_zip('shards/pytorch_model-00002-of-00002.bin', b, b)
wm = collections.OrderedDict([('perm.weight', 'pytorch_model-00002-of-00002.bin'), ('tr.weight', 'pytorch_model-00001-of-00002.bin'),
                              ('half.weight', 'pytorch_model-00002-of-00002.bin'), ('fc.weight', 'pytorch_model-00001-of-00002.bin'),
                              ('fc.bias', 'pytorch_model-00001-of-00002.bin')])
json.dump({'metadata': {}, 'weight_map': wm}, open(os.path.join(out, 'shards/pytorch_model.bin.index.json'), 'w'))
json.dump(expected, open(os.path.join(out, 'expected.json'), 'w'))
`;

describe.skipIf(!hasNumpy)('torch.save-format fixtures (python3 + numpy; skipped without them)', () => {
  let dir: string;
  let expected: Record<string, Expected[]>;
  const fixture = (name: string): string => path.join(dir, name);

  beforeAll(() => {
    ({ dir, expected } = generateFixtures(tmp, GENERATOR, 'gen_torch.py'));
  });

  for (const file of ['mixed.pt', 'proto4.pt', 'bigendian.pt', 'deflated.pt', 'nested_state_dict.pt', 'nested_model.pt', 'legacy.pt']) {
    it(`${file}: names in dict order, dtypes, shapes, strided views and values`, async () => {
      const store = await openPyTorch(fixture(file));
      try {
        expect(store.format).toBe('pytorch');
        await expectMatches(store, expected[file]!);
      } finally {
        await store.close();
      }
    });
  }

  it('sharded checkpoint follows the index: sorted shards, JSON order within a shard', async () => {
    const store = await openPyTorchShards(fixture('shards'));
    try {
      expect(store.list().map((e) => e.name)).toEqual(['tr.weight', 'fc.weight', 'fc.bias', 'perm.weight', 'half.weight']);
      const all = new Map(
        [...expected['shards/pytorch_model-00001-of-00002.bin']!, ...expected['shards/pytorch_model-00002-of-00002.bin']!].map((e) => [
          e.name,
          e,
        ]),
      );
      await expectMatches(
        store,
        store.list().map((e) => all.get(e.name)!),
      );
      // Out-of-order and concurrent reads switch shards safely.
      const got = await Promise.all(['half.weight', 'fc.bias', 'perm.weight', 'fc.weight'].map((n) => store.read(n)));
      expect(got.map((g) => g.length)).toEqual([6, 3, 24, 12]);
    } finally {
      await store.close();
    }
    const viaDir = await openPyTorch(fixture('shards'));
    expect(viaDir.list().length).toBe(5);
    await viaDir.close();
  });

  it('sharded checkpoint without an index: sorted files, dict order', async () => {
    const noIndex = path.join(tmp, 'noindex');
    mkdirSync(noIndex);
    for (const f of ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']) {
      writeFileSync(path.join(noIndex, f), readFileSync(fixture(`shards/${f}`)));
    }
    const store = await openPyTorchShards(noIndex);
    expect(store.list().map((e) => e.name)).toEqual(['fc.weight', 'fc.bias', 'tr.weight', 'half.weight', 'perm.weight']);
    await store.close();
  });

  it('refuses an index that points outside the directory or at missing tensors', async () => {
    const bad = path.join(tmp, 'badindex');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { 'a.weight': '../mixed.pt' } }));
    await expectWWError(openPyTorchShards(bad), ['E_UNSAFE'], /outside/);
    writeFileSync(path.join(bad, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { 'nope.weight': 'x.bin' } }));
    writeFileSync(path.join(bad, 'x.bin'), readFileSync(fixture('mixed.pt')));
    await expectWWError(openPyTorchShards(bad), ['E_CORRUPT'], /nope\.weight/);
  });

  it('legacy and zip files survive truncation and byte flips', async () => {
    for (const name of ['legacy.pt', 'proto4.pt']) {
      const buf = readFileSync(fixture(name));
      for (let cut = 0; cut < buf.length; cut += Math.max(1, Math.floor(buf.length / 150))) {
        await expectWWError(openPyTorch(writeTmp('fx-cut.pt', buf.subarray(0, cut))), ['E_FORMAT', 'E_CORRUPT']);
      }
      const rand = rng(99);
      for (let i = 0; i < 200; i++) {
        const m = new Uint8Array(buf);
        m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
        await openAndReadAll(writeTmp('fx-flip.pt', m));
      }
    }
  });
});
