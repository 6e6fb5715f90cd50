/** Writing modified weights: correctly rounded F16/BF16 encoding, the safetensors rewriter, atomic outputs. */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bf16Bits, encodeFloats, f16Bits, unitRoundoff } from '../../src/formats/encode.js';
import { decodeToFloat32 } from '../../src/formats/decode.js';
import { SafetensorsFile } from '../../src/formats/safetensors.js';
import { rewriteSafetensors } from '../../src/formats/safetensors-writer.js';
import { writeFileAtomically, writeFolderAtomically } from '../../src/shared/atomic-write.js';
import { safetensorsBytes } from '../helpers/safetensors-writer.js';
import { writeFileSync } from 'node:fs';
import { expectError } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-encode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encodeFloats', () => {
  it('F16: every finite half round-trips; ties go to even; overflow and underflow', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const x = decodeToFloat32(new Uint8Array([h & 255, h >> 8]), 'F16', 1)[0]!;
      if (!Number.isNaN(x) && f16Bits(x) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(f16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1)
    expect(f16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (1 + 2^-9)
    expect(f16Bits(65519.99)).toBe(0x7bff);
    expect(f16Bits(65520)).toBe(0x7c00);
    expect(f16Bits(2 ** -25)).toBe(0); // half the smallest subnormal: tie → 0
    expect(f16Bits(-(2 ** -26))).toBe(0x8000); // sign kept
  });

  it('BF16: agrees with round-to-nearest-even on float32 inputs and does not double-round float64 ones', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const wrong: number[] = [];
    for (let i = 0; i < 200_000; i++) {
      u[0] = Math.imul(i, 2654435761) >>> 0;
      if (Number.isFinite(f[0]!) && bf16Bits(f[0]!) !== (((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) & 0xffff)) wrong.push(u[0]);
    }
    expect(wrong).toEqual([]);
    expect(bf16Bits(1 + 2 ** -8)).toBe(0x3f80); // exact tie → even
    // float32 would first round 1 + 2^-8 + 2^-40 to the tie 1 + 2^-8 and then down to 1: wrong.
    expect(bf16Bits(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81);
    expect(bf16Bits(-(1 + 2 ** -8 + 2 ** -40))).toBe(0xbf81);
    expect(bf16Bits(3.5e38)).toBe(0x7f80); // above the largest bf16 → +Inf
  });

  it('F32/F64 little-endian; other dtypes refused; unit roundoffs', () => {
    const v = [1.5, -2.25, 1 / 3];
    expect(Array.from(new Float32Array(encodeFloats(v, 'F32').buffer))).toEqual(v.map(Math.fround));
    expect(Array.from(new Float64Array(encodeFloats(v, 'F64').buffer))).toEqual(v);
    expect(() => encodeFloats(v, 'I8')).toThrow(/cannot write dtype I8/);
    expect([unitRoundoff('BF16'), unitRoundoff('F16'), unitRoundoff('F32')]).toEqual([2 ** -8, 2 ** -11, 2 ** -24]);
  });
});

describe('rewriteSafetensors', () => {
  const src = join(dir, 'src.safetensors');
  const a = Float32Array.from({ length: 12 }, (_, i) => i);
  const b = Float32Array.from({ length: 6 }, (_, i) => -i);
  writeFileSync(
    src,
    safetensorsBytes(
      [
        { name: 'a', shape: [3, 4], data: a },
        { name: 'b', shape: [6], data: b },
      ],
      (h) => ({ ...h, __metadata__: { format: 'pt', note: 'kept' } }),
    ),
  );

  it('copies header, metadata and untouched tensors byte for byte and writes replacements in place', async () => {
    const f = await SafetensorsFile.open(src);
    const out = join(dir, 'out.safetensors');
    const replaced = await rewriteSafetensors(f, out, async (t) =>
      t.name === 'a'
        ? encodeFloats(
            Array.from(a, (x) => x * 2),
            'F32',
          )
        : undefined,
    );
    await f.close();
    expect(replaced).toEqual(['a']);
    const [before, after] = [readFileSync(src), readFileSync(out)];
    expect(after.length).toBe(before.length);
    const g = await SafetensorsFile.open(out);
    expect(g.metadata).toEqual({ format: 'pt', note: 'kept' });
    expect(Array.from(await g.readFloat32('a'))).toEqual(Array.from(a, (x) => x * 2));
    expect(Array.from(await g.readFloat32('b'))).toEqual(Array.from(b));
    const start = g.dataStart;
    expect(after.subarray(0, start).equals(before.subarray(0, start))).toBe(true);
    await g.close();
  });

  it('refuses replacement data of the wrong size and never overwrites an existing path', async () => {
    const f = await SafetensorsFile.open(src);
    await expectError(
      rewriteSafetensors(f, join(dir, 'bad.safetensors'), async () => new Uint8Array(3)),
      'E_INTERNAL',
      'has 3 bytes',
    );
    await expect(rewriteSafetensors(f, src, async () => undefined)).rejects.toThrow(/EEXIST/);
    await f.close();
  });
});

describe('atomic outputs', () => {
  it('a failed write leaves neither the target nor a temporary behind', async () => {
    const target = join(dir, 'atomic', 'x.bin');
    await writeFolderAtomically(join(dir, 'atomic'), async (tmp) => writeFileSync(join(tmp, 'y'), 'y'));
    await expect(
      writeFileAtomically(target, async (tmp) => {
        writeFileSync(tmp, 'partial');
        throw new Error('disk full');
      }),
    ).rejects.toThrow(/disk full/);
    expect(readdirSync(join(dir, 'atomic'))).toEqual(['y']);
    await writeFileAtomically(target, async (tmp) => writeFileSync(tmp, 'whole'));
    expect(readFileSync(target, 'utf8')).toBe('whole');
  });

  it('a non-empty output folder is refused', async () => {
    await expectError(
      writeFolderAtomically(join(dir, 'atomic'), async () => {}),
      'E_USAGE',
      'not empty',
    );
  });
});
