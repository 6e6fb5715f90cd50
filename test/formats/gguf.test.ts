import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ggufReadableName, openGguf } from '../../src/formats/gguf.js';
import { writeGguf, type GgufWriteTensor } from '../helpers/gguf-writer.js';
import { dequantize, ggmlTypeByName, supportedTypeNames } from '../../src/formats/ggml-quants.js';
import { f32ToF16, quantize } from '../helpers/ggml-quantize.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { expectError } from '../helpers/errors.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ww-gguf-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let seed = 42;
function gaussian(n: number, scale: number): Float32Array {
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()) * scale);
}

function relRms(a: Float32Array, b: Float32Array): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    s += b[i]! ** 2;
  }
  return Math.sqrt(e / s);
}

/** Little-endian byte builder for hand-made files. */
class Bytes {
  private parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.u8(Math.floor(v / 2 ** (8 * i)));
    return this;
  }
  u64(v: number | bigint): this {
    const b = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.u8(Number((b >> (8n * i)) & 0xffn));
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    b.forEach((x) => this.u8(x));
    return this;
  }
  f32(v: number): this {
    new Uint8Array(new Float32Array([v]).buffer).forEach((x) => this.u8(x));
    return this;
  }
  padTo(n: number): this {
    while (this.parts.length % n) this.u8(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

describe('GGUF reader on a hand-built file', () => {
  it('reverses ne into a row-major shape and reads little-endian data in place', async () => {
    // One F32 tensor with ne = [4, 2] (4 is the fastest dimension): row-major shape [2, 4].
    const b = new Bytes().u32(0x46554747).u32(3).u64(1).u64(2);
    b.str('general.architecture').u32(8).str('llama');
    b.str('general.name').u32(8).str('tiny');
    b.str('blk.0.ffn_up.weight').u32(2).u64(4).u64(2).u32(0).u64(0);
    b.padTo(32);
    for (let i = 0; i < 8; i++) b.f32(i);
    const p = path.join(tmp, 'hand.gguf');
    await writeFile(p, b.done());
    const store = await openGguf(p);
    try {
      expect(store.format).toBe('gguf');
      expect(store.convention).toBe('statedict');
      expect(store.version).toBe(3);
      expect(store.alignment).toBe(32);
      expect(store.metadata.get('general.name')).toBe('tiny');
      expect(store.list()).toEqual([
        { name: 'blk.0.ffn_up.weight', dtype: 'F32', shape: [2, 4], ggmlType: 0, readableName: 'layers.0.mlp.up_proj.weight' },
      ]);
      expect([...(await store.read('blk.0.ffn_up.weight'))]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await expectError(store.read('nope'), ['E_NOT_FOUND']);
    } finally {
      await store.close();
    }
  });
});

describe('ggml block dequantization', () => {
  // One block per type: bytes (37·i + 11) mod 256, with the half-float scales set to d = 0.5 and
  // dmin/m = 0.25. Expected values were computed with gguf-py 0.19 (llama.cpp's Python package,
  // an independent numpy implementation of the same formats). Q4_0 by hand: byte 2 is 85 = 0x55,
  // element 0 = (5 − 8)·0.5 = −1.5; byte 3 is 122 = 0x7a, element 17 = (7 − 8)·0.5 = −0.5.
  const halfScales: Record<string, number[]> = {
    Q4_0: [0],
    Q4_1: [0, 2],
    Q5_0: [0],
    Q5_1: [0, 2],
    Q8_0: [0],
    Q2_K: [80, 82],
    Q3_K: [108],
    Q4_K: [0, 2],
    Q5_K: [0, 2],
    Q6_K: [208],
    IQ4_NL: [0],
    IQ4_XS: [0],
  };
  const expected: Record<string, { sum: number; at: Record<number, number> }> = {
    Q4_0: { sum: -10.5, at: { 0: -1.5, 1: 1.0, 17: -0.5, 31: 0.0 } },
    Q4_1: { sum: 130.5, at: { 0: 7.75, 1: 2.25, 17: 6.25, 31: 6.25 } },
    Q5_0: { sum: 7.5, at: { 0: 4.5, 1: -1.0, 17: 0.0, 31: 0.5 } },
    Q5_1: { sum: 260.5, at: { 0: 9.75, 1: 12.25, 17: 2.75, 31: 2.75 } },
    Q8_0: { sum: -88.0, at: { 0: 42.5, 1: 61.0, 17: -27.0, 31: -24.0 } },
    Q2_K: { sum: 1029.5, at: { 0: 16.5, 1: 0.0, 17: -0.75, 31: -0.75, 33: -1.25, 100: 10.0, 130: 0.75, 200: 4.0, 255: 2.25 } },
    Q3_K: { sum: 479.0, at: { 0: 40.5, 1: -54.0, 17: 64.0, 31: 32.0, 33: 22.0, 100: 0.0, 130: -1.0, 200: 12.5, 255: 21.0 } },
    Q4_K: { sum: 27220.0, at: { 0: 157.75, 1: -12.75, 17: -12.75, 31: 80.25, 33: 10.0, 100: 47.5, 130: 94.5, 200: 69.25, 255: 24.25 } },
    Q5_K: { sum: 58108.0, at: { 0: 405.75, 1: -12.75, 17: -12.75, 31: 80.25, 33: -2.0, 100: 117.5, 130: 94.5, 200: 69.25, 255: 54.25 } },
    Q6_K: { sum: 2306.0, at: { 0: -715.5, 1: 848.0, 17: 256.0, 31: -48.0, 33: -336.0, 100: 1261.5, 130: 71.5, 200: 544.5, 255: -30.0 } },
    IQ4_NL: { sum: -128.5, at: { 0: -17.5, 1: 12.5, 17: -5.0, 31: 0.5 } },
    IQ4_XS: { sum: -5502.5, at: { 0: 32.5, 1: -0.5, 17: 17.5, 31: 17.5, 33: -3.5, 100: 20.0, 130: 310.5, 200: 570.0, 255: -8.0 } },
  };

  function patternBlock(typeName: string): Uint8Array {
    const type = ggmlTypeByName(typeName)!;
    const block = Uint8Array.from({ length: type.typeSize }, (_, i) => (i * 37 + 11) & 0xff);
    const scales = [0.5, 0.25];
    halfScales[typeName]!.forEach((at, k) => {
      const h = f32ToF16(scales[k]!);
      block[at] = h & 0xff;
      block[at + 1] = h >> 8;
    });
    return block;
  }

  for (const name of Object.keys(expected)) {
    it(`${name} matches the reference decoder`, async () => {
      const type = ggmlTypeByName(name)!;
      const block = patternBlock(name);
      // Two rows of the same block, written to a real file and read back through the store.
      const p = path.join(tmp, `block-${name}.gguf`);
      await writeGguf(p, [{ name: 'w', shape: [2, type.blockSize], type: name, raw: new Uint8Array([...block, ...block]) }]);
      const store = await openGguf(p);
      try {
        expect(store.list()[0]).toMatchObject({ dtype: name, shape: [2, type.blockSize] });
        const y = await store.read('w');
        const exp = expected[name]!;
        for (const [i, v] of Object.entries(exp.at)) {
          expect(y[Number(i)]).toBe(v);
          expect(y[type.blockSize + Number(i)]).toBe(v);
        }
        expect(y.subarray(0, type.blockSize).reduce((s, v) => s + v, 0)).toBeCloseTo(exp.sum, 6);
      } finally {
        await store.close();
      }
    });
  }

  it('Q8_K: float32 scale times int8 quants', () => {
    const type = ggmlTypeByName('Q8_K')!;
    const block = new Uint8Array(type.typeSize);
    new DataView(block.buffer).setFloat32(0, 0.125, true);
    for (let j = 0; j < 256; j++) block[4 + j] = (j - 128) & 0xff;
    const y = dequantize(type, block, 256);
    expect(y[0]).toBe(-16);
    expect(y[128]).toBe(0);
    expect(y[255]).toBe(127 * 0.125);
  });

  it('rejects byte counts that do not match the element count', () => {
    expect(() => dequantize(ggmlTypeByName('Q4_K')!, new Uint8Array(143), 256)).toThrow(WeightWatcherError);
    expect(() => dequantize(ggmlTypeByName('Q4_0')!, new Uint8Array(18), 16)).toThrow(WeightWatcherError);
  });
});

/** Types the test writer can encode and the reader must decode. */
const ROUND_TRIP_TYPES = [
  'F32',
  'F16',
  'BF16',
  'F64',
  'Q8_0',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
  'Q8_K',
];

describe('GGUF write/read round trip', () => {
  // Relative RMS error bounds for Gaussian data (measured: Q8 ≈ 0.006, Q6_K 0.02, Q5 0.04,
  // Q4 0.08, Q3_K 0.18, Q2_K 0.33 with the simple K-quant encoders).
  const tolerance: Record<string, number> = {
    F32: 0,
    F64: 0,
    F16: 1e-3,
    BF16: 5e-3,
    Q8_0: 0.01,
    Q8_K: 0.01,
    Q6_K: 0.04,
    Q5_0: 0.06,
    Q5_1: 0.06,
    Q5_K: 0.06,
    Q4_0: 0.12,
    Q4_1: 0.12,
    Q4_K: 0.12,
    Q3_K: 0.25,
    Q2_K: 0.45,
  };

  it('writes and reads back every type it can quantize', async () => {
    const data = gaussian(4 * 512, 0.05);
    const p = path.join(tmp, 'roundtrip.gguf');
    const tensors: GgufWriteTensor[] = ROUND_TRIP_TYPES.map((t, i) => ({ name: `blk.${i}.attn_q.weight`, shape: [4, 512], type: t, data }));
    tensors.push({ name: 'token_embd.weight', shape: [3, 64], type: 'Q8_0', data: gaussian(192, 1) });
    await writeGguf(
      p,
      tensors,
      {
        'general.architecture': 'llama',
        'general.alignment': { type: 'UINT32', value: 64 },
        'llama.block_count': { type: 'UINT32', value: ROUND_TRIP_TYPES.length },
        'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', values: Array.from({ length: 1000 }, (_, i) => `tok${i}`) },
        'tokenizer.ggml.scores': { type: 'ARRAY', itemType: 'FLOAT32', values: [0.5, 1.5] },
        'x.flag': true,
        'x.i64': { type: 'INT64', value: -(2n ** 60n) },
      },
      { version: 2 },
    );
    const store = await openGguf(p);
    try {
      expect(store.version).toBe(2);
      expect(store.alignment).toBe(64);
      expect(store.metadata.get('llama.block_count')).toBe(ROUND_TRIP_TYPES.length);
      expect(store.metadata.get('tokenizer.ggml.tokens')).toEqual({ type: 'array', itemType: 'STRING', length: 1000 });
      expect(store.metadata.get('tokenizer.ggml.scores')).toEqual({ type: 'array', itemType: 'FLOAT32', length: 2, values: [0.5, 1.5] });
      expect(store.metadata.get('x.flag')).toBe(true);
      expect(store.metadata.get('x.i64')).toBe(-(2n ** 60n));
      const list = store.list();
      expect(list.map((e) => e.dtype)).toEqual([...ROUND_TRIP_TYPES, 'Q8_0']);
      for (const [i, t] of ROUND_TRIP_TYPES.entries()) {
        const e = list[i]!;
        expect(e).toMatchObject({ shape: [4, 512], ggmlType: ggmlTypeByName(t)!.id, readableName: `layers.${i}.self_attn.q_proj.weight` });
        const y = await store.read(e.name);
        expect(y.length).toBe(data.length);
        expect(relRms(y, data), t).toBeLessThanOrEqual(tolerance[t]!);
        // The store decodes exactly what the block codec produces.
        expect(y).toEqual(dequantize(ggmlTypeByName(t)!, quantize(ggmlTypeByName(t)!, data), data.length));
      }
      expect(list.at(-1)).toMatchObject({ shape: [3, 64], readableName: 'embed_tokens.weight' });
      await store.read('token_embd.weight');
    } finally {
      await store.close();
    }
    // Every tensor offset honours the 64-byte alignment: the data section starts on it too.
    const bytes = await readFile(p);
    expect(bytes.length % 64).toBe(0);
  });

  it('parses headers larger than the first read (big vocabularies)', async () => {
    const p = path.join(tmp, 'big-header.gguf');
    const tokens = Array.from({ length: 200_000 }, (_, i) => `token_${i}`); // ≈ 3.4 MB of header
    await writeGguf(p, [{ name: 'output.weight', shape: [2, 32], type: 'Q8_0', data: gaussian(64, 1) }], {
      'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', values: tokens },
      'general.name': 'after the vocabulary',
    });
    const store = await openGguf(p);
    try {
      expect(store.metadata.get('tokenizer.ggml.tokens')).toEqual({ type: 'array', itemType: 'STRING', length: 200_000 });
      expect(store.metadata.get('general.name')).toBe('after the vocabulary');
      expect(store.list()[0]).toMatchObject({ name: 'output.weight', readableName: 'lm_head.weight' });
      expect((await store.read('output.weight')).length).toBe(64);
    } finally {
      await store.close();
    }
  });

  it("Q4_0 and Q8_0 quantize exactly like ggml's reference quantizers", () => {
    // x = (j − 16)/4: max |x| = 4 at j = 0 (negative), so Q4_0 uses d = −4/−8 = 0.5 and
    // q = trunc(x/0.5 + 8.5) clamped to 15, i.e. x rounded half up to a multiple of 0.5, ≤ 3.5.
    const x = Float32Array.from({ length: 32 }, (_, j) => (j - 16) / 4);
    const q4 = dequantize(ggmlTypeByName('Q4_0')!, quantize(ggmlTypeByName('Q4_0')!, x), 32);
    expect([...q4]).toEqual([...x].map((v) => Math.min(3.5, Math.floor(v * 2 + 0.5) / 2)));
    // Q8_0: d = 4/127 (stored as half), q = round(x·127/4).
    const q8 = dequantize(ggmlTypeByName('Q8_0')!, quantize(ggmlTypeByName('Q8_0')!, x), 32);
    const d = Math.fround(4 / 127);
    const dHalf = decodeHalf(f32ToF16(d));
    expect([...q8]).toEqual(
      [...x].map((v) => Math.fround(Math.sign(v) * Math.round(Math.abs(Math.fround(v * Math.fround(1 / d)))) * dHalf)),
    );
  });

  it('f32ToF16 rounds to nearest even and handles the special values', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(NaN) & 0x7e00).toBe(0x7e00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(2 ** -26)).toBe(0x0000);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
  });
});

