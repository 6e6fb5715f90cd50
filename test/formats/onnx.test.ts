import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOnnx } from '../../src/formats/onnx.js';
import { ProtoReader, ProtoStream, type ProtoField } from '../../src/formats/protobuf.js';
import { RandomAccessFile } from '../../src/formats/file.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { expectError } from '../helpers/errors.js';
import { attr, cat, f32bytes, f64bytes, graph, len, model, node, str, tag, tensor, varint, vint } from '../helpers/onnx-writer.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = path.resolve(projectRoot, '../shared/corpus');
const goldens = path.resolve(projectRoot, '../shared/goldens');
const haveCorpus = existsSync(corpus) && existsSync(goldens);
if (!haveCorpus) console.warn(`onnx.test: corpus or goldens not found at ${corpus} / ${goldens}; skipping corpus tests`);

function f16bits(x: number): number {
  // Only exact halves are used in these tests: 1, -2, 0.5, 65504.
  const table: Record<number, number> = { 1: 0x3c00, [-2]: 0xc000, 0.5: 0x3800, 65504: 0x7bff };
  return table[x]!;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ww-onnx-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function writeModel(name: string, bytes: Uint8Array): Promise<string> {
  const p = path.join(tmp, name);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, bytes);
  return p;
}

// ---------------------------------------------------------------------------------------------

