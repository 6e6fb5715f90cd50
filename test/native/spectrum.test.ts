/**
 * The spectrum routes (native/core/spectrum.cc, docs/numerics.md): which route each kind of matrix
 * takes, that every route agrees with ?gesdd to its stated accuracy, stored half-float bytes give
 * the same values as float32 decoding, and the fallbacks say why.
 */
import { describe, expect, it } from 'vitest';
import { svdvals, svdvalsDetailed, svdvalsDetailedSync, type MatrixSpectrum } from '../../src/index.js';
import { decodeToFloat32 } from '../../src/formats/decode.js';
import { Random } from '../../src/shared/random.js';

function gaussian(rows: number, cols: number, seed: number, scale = 0.02): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(rows * cols);
  for (let k = 0; k < out.length; k++) out[k] = scale * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  return out;
}

/** Agreement with ?gesdd: every λ within the route's bound, σmin to 1e-10 relative. */
function expectAgrees(fast: MatrixSpectrum, exact: MatrixSpectrum): void {
  expect(fast.evals.length).toBe(exact.evals.length);
  for (let i = 0; i < exact.evals.length; i++) expect(Math.abs(fast.evals[i]! - exact.evals[i]!)).toBeLessThanOrEqual(fast.errorBound);
  expect(Math.abs(fast.sv[0]! - exact.sv[0]!) / exact.sv[0]!).toBeLessThan(1e-10);
}

function toHalfBytes(x: Float32Array, dtype: 'BF16' | 'F16'): Uint8Array {
  const out = new Uint16Array(x.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < x.length; k++) {
    f[0] = x[k]!;
    if (dtype === 'BF16') out[k] = u[0]! >>> 16;
    else {
      // round-toward-zero F16 from float32, normals and subnormals
      const sign = (u[0]! >>> 16) & 0x8000;
      const a = Math.abs(x[k]!);
      if (a < 2 ** -24) out[k] = sign;
      else if (a < 2 ** -14) out[k] = sign | Math.floor(a / 2 ** -24);
      else {
        const e = Math.floor(Math.log2(a));
        out[k] = sign | ((e + 15) << 10) | Math.floor((a / 2 ** e - 1) * 1024);
      }
    }
  }
  return new Uint8Array(out.buffer);
}