function decodeHalf(h: number): number {
  return dequantize(ggmlTypeByName('F16')!, new Uint8Array([h & 0xff, h >> 8]), 1)[0]!;
}

describe('GGUF unsupported types', () => {
  it('lists tensors of types it cannot decode and refuses to read them by name', async () => {
    const p = path.join(tmp, 'unsupported.gguf');
    await writeGguf(p, [
      { name: 'iq2', shape: [1, 256], type: 'IQ2_XXS', raw: new Uint8Array(66) },
      { name: 'future', shape: [8], type: 99, raw: new Uint8Array(8) },
      { name: 'ok', shape: [2, 32], type: 'Q8_0', data: gaussian(64, 1) },
    ]);
    const store = await openGguf(p);
    try {
      expect(store.list().map((e) => [e.name, e.dtype])).toEqual([
        ['iq2', 'IQ2_XXS'],
        ['future', 'GGML_TYPE_99'],
        ['ok', 'Q8_0'],
      ]);
      for (const [name, type] of [
        ['iq2', 'IQ2_XXS'],
        ['future', 'GGML_TYPE_99'],
      ]) {
        const e = await expectError(store.read(name!), ['E_UNSUPPORTED']);
        expect(e.message).toContain(name);
        expect(e.message).toContain(type);
        expect(e.tensor).toBe(name);
      }
      expect((await store.read('ok')).length).toBe(64);
    } finally {
      await store.close();
    }
    expect(supportedTypeNames()).toEqual(expect.arrayContaining(ROUND_TRIP_TYPES));
  });
});