describe('protobuf decoder', () => {
  const ctx = { what: 'test' };
  const fieldsOf = (bytes: Uint8Array): ProtoField[] => {
    const r = new ProtoReader(bytes, ctx);
    const out: ProtoField[] = [];
    for (let f = r.next(); f; f = r.next()) out.push(f);
    return out;
  };

  it("decodes 64-bit varints as two's-complement integers", () => {
    const fs = fieldsOf(cat(vint(1, 0), vint(2, 300), vint(3, 2 ** 53 - 1), vint(4, -1), vint(5, -(2 ** 40)), vint(6, 0xffffffff)));
    expect(fs.map((f) => [f.field, f.int])).toEqual([
      [1, 0],
      [2, 300],
      [3, 2 ** 53 - 1],
      [4, -1],
      [5, -(2 ** 40)],
      [6, 0xffffffff],
    ]);
  });

  it('rejects malformed input with E_CORRUPT', () => {
    const bad = [
      cat(tag(1, 0), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11-byte varint
      cat(tag(1, 0), [0x80, 0x80]), // truncated varint
      cat(tag(1, 2), varint(10), [1, 2, 3]), // payload past the end
      cat(tag(1, 3)), // group
      cat(tag(1, 5), [1, 2]), // truncated fixed32
      [0x00, 0x01], // field number 0
    ];
    for (const b of bad) expect(() => fieldsOf(cat(b))).toThrow(WeightWatcherError);
  });

  it('limits nesting depth', () => {
    let msg: Uint8Array = vint(1, 1);
    for (let i = 0; i < 120; i++) msg = len(1, msg);
    let r = new ProtoReader(msg, ctx);
    expect(() => {
      for (;;) {
        const f = r.next()!;
        if (f.wire !== 2) break;
        r = r.message(f);
      }
    }).toThrow(/nested deeper/);
  });

  it('streams the same fields as the in-memory reader, whatever the window size', async () => {
    const bytes = model(graph([node('Relu', ['y'])], [tensor({ name: 'w', dims: [2, 2], dataType: 1, floats: [1, 2, 3, 4] })]));
    const p = await writeModel('stream.onnx', bytes);
    const raf = await RandomAccessFile.open(p);
    try {
      for (const chunk of [1, 3, 7, 64, 1 << 16]) {
        const stream = new ProtoStream(raf, chunk);
        const got: [number, number, number][] = [];
        for await (const f of stream.fields(0, raf.size, 0, ctx)) got.push([f.field, f.start, f.end]);
        expect(got).toEqual(fieldsOf(bytes).map((f) => [f.field, f.start, f.end]));
      }
    } finally {
      await raf.close();
    }
  });
});

describe('openOnnx on synthetic models', () => {
  it('decodes every TensorProto value encoding', async () => {
    const inits = [
      tensor({ name: 'raw_f32', dims: [2, 3], dataType: 1, raw: f32bytes([0, 0.5, 1, 1.5, 2, 2.5]) }),
      tensor({ name: 'packed_f32', dims: [3, 2], dataType: 1, floats: [1, -2, 3, -4, 5, -6] }),
      tensor({ name: 'unpacked_f32', dims: [2, 2], dataType: 1, floatsUnpacked: [0.25, 0.5, 0.75, 1] }),
      tensor({ name: 'packed_dims', dims: [1, 2], dataType: 1, floats: [7, 8], packedDims: true }),
      tensor({
        name: 'raw_f16',
        dims: [2, 2],
        dataType: 10,
        raw: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]).buffer),
      }),
      tensor({ name: 'int32_f16', dims: [2], dataType: 10, int32: [f16bits(0.5), f16bits(-2)] }),
      tensor({ name: 'int32_bf16', dims: [2], dataType: 16, int32: [0x3f80, 0xc040] }),
      tensor({ name: 'raw_bf16', dims: [2], dataType: 16, raw: new Uint8Array([0x80, 0x3f, 0x40, 0xc0]) }),
      tensor({ name: 'double', dims: [2], dataType: 11, doubles: [0.1, -1e10] }),
      tensor({ name: 'raw_double', dims: [1], dataType: 11, raw: f64bytes([3.5]) }),
      tensor({ name: 'int64', dims: [3], dataType: 7, int64: [-3, 0, 2 ** 40] }),
      tensor({ name: 'int32', dims: [2], dataType: 6, int32: [-5, 7] }),
      tensor({ name: 'uint64', dims: [2], dataType: 13, uint64: [2 ** 40, 2n ** 64n - 1n] }),
      tensor({ name: 'raw_u8', dims: [4], dataType: 2, raw: new Uint8Array([0, 1, 128, 255]) }),
      tensor({ name: 'bool', dims: [2], dataType: 9, int32: [1, 0] }),
      tensor({ name: 'scalar', dims: [], dataType: 1, floats: [42] }),
    ];
    const p = await writeModel('encodings.onnx', model(graph([], inits)));
    const store = await openOnnx(p);
    try {
      expect(store.format).toBe('onnx');
      expect(store.convention).toBe('onnx');
      expect(store.list().map((e) => [e.name, e.dtype, e.shape, e.kind])).toEqual([
        ['raw_f32', 'F32', [2, 3], 'initializer'],
        ['packed_f32', 'F32', [3, 2], 'initializer'],
        ['unpacked_f32', 'F32', [2, 2], 'initializer'],
        ['packed_dims', 'F32', [1, 2], 'initializer'],
        ['raw_f16', 'F16', [2, 2], 'initializer'],
        ['int32_f16', 'F16', [2], 'initializer'],
        ['int32_bf16', 'BF16', [2], 'initializer'],
        ['raw_bf16', 'BF16', [2], 'initializer'],
        ['double', 'F64', [2], 'initializer'],
        ['raw_double', 'F64', [1], 'initializer'],
        ['int64', 'I64', [3], 'initializer'],
        ['int32', 'I32', [2], 'initializer'],
        ['uint64', 'U64', [2], 'initializer'],
        ['raw_u8', 'U8', [4], 'initializer'],
        ['bool', 'BOOL', [2], 'initializer'],
        ['scalar', 'F32', [], 'initializer'],
      ]);
      const read = async (n: string): Promise<number[]> => [...(await store.read(n))];
      expect(await read('raw_f32')).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
      expect(await read('packed_f32')).toEqual([1, -2, 3, -4, 5, -6]);
      expect(await read('unpacked_f32')).toEqual([0.25, 0.5, 0.75, 1]);
      expect(await read('packed_dims')).toEqual([7, 8]);
      expect(await read('raw_f16')).toEqual([1, -2, 0.5, 65504]);
      expect(await read('int32_f16')).toEqual([0.5, -2]);
      expect(await read('int32_bf16')).toEqual([1, -3]);
      expect(await read('raw_bf16')).toEqual([1, -3]);
      expect(await read('double')).toEqual([Math.fround(0.1), -1e10]);
      expect(await read('raw_double')).toEqual([3.5]);
      expect(await read('int64')).toEqual([-3, 0, 2 ** 40]);
      expect(await read('int32')).toEqual([-5, 7]);
      expect(await read('uint64')).toEqual([2 ** 40, 2 ** 64]);
      expect(await read('raw_u8')).toEqual([0, 1, 128, 255]);
      expect(await read('bool')).toEqual([1, 0]);
      expect(await read('scalar')).toEqual([42]);
      await expectError(store.read('missing'), ['E_NOT_FOUND']);
    } finally {
      await store.close();
      await store.close(); // idempotent
    }
  });

  it('reports inconsistent or undecodable tensors at read(), naming them', async () => {
    const inits = [
      tensor({ name: 'short_raw', dims: [2, 2], dataType: 1, raw: f32bytes([1, 2, 3]) }),
      tensor({ name: 'huge_dims', dims: [1e9, 1e9], dataType: 1, raw: f32bytes([1]) }),
      tensor({ name: 'huge_varints', dims: [1e6], dataType: 7, int64: [1, 2] }),
      tensor({ name: 'too_many', dims: [1], dataType: 6, int32: [1, 2] }),
      tensor({ name: 'strings', dims: [1], dataType: 8 }),
      tensor({ name: 'unknown_type', dims: [1], dataType: 99 }),
      tensor({ name: 'no_type', dims: [1], dataType: 0 }),
      tensor({ name: 'ok', dims: [1], dataType: 1, floats: [1] }),
    ];
    const p = await writeModel('bad-tensors.onnx', model(graph([], inits)));
    const store = await openOnnx(p);
    try {
      expect(store.list().map((e) => e.dtype)).toEqual(['F32', 'F32', 'I64', 'I32', 'STRING', 'ONNX_TYPE_99', 'ONNX_TYPE_0', 'F32']);
      for (const [name, code] of [
        ['short_raw', 'E_CORRUPT'],
        ['huge_dims', 'E_CORRUPT'],
        ['huge_varints', 'E_CORRUPT'],
        ['too_many', 'E_CORRUPT'],
        ['strings', 'E_UNSUPPORTED'],
        ['unknown_type', 'E_UNSUPPORTED'],
        ['no_type', 'E_CORRUPT'],
      ] as const) {
        const e = await expectError(store.read(name), [code]);
        expect(e.message).toContain(name);
        expect(e.tensor).toBe(name);
        expect(e.file).toBe(p);
      }
      expect([...(await store.read('ok'))]).toEqual([1]);
    } finally {
      await store.close();
    }
  });

  it('reads external data inside the model folder and refuses paths outside it', async () => {
    const dir = path.join(tmp, 'external');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await writeFile(path.join(dir, 'weights.bin'), cat(new Uint8Array(8), f32bytes([1, 2, 3, 4])));
    await writeFile(path.join(dir, 'sub', 'w.bin'), f32bytes([5, 6]));
    await writeFile(path.join(tmp, 'outside.bin'), f32bytes([9, 9]));
    await symlink(path.join(tmp, 'outside.bin'), path.join(dir, 'link.bin'));
    const ext = (name: string, dims: number[], external: Record<string, string>): Uint8Array =>
      tensor({ name, dims, dataType: 1, external });
    const inits = [
      ext('offset', [2, 2], { location: 'weights.bin', offset: '8', length: '16' }),
      ext('no_length', [2], { location: 'sub/w.bin' }),
      ext('escape', [2], { location: '../outside.bin' }),
      ext('absolute', [2], { location: path.join(tmp, 'outside.bin') }),
      ext('symlink', [2], { location: 'link.bin' }),
      ext('missing', [2], { location: 'nope.bin' }),
      ext('bad_length', [2, 2], { location: 'weights.bin', offset: '8', length: '12' }),
      ext('past_end', [2, 2], { location: 'weights.bin', offset: '16', length: '16' }),
      ext('bad_offset', [2], { location: 'weights.bin', offset: '-8' }),
      ext('no_location', [2], { offset: '0' }),
    ];
    const p = path.join(dir, 'model.onnx');
    await writeFile(p, model(graph([], inits)));
    const store = await openOnnx(p);
    try {
      expect([...(await store.read('offset'))]).toEqual([1, 2, 3, 4]);
      expect([...(await store.read('no_length'))]).toEqual([5, 6]);
      for (const name of ['escape', 'absolute', 'symlink']) {
        const e = await expectError(store.read(name), ['E_UNSAFE']);
        expect(e.message).toContain(name);
      }
      await expectError(store.read('missing'), ['E_NOT_FOUND']);
      for (const name of ['bad_length', 'past_end', 'bad_offset', 'no_location']) await expectError(store.read(name), ['E_CORRUPT']);
    } finally {
      await store.close();
    }
  });

  it('lists Constant values and subgraph initializers only with includeConstants, after the initializers', async () => {
    const constant = (out: string, dims: number[], values: number[]): Uint8Array =>
      node('Constant', [out], [attr('value', { t: tensor({ name: '', dims, dataType: 1, floats: values }) })]);
    const thenBranch = graph(
      [constant('c_then', [2, 2], [1, 2, 3, 4])],
      [tensor({ name: 'sub_w', dims: [2, 3], dataType: 1, floats: [1, 2, 3, 4, 5, 6] })],
    );
    const elseBranch = graph([constant('c_else', [1], [7])], []);
    const g = graph(
      [
        constant('c0', [3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]),
        node('If', ['y'], [attr('then_branch', { g: thenBranch }), attr('else_branch', { g: elseBranch })]),
        constant('W', [1], [0]), // same name as an initializer
        node('Relu', ['r']),
      ],
      [tensor({ name: 'W', dims: [4, 4], dataType: 1, raw: f32bytes(new Array<number>(16).fill(1)) })],
    );
    const p = await writeModel('constants.onnx', model(g));
    const plain = await openOnnx(p);
    expect(plain.list().map((e) => e.name)).toEqual(['W']);
    await plain.close();

    const store = await openOnnx(p, { includeConstants: true });
    try {
      const list = store.list();
      expect(list.map((e) => [e.name, e.kind, e.shape])).toEqual([
        ['W', 'initializer', [4, 4]],
        ['c0', 'constant', [3, 3]],
        ['c_then', 'constant', [2, 2]],
        ['sub_w', 'subgraph-initializer', [2, 3]],
        ['c_else', 'constant', [1]],
        ['W#2', 'constant', [1]],
      ]);
      expect([...(await store.read('c0'))]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect([...(await store.read('sub_w'))]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...(await store.read('W'))]).toEqual(new Array(16).fill(1));
      expect([...(await store.read('W#2'))]).toEqual([0]);
    } finally {
      await store.close();
    }
  });

  it('refuses subgraphs nested beyond the depth limit instead of recursing without end', async () => {
    let g = graph([], [tensor({ name: 'deep', dims: [1], dataType: 1, floats: [1] })]);
    for (let i = 0; i < 60; i++) g = graph([node('If', ['y'], [attr('then_branch', { g })])], []);
    const p = await writeModel('deep.onnx', model(g));
    const plain = await openOnnx(p); // nodes are not visited by default
    expect(plain.list()).toEqual([]);
    await plain.close();
    await expectError(openOnnx(p, { includeConstants: true }), ['E_CORRUPT']);
  });

  it('rejects files that are not ONNX models with E_FORMAT', async () => {
    const cases: [string, Uint8Array][] = [
      ['empty.onnx', new Uint8Array(0)],
      ['text.onnx', new TextEncoder().encode('this is not a model\n')],
      ['gguf.onnx', new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0])],
      ['nograph.onnx', cat(vint(1, 8), str(2, 'x'))],
    ];
    for (const [name, bytes] of cases) await expectError(openOnnx(await writeModel(name, bytes)), ['E_FORMAT']);
    await expectError(openOnnx(path.join(tmp, 'does-not-exist.onnx')), ['E_NOT_FOUND']);
  });

  it('rejects duplicate initializer names', async () => {
    const t = tensor({ name: 'dup', dims: [1], dataType: 1, floats: [1] });
    await expectError(openOnnx(await writeModel('dup.onnx', model(graph([], [t, t])))), ['E_CORRUPT']);
  });

  it('never crashes or hangs on truncated or byte-flipped models', async () => {
    const constant = node('Constant', ['c'], [attr('value', { t: tensor({ name: '', dims: [2], dataType: 1, floats: [1, 2] }) })]);
    const good = model(
      graph(
        [constant],
        [
          tensor({ name: 'a', dims: [2, 2], dataType: 1, raw: f32bytes([1, 2, 3, 4]) }),
          tensor({ name: 'b', dims: [3], dataType: 7, int64: [1, -2, 3] }),
          tensor({ name: 'c', dims: [2], dataType: 10, int32: [0x3c00, 0x3800] }),
        ],
      ),
    );
    const attempt = async (bytes: Uint8Array, name: string): Promise<void> => {
      const p = await writeModel(name, bytes);
      try {
        const store = await openOnnx(p, { includeConstants: true });
        try {
          for (const e of store.list())
            await store.read(e.name).catch((err: unknown) => {
              if (!(err instanceof WeightWatcherError)) throw err;
            });
        } finally {
          await store.close();
        }
      } catch (e) {
        if (!(e instanceof WeightWatcherError)) throw e;
        expect(['E_CORRUPT', 'E_FORMAT', 'E_UNSUPPORTED', 'E_NOT_FOUND', 'E_UNSAFE']).toContain(e.code);
      }
    };
    for (let cut = 0; cut < good.length; cut++) await attempt(good.subarray(0, cut), 'cut.onnx');
    let seed = 7;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const bytes = good.slice();
      for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      await attempt(bytes, 'flipped.onnx');
    }
  });
});