describe('spectrum routes', () => {
  it('tall and wide well-conditioned matrices take the plain Gram route', async () => {
    for (const [r, c] of [[300, 100], [100, 300]] as const) {
      const w = gaussian(r, c, r + c);
      const fast = await svdvalsDetailed(w, r, c, { method: 'fast' });
      expect(fast.route).toBe('gram');
      expect(fast.fallback).toBeUndefined();
      expect(fast.errorBound).toBeGreaterThan(0);
      const exact = await svdvalsDetailed(w, r, c, { method: 'accurate' });
      expect(exact.route).toBe('gesdd');
      expect(exact.errorBound).toBe(0);
      expectAgrees(fast, exact);
      // Σλ agrees with the compensated Σw² the guard checks it against
      const sum = fast.evals.reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - fast.sumOfSquares) / fast.sumOfSquares).toBeLessThan(1e-12);
    }
  });

  it('square matrices get σmin from LU inverse iteration, tall ill-conditioned ones from QR', async () => {
    const sq = gaussian(200, 200, 7);
    const a = await svdvalsDetailed(sq, 200, 200, { method: 'fast' });
    expect(a.route).toBe('gram+lu');
    expect(a.refineIterations).toBeGreaterThan(1);
    expect(a.refineBlock).toBeGreaterThanOrEqual(8);
    expectAgrees(a, await svdvalsDetailed(sq, 200, 200, { method: 'accurate' }));
    // a tall matrix with one tiny column has a small σmin the Gram values cannot resolve
    const tall = gaussian(300, 100, 9);
    for (let i = 0; i < 300; i++) tall[i * 100] = tall[i * 100]! * 1e-5;
    const b = await svdvalsDetailed(tall, 300, 100, { method: 'fast' });
    expect(b.route).toBe('gram+qr');
    expectAgrees(b, await svdvalsDetailed(tall, 300, 100, { method: 'accurate' }));
  });

  it('falls back to ?gesdd, saying why, where the Gram route cannot give σmin or the rank', async () => {
    const small = gaussian(40, 40, 3); // square and too small for the refinement
    const s = await svdvalsDetailed(small, 40, 40, { method: 'fast' });
    expect(s.route).toBe('gesdd');
    expect(s.fallback).toMatch(/small/);
    const zero = new Float32Array(100 * 80);
    expect((await svdvalsDetailed(zero, 100, 80, { method: 'fast' })).fallback).toBe('zero matrix');
    const deficient = gaussian(120, 80, 5);
    for (let i = 0; i < 120; i++) deficient[i * 80 + 79] = deficient[i * 80]!; // duplicate column: rank 79
    const d = await svdvalsDetailed(deficient, 120, 80, { method: 'fast' });
    expect(d.route).toBe('gesdd');
    expect(d.fallback).toMatch(/singular|rank/);
    const huge = Float64Array.from(gaussian(100, 60, 4), (v) => v * 1e160); // squares overflow float64
    const h = await svdvalsDetailed(huge, 100, 60, { method: 'fast' });
    expect(h.route).toBe('gesdd');
    expect(h.fallback).toMatch(/Gram route failed/);
    expect(Number.isFinite(h.sv[h.sv.length - 1]!)).toBe(true);
  });

  it('without refinement (ESD only) the Gram values come back as they are', async () => {
    const sq = gaussian(200, 200, 7);
    const a = await svdvalsDetailed(sq, 200, 200, { method: 'fast', refineMin: false });
    expect(a.route).toBe('gram');
    expect((await svdvalsDetailed(sq, 200, 200, { method: 'fast', forceGram: true })).route).toBe('gram');
  });

  it('stored BF16/F16/F32 bytes give exactly the values of float32 decoding, on every route', async () => {
    const w = gaussian(150, 90, 11);
    for (const dtype of ['BF16', 'F16'] as const) {
      const bytes = toHalfBytes(w, dtype);
      const decoded = decodeToFloat32(bytes, dtype, w.length);
      for (const method of ['fast', 'accurate'] as const) {
        const fromBytes = await svdvalsDetailed(bytes, 150, 90, { method, dtype });
        const fromFloats = await svdvalsDetailed(decoded, 150, 90, { method });
        expect(Array.from(fromBytes.evals), `${dtype} ${method}`).toEqual(Array.from(fromFloats.evals));
        expect(fromBytes.route).toBe(fromFloats.route);
      }
      // the same through a Uint16Array and an unaligned view
      const u16 = new Uint16Array(bytes.buffer.slice(0));
      expect(Array.from((await svdvalsDetailed(u16, 150, 90, { method: 'fast', dtype })).evals)).toEqual(Array.from((await svdvalsDetailed(decoded, 150, 90, { method: 'fast' })).evals));
      const shifted = new Uint8Array(bytes.length + 1);
      shifted.set(bytes, 1);
      expect(Array.from(svdvalsDetailedSync(shifted.subarray(1), 150, 90, { method: 'fast', dtype }).evals)).toEqual(Array.from(svdvalsDetailedSync(decoded, 150, 90, { method: 'fast' }).evals));
    }
    const f32 = new Uint8Array(w.buffer.slice(0));
    expect(Array.from((await svdvalsDetailed(f32, 150, 90, { method: 'fast', dtype: 'F32' })).evals)).toEqual(Array.from((await svdvalsDetailed(w, 150, 90, { method: 'fast' })).evals));
  });

  it('every F16 bit pattern widens like the JS decoder (subnormals, Inf, NaN rejected)', async () => {
    const all = new Uint16Array(65536).map((_, k) => k);
    const decoded = decodeToFloat32(new Uint8Array(all.buffer), 'F16', 65536);
    const finite = Array.from(all).filter((_, k) => Number.isFinite(decoded[k]!));
    // a 1×n matrix has one singular value, ‖row‖; compare the squares of single entries instead
    for (let k = 0; k < finite.length; k += 97) {
      const one = new Uint16Array([finite[k]!]);
      const v = decodeToFloat32(new Uint8Array(one.buffer), 'F16', 1)[0]!;
      expect(svdvalsDetailedSync(one, 1, 1, { method: 'accurate', dtype: 'F16' }).sv[0]).toBe(Math.abs(v));
    }
    await expect(svdvalsDetailed(new Uint16Array([0x3c00, 0x7e00]), 1, 2, { method: 'fast', dtype: 'F16' })).rejects.toMatchObject({ code: 'E_NONFINITE', message: expect.stringMatching(/row 0, column 1/) });
    await expect(svdvalsDetailed(new Uint16Array([0x3f80, 0x7f80]), 2, 1, { method: 'fast', dtype: 'BF16' })).rejects.toMatchObject({ code: 'E_NONFINITE', message: expect.stringMatching(/row 1, column 0/) });
  });

  it('float32 precision is opt-in on both methods and close to float64', async () => {
    const w = gaussian(300, 100, 13);
    const ref = await svdvalsDetailed(w, 300, 100, { method: 'accurate' });
    for (const method of ['fast', 'accurate'] as const) {
      const s = await svdvalsDetailed(w, 300, 100, { method, precision: 'float32' });
      expect(s.route).toBe(method === 'fast' ? 'sgram' : 'sgesdd');
      const lmax = ref.evals[ref.evals.length - 1]!;
      for (let i = 0; i < ref.evals.length; i++) expect(Math.abs(s.evals[i]! - ref.evals[i]!) / lmax).toBeLessThan(1e-5);
    }
    // square: float32 Gram values, σmin refined in float64 (as accurate as dgesdd's)
    const sq = gaussian(200, 200, 7);
    const f = await svdvalsDetailed(sq, 200, 200, { method: 'fast', precision: 'float32' });
    expect(f.route).toBe('sgram+lu');
    const exact = await svdvalsDetailed(sq, 200, 200, { method: 'accurate' });
    expect(Math.abs(f.sv[0]! - exact.sv[0]!) / exact.sv[0]!).toBeLessThan(1e-10);
  });

  it('svdvals takes the method; bad options are usage errors', async () => {
    const w = gaussian(120, 80, 17);
    const a = await svdvals(w, 120, 80);
    const f = await svdvals(w, 120, 80, { method: 'fast' });
    for (let i = 0; i < a.length; i++) expect(Math.abs(f[i]! - a[i]!) / a[a.length - 1]!).toBeLessThan(1e-12);
    expect(() => svdvalsDetailedSync(w, 120, 80, { method: 'quick' as 'fast' })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => svdvalsDetailedSync(new Uint16Array(4), 2, 2)).toThrow(/dtype/);
    expect(() => svdvalsDetailedSync(new Uint8Array(8), 2, 2, { dtype: 'BF16' })).not.toThrow();
    expect(() => svdvalsDetailedSync(new Uint8Array(7), 2, 2, { dtype: 'BF16' })).toThrow(/bytes/);
    expect(() => svdvalsDetailedSync(w, 120, 80, { dtype: 'BF16' })).toThrow(/does not match/);
  });
});