describe('GGUF corrupt input', () => {
  const header = (version = 3, tensors: number | bigint = 0, kvs: number | bigint = 0): Bytes =>
    new Bytes().u32(0x46554747).u32(version).u64(tensors).u64(kvs);

  async function open(bytes: Uint8Array, name = 'bad.gguf'): Promise<unknown> {
    const p = path.join(tmp, name);
    await writeFile(p, bytes);
    const store = await openGguf(p);
    try {
      for (const e of store.list()) await store.read(e.name);
    } finally {
      await store.close();
    }
    return store;
  }

  it('classifies broken headers', async () => {
    const tensorInfo = (b: Bytes, nDims: number, ne: number[], type: number, offset: number): Bytes => {
      b.str('t').u32(nDims);
      ne.forEach((d) => b.u64(d));
      return b.u32(type).u64(offset);
    };
    const cases: [string, Uint8Array, string][] = [
      ['empty', new Uint8Array(0), 'E_FORMAT'],
      ['bad magic', new TextEncoder().encode('GGML and more bytes here'), 'E_FORMAT'],
      ['v1', header(1).done(), 'E_UNSUPPORTED'],
      ['big-endian', new Bytes().u32(0x46554747).u32(0x03000000).u64(0).u64(0).done(), 'E_UNSUPPORTED'],
      ['huge tensor count', header(3, 2n ** 60n).done(), 'E_CORRUPT'],
      ['huge kv count', header(3, 0, 2n ** 40n).done(), 'E_CORRUPT'],
      [
        'huge string',
        header(3, 0, 1)
          .u64(2n ** 50n)
          .done(),
        'E_CORRUPT',
      ],
      ['unknown value type', header(3, 0, 1).str('k').u32(13).u32(0).done(), 'E_CORRUPT'],
      [
        'huge array',
        header(3, 0, 1)
          .str('k')
          .u32(9)
          .u32(8)
          .u64(2n ** 40n)
          .done(),
        'E_CORRUPT',
      ],
      ['truncated kv', header(3, 0, 1).str('k').u32(4).u8(1).done(), 'E_CORRUPT'],
      ['bad alignment', header(3, 0, 1).str('general.alignment').u32(4).u32(24).done(), 'E_CORRUPT'],
      ['alignment not u32', header(3, 0, 1).str('general.alignment').u32(8).str('32').done(), 'E_CORRUPT'],
      ['too many dims', tensorInfo(header(3, 1), 5, [1, 1, 1, 1, 1], 0, 0).padTo(32).done(), 'E_CORRUPT'],
      ['partial block', tensorInfo(header(3, 1), 1, [16], 8, 0).padTo(32).u64(0).u64(0).u64(0).done(), 'E_CORRUPT'],
      ['misaligned offset', tensorInfo(header(3, 1), 1, [1], 0, 4).padTo(32).u64(0).done(), 'E_CORRUPT'],
      ['data past the end', tensorInfo(header(3, 1), 2, [64, 64], 0, 0).padTo(32).u64(0).done(), 'E_CORRUPT'],
      [
        'overflowing shape',
        tensorInfo(header(3, 1), 4, [2 ** 20, 2 ** 20, 2 ** 20, 2 ** 20], 0, 0)
          .padTo(32)
          .done(),
        'E_CORRUPT',
      ],
    ];
    for (const [what, bytes, code] of cases) {
      const e = await expectError(open(bytes), [code]).catch((err: unknown) => {
        throw new Error(`${what}: ${String(err)}`);
      });
      expect(e.file, what).toBeDefined();
    }
  });

  it('never crashes or hangs on truncated or byte-flipped files', async () => {
    const p = path.join(tmp, 'fuzz-src.gguf');
    // The last tensor ends on the alignment, so every strict prefix cuts into real content.
    await writeGguf(
      p,
      [
        { name: 'a', shape: [2, 32], type: 'Q8_0', data: gaussian(64, 1) },
        { name: 'b', shape: [1, 256], type: 'Q6_K', data: gaussian(256, 1) },
        { name: 'c', shape: [8], type: 'F32', data: gaussian(8, 1) },
      ],
      { 'general.architecture': 'llama', 'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', values: ['a', 'bb', 'ccc'] } },
    );
    const good = new Uint8Array(await readFile(p));
    const attempt = async (bytes: Uint8Array): Promise<void> => {
      try {
        await open(bytes, 'fuzz.gguf');
      } catch (e) {
        if (!(e instanceof WeightWatcherError)) throw e;
      }
    };
    for (let cut = 0; cut < good.length; cut++) {
      await expectError(open(good.subarray(0, cut), 'cut.gguf'), ['E_CORRUPT', 'E_FORMAT']);
    }
    let s = 3;
    const rand = (): number => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 300; i++) {
      const bytes = good.slice();
      for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      await attempt(bytes);
    }
  });
});

describe('ggufReadableName', () => {
  it('maps llama.cpp names to Hugging Face-style names for display', () => {
    expect(ggufReadableName('blk.0.attn_q.weight')).toBe('layers.0.self_attn.q_proj.weight');
    expect(ggufReadableName('blk.12.attn_output.weight')).toBe('layers.12.self_attn.o_proj.weight');
    expect(ggufReadableName('blk.3.ffn_up.weight')).toBe('layers.3.mlp.up_proj.weight');
    expect(ggufReadableName('blk.3.ffn_down.bias')).toBe('layers.3.mlp.down_proj.bias');
    expect(ggufReadableName('blk.1.ffn_norm.weight')).toBe('layers.1.post_attention_layernorm.weight');
    expect(ggufReadableName('token_embd.weight')).toBe('embed_tokens.weight');
    expect(ggufReadableName('output.weight')).toBe('lm_head.weight');
    expect(ggufReadableName('output_norm.weight')).toBe('norm.weight');
    expect(ggufReadableName('blk.0.something_new.weight')).toBe('blk.0.something_new.weight');
    expect(ggufReadableName('v.enc.blk.0.attn_q.weight')).toBe('v.enc.blk.0.attn_q.weight');
  });
});