// ---------------------------------------------------------------------------------------------

interface GoldenRow {
  layer_id: number;
  name: string;
  N: number;
  M: number;
  rf: number;
  layer_type: string;
}

function goldenRows(dir: string): GoldenRow[] {
  return (JSON.parse(readFileSync(path.join(goldens, dir, 'default.json'), 'utf8')) as { details: GoldenRow[] }).details;
}

/** Minimal safetensors reader: 8-byte LE header length, JSON header, offsets relative to the data. */
async function safetensors(file: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const buf = await readFile(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__' || t.dtype !== 'F32') continue;
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(8 + n + a, 8 + n + b);
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) });
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c]!;
  return out;
}

describe.skipIf(!haveCorpus)('openOnnx on the corpus', () => {
  const cases = [
    { model: 'synthetic/convnet.onnx', st: 'synthetic/convnet.safetensors', golden: 'convnet-onnx', stName: (n: string) => n },
    {
      model: 'minigpt/big-data/model.onnx',
      st: 'minigpt/big-data/model.safetensors',
      golden: 'minigpt-big-data-onnx',
      stName: (n: string) => n.replace(/^transformer\./, ''),
    },
  ];

  for (const c of cases) {
    it(`${c.model}: ids and names match the reference rows`, async () => {
      const store = await openOnnx(path.join(corpus, c.model));
      try {
        const list = store.list();
        const rows = goldenRows(c.golden);
        expect(rows.length).toBeGreaterThan(0);
        for (const row of rows) {
          const e = list[row.layer_id]!;
          expect(e.name).toBe(row.name);
          const [a, b, kh = 1, kw = 1] = e.shape;
          expect(e.shape.length).toBe(row.layer_type === 'conv2d' ? 4 : 2);
          expect([Math.max(a!, b!), Math.min(a!, b!), kh * kw]).toEqual([row.N, row.M, row.rf]);
        }
        // Rank-2/4 tensors the reference left out are those below min_evals.
        const ids = new Set(rows.map((r) => r.layer_id));
        list.forEach((e, i) => {
          if ((e.shape.length === 2 || e.shape.length === 4) && !ids.has(i)) {
            const [a, b, kh = 1, kw = 1] = e.shape;
            expect(Math.min(a!, b!) * kh * kw).toBeLessThan(10);
          }
        });
      } finally {
        await store.close();
      }
    });

    it(`${c.model}: tensors are bit-identical to the safetensors copy`, async () => {
      const store = await openOnnx(path.join(corpus, c.model));
      const reference = await safetensors(path.join(corpus, c.st));
      try {
        let compared = 0;
        for (const e of store.list()) {
          const ref = reference.get(c.stName(e.name));
          if (!ref) continue;
          expect(e.shape).toEqual(ref.shape);
          expect(sameBits(await store.read(e.name), ref.data)).toBe(true);
          compared++;
        }
        expect(compared).toBeGreaterThanOrEqual(c.model.includes('convnet') ? 30 : 52);
      } finally {
        await store.close();
      }
    });
  }

  it('minigpt: the exported lm_head MatMul weight is the transposed tied embedding', async () => {
    const store = await openOnnx(path.join(corpus, 'minigpt/big-data/model.onnx'));
    const reference = await safetensors(path.join(corpus, 'minigpt/big-data/model.safetensors'));
    try {
      const wte = reference.get('wte.weight')!;
      expect(sameBits(await store.read('onnx::MatMul_1055'), transpose(wte.data, wte.shape[0]!, wte.shape[1]!))).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('minigpt: includeConstants appends Constant values without changing the reference ids', async () => {
    const file = path.join(corpus, 'minigpt/big-data/model.onnx');
    const plain = await openOnnx(file);
    const store = await openOnnx(file, { includeConstants: true });
    try {
      const base = plain.list().map((e) => e.name);
      const all = store.list();
      expect(all.slice(0, base.length).map((e) => e.name)).toEqual(base);
      expect(all.length).toBeGreaterThan(base.length);
      expect(all.slice(base.length).every((e) => e.kind !== 'initializer')).toBe(true);
      expect(new Set(all.map((e) => e.name)).size).toBe(all.length);
      for (const e of all.slice(base.length)) await store.read(e.name);
    } finally {
      await plain.close();
      await store.close();
    }
  });

  it('convnet: truncated copies fail with E_CORRUPT/E_FORMAT', async () => {
    const bytes = await readFile(path.join(corpus, 'synthetic/convnet.onnx'));
    for (const cut of [1, 2, 10, 100, 1000, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const p = await writeModel('convnet-cut.onnx', bytes.subarray(0, cut));
      await expectError(openOnnx(p), ['E_CORRUPT', 'E_FORMAT']);
    }
  });
});
