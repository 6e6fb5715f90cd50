/** safetensors validation: every malformed header or offset is a typed error, never a crash. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeightWatcher, openModel } from '../../src/index.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { safetensorsBytes, writeSafetensors } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (bytes: Uint8Array | string) => {
  const p = join(dir, `f${n++}.safetensors`);
  writeFileSync(p, bytes);
  return p;
};
const good = () => [{ name: 'a.weight', shape: [20, 30], data: dense(20, 30) }];

describe('safetensors header validation', () => {
  const cases: [string, () => Uint8Array | string, RegExp][] = [
    ['too short', () => 'abc', /not a safetensors file/],
    [
      'header length beyond the file',
      () => {
        const b = Buffer.from(safetensorsBytes(good()));
        b.writeBigUInt64LE(1n << 40n, 0);
        return b;
      },
      /header length/,
    ],
    [
      'header not JSON',
      () => {
        const b = Buffer.from(safetensorsBytes(good()));
        b[8] = 0x5b;
        b[9] = 0x7b;
        return b;
      },
      /not valid UTF-8 JSON|not a JSON object/,
    ],
    [
      'unknown dtype',
      () => safetensorsBytes(good(), (h) => ({ 'a.weight': { ...(h['a.weight'] as object), dtype: 'F128' } })),
      /unknown dtype/,
    ],
    [
      'negative dim',
      () => safetensorsBytes(good(), (h) => ({ 'a.weight': { ...(h['a.weight'] as object), shape: [-20, -30] } })),
      /invalid shape/,
    ],
    [
      'offsets past the end',
      () => safetensorsBytes(good(), () => ({ 'a.weight': { dtype: 'F32', shape: [20, 30], data_offsets: [0, 1 << 30] } })),
      /extends past the end/,
    ],
    [
      'reversed offsets',
      () => safetensorsBytes(good(), () => ({ 'a.weight': { dtype: 'F32', shape: [20, 30], data_offsets: [2400, 0] } })),
      /invalid data_offsets/,
    ],
    [
      'size mismatch',
      () => safetensorsBytes(good(), () => ({ 'a.weight': { dtype: 'F32', shape: [20, 31], data_offsets: [0, 2400] } })),
      /needs 2480 bytes/,
    ],
    [
      'huge shape product',
      () => safetensorsBytes(good(), () => ({ 'a.weight': { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 2400] } })),
      /too large|needs/,
    ],
  ];
  for (const [label, make, msg] of cases) {
    it(label, async () => {
      const p = file(make());
      await expect(SafetensorsFile.open(p)).rejects.toMatchObject({ message: expect.stringMatching(msg), file: p });
      await expect(new WeightWatcher(p).analyze()).rejects.toMatchObject({ code: expect.stringMatching(/E_CORRUPT|E_FORMAT/) });
    });
  }

  it('every truncation of a valid file is a typed error or a clean read', async () => {
    const bytes = safetensorsBytes(good());
    for (let cut = 0; cut < bytes.length; cut += 97) {
      const p = file(bytes.subarray(0, cut));
      const r = await new WeightWatcher(p).analyze().then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
      expect(['ok', 'E_CORRUPT', 'E_FORMAT']).toContain(r);
    }
  });
});

describe('a bad layer fails that layer, not the run', () => {
  it('NaN weights and an unsupported dtype are reported per layer', async () => {
    const bad = dense(20, 30);
    bad[7] = NaN;
    const p = writeSafetensors(join(dir, 'mixed.safetensors'), [
      { name: 'a.weight', shape: [20, 30], data: dense(20, 30) },
      { name: 'b.weight', shape: [20, 30], data: bad },
      { name: 'c.weight', shape: [20, 30], data: dense(20, 30, 0.2) },
    ]);
    const ww = new WeightWatcher(p);
    const rows = await ww.analyze();
    expect(rows.map((r) => r.name)).toEqual(['a', 'c']);
    expect(ww.lastRun!.failures).toEqual([expect.objectContaining({ layer_id: 1, name: 'b', code: 'E_NONFINITE' })]);
    expect(ww.lastRun!.failures[0]!.message).toMatch(/non-finite value \(nan\) at row 0, column 7/);
  });

  it('non-float weights are refused per layer with a clear error', async () => {
    const p = writeSafetensors(
      join(dir, 'int.safetensors'),
      [
        { name: 'a.weight', shape: [20, 30], data: dense(20, 30) },
        { name: 'q.weight', shape: [20, 30], data: dense(20, 30) },
      ],
      (h) => ({ ...h, 'q.weight': { ...(h['q.weight'] as object), dtype: 'I32' } }),
    );
    const ww = new WeightWatcher(p);
    const rows = await ww.analyze();
    expect(rows.map((r) => r.name)).toEqual(['a']);
    expect(ww.lastRun!.failures).toEqual([
      expect.objectContaining({
        layer_id: 1,
        code: 'E_UNSUPPORTED',
        message: expect.stringMatching(/"q\.weight" has dtype I32; supported dtypes are F64, F32, F16, BF16/),
      }),
    ]);
  });

  it('explains skipped layers', async () => {
    const p = writeSafetensors(join(dir, 'skips.safetensors'), [
      { name: 'big.weight', shape: [20, 30], data: dense(20, 30) },
      { name: 'small.weight', shape: [20, 5], data: dense(20, 5) },
      { name: 'norm.weight', shape: [30], data: new Float32Array(30) },
    ]);
    const ww = new WeightWatcher(p);
    await ww.analyze();
    expect(ww.lastRun!.skipped).toEqual([
      { layer_id: 1, name: 'norm', kind: 'type', reason: '1-D tensor [30]: not a weight matrix (bias, norm scale, buffer)' },
      { layer_id: 2, name: 'small', kind: 'min_evals', reason: 'M·rf = 5 < min_evals = 10' },
    ]);
    const store = await openModel(p);
    expect(store.list().map((e) => e.name)).toEqual(['big.weight', 'norm.weight', 'small.weight']);
    await store.close();
  });
});

describe('header parsing in windows (hostile and large headers)', () => {
  /** A header written with `JSON.stringify(h, null, indent)`, data all zero. */
  const raw = (header: Record<string, unknown>, dataBytes: number, indent?: number) => {
    const json = Buffer.from(JSON.stringify(header, null, indent));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
  };

  it('a multi-MiB pretty-printed header with escaped and non-ASCII names parses like JSON.parse', async () => {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt', 'note "q"': 'a\\b' } };
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      const name = i % 3 === 0 ? `layer.${i}."quoted"\\back.weight` : i % 3 === 1 ? `schicht.${i}.größe.😀.weight` : `l${i}\u0001\n.weight`;
      header[name] = { dtype: i % 2 ? 'F16' : 'F32', shape: [2, 3], data_offsets: [i * 24, i * 24 + (i % 2 ? 12 : 24)] };
    }
    const p = file(raw(header, n * 24, 1));
    expect(statSync(p).size).toBeGreaterThan(3 << 20); // several 1 MiB windows
    const f = await SafetensorsFile.open(p);
    try {
      const expected = Object.keys(header).filter((k) => k !== '__metadata__');
      expect(f.tensorNames()).toEqual(expected);
      expect(f.metadata).toEqual({ format: 'pt', 'note "q"': 'a\\b' });
      for (const k of [expected[0]!, expected[1]!, expected[n - 1]!]) {
        const h = header[k] as { dtype: string; shape: number[]; data_offsets: [number, number] };
        expect(f.tensor(k)).toMatchObject({ name: k, dtype: h.dtype, shape: h.shape, byteLength: h.data_offsets[1] - h.data_offsets[0] });
      }
      expect(f.entriesInNameOrder().map((e) => e.name)).toEqual([...expected].sort());
    } finally {
      await f.close();
    }
  });

  it('duplicate names (in one batch or far apart) and overlapping tensors are E_CORRUPT', async () => {
    const dup = Buffer.from(
      '{"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a.weight":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
    );
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(dup.length));
    await expect(SafetensorsFile.open(file(Buffer.concat([len, dup, Buffer.alloc(16)])))).rejects.toMatchObject({
      code: 'E_CORRUPT',
      message: expect.stringMatching(/appears twice/),
    });

    const far: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) far[`t${i}`] = { dtype: 'F32', shape: [1], data_offsets: [i * 4, i * 4 + 4] };
    const text = JSON.stringify(far).replace('"t19999"', '"t0"');
    const l2 = Buffer.alloc(8);
    l2.writeBigUInt64LE(BigInt(text.length));
    await expect(SafetensorsFile.open(file(Buffer.concat([l2, Buffer.from(text), Buffer.alloc(80_000)])))).rejects.toMatchObject({
      code: 'E_CORRUPT',
      message: expect.stringMatching(/"t0" appears twice/),
    });

    const overlap = raw(
      { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } },
      16,
    );
    await expect(SafetensorsFile.open(file(overlap))).rejects.toMatchObject({
      code: 'E_CORRUPT',
      message: expect.stringMatching(/tensors "a" \[0, 16\) and "b" \[8, 16\) overlap/),
      tensor: 'b',
    });
  });

  it('empty tensors may share an offset; gaps between tensors are accepted', async () => {
    const ok = raw(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        empty: { dtype: 'F32', shape: [0, 3], data_offsets: [8, 8] },
        empty2: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] },
      },
      32,
    );
    const f = await SafetensorsFile.open(file(ok));
    expect(f.count).toBe(4);
    await f.close();
  });

  it('malformed structure is E_CORRUPT, not a crash', async () => {
    const bad = [
      '{"a" {"dtype":"F32"}}',
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} xx',
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}',
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}',
      '{,}',
      '["a"]',
    ];
    for (const text of bad) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(text.length));
      await expect(SafetensorsFile.open(file(Buffer.concat([len, Buffer.from(text), Buffer.alloc(4)]))), text).rejects.toMatchObject({
        code: expect.stringMatching(/E_CORRUPT|E_FORMAT/),
      });
    }
  });
});
