/** Native singular values against closed-form matrices, dtype/orientation handling and error paths. */
import { describe, expect, it } from 'vitest';
import { nativeInfo, setBlasThreads, svdvals, svdvalsSync, WeightWatcherError } from '../../src/index.js';

function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-300, Math.abs(b[i]!)));
  return worst;
}

describe('svdvals', () => {
  it('diagonal and rectangular closed forms, ascending', () => {
    // 3×2 with orthogonal columns (3, 4, 0) and (-4, 3, 12): singular values are their norms 5 and 13
    const W = new Float64Array([3, -4, 4, 3, 0, 12]);
    expect(rel(svdvalsSync(W, 3, 2), [5, 13])).toBeLessThan(1e-15);
    const D = new Float64Array([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 7, 0]); // 3×4, diag(0, 2, 7)
    expect(Array.from(svdvalsSync(D, 3, 4))).toEqual([0, 2, 7]);
  });

  it('matches the analytic spectrum of an orthogonal-times-diagonal matrix in both orientations', async () => {
    // W = Q · diag(s) with Q a Householder reflection: singular values are exactly |s|.
    const n = 64;
    const v = Float64Array.from({ length: n }, (_, i) => Math.cos(i + 1));
    const vv = v.reduce((s, x) => s + x * x, 0);
    const s = Float64Array.from({ length: n }, (_, i) => (i + 1) ** 1.5);
    const W = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * n + j] = ((i === j ? 1 : 0) - (2 * v[i]! * v[j]!) / vv) * s[j]!;
    const expected = Float64Array.from(s).sort();
    expect(rel(await svdvals(W, n, n), expected)).toBeLessThan(1e-12);
    // Tall (stack W over zeros) and wide (its transpose) give the same values.
    const tall = new Float64Array(2 * n * n);
    tall.set(W);
    expect(rel(await svdvals(tall, 2 * n, n), expected)).toBeLessThan(1e-12);
    const wide = new Float64Array(n * 2 * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) wide[i * 2 * n + j] = W[j * n + i]!;
    expect(rel(await svdvals(wide, n, 2 * n), expected)).toBeLessThan(1e-12);
  });

  it('accurate route on tall matrices (our ?geqrt QR, then ?gesdd on R): the analytic spectrum, both precisions', async () => {
    // W = Q · diag(s) (Householder Q) with its rows spread over m ≥ n rows of zeros: singular values
    // |s|. m = 4n takes the QR (m ≥ 11n/6, ?gesdd's crossover); m just below 11n/6 does not.
    for (const n of [40, 150]) {
      const v = Float64Array.from({ length: n }, (_, i) => Math.cos(i + 1));
      const vv = v.reduce((acc, x) => acc + x * x, 0);
      const s = Float64Array.from({ length: n }, (_, i) => 0.5 + ((i * 7) % n) / 10);
      const expected = Float64Array.from(s).sort();
      for (const m of [4 * n, Math.floor((11 * n) / 6) - 1]) {
        const w = new Float64Array(m * n);
        for (let i = 0; i < n; i++) {
          const row = Math.floor((i * m) / n);
          for (let j = 0; j < n; j++) w[row * n + j] = ((i === j ? 1 : 0) - (2 * v[i]! * v[j]!) / vv) * s[j]!;
        }
        expect(rel(await svdvals(w, m, n, { method: 'accurate' }), expected), `${m}×${n}`).toBeLessThan(1e-13);
        expect(rel(await svdvals(w, m, n, { method: 'accurate', precision: 'float32' }), expected), `${m}×${n} float32`).toBeLessThan(1e-5);
      }
    }
  });

  it('float32 input is widened exactly; float32 precision is opt-in and close', async () => {
    const n = 50;
    const W32 = Float32Array.from({ length: n * 30 }, (_, k) => Math.sin(k * 0.37) + Math.cos(k * 0.11));
    const W64 = Float64Array.from(W32);
    const a = await svdvals(W32, n, 30);
    const b = await svdvals(W64, n, 30);
    expect(Array.from(a)).toEqual(Array.from(b));
    const c = await svdvals(W32, n, 30, { precision: 'float32' });
    const max = a[a.length - 1]!;
    for (let i = 0; i < a.length; i++) expect(Math.abs(c[i]! - a[i]!) / max).toBeLessThan(1e-5);
  });

  it('does not modify the caller buffer and sync equals async', async () => {
    const W = Float64Array.from({ length: 40 * 25 }, (_, k) => Math.sin(k));
    const copy = Float64Array.from(W);
    const a = svdvalsSync(W, 40, 25);
    const b = await svdvals(W, 40, 25);
    expect(W).toEqual(copy);
    expect(a).toEqual(b);
  });

  it('respects typed-array byteOffset (subarray views)', () => {
    const buf = Float64Array.from({ length: 100 + 12 }, (_, k) => k);
    const view = buf.subarray(100); // 3×4 view
    const direct = Float64Array.from(view);
    expect(svdvalsSync(view, 3, 4)).toEqual(svdvalsSync(direct, 3, 4));
  });

  it('bad input becomes typed errors, never a crash', async () => {
    await expect(svdvals(new Float64Array([1, NaN, 2, 3]), 2, 2)).rejects.toMatchObject({ code: 'E_NONFINITE' });
    expect(() => svdvalsSync(new Float64Array([1, Infinity]), 1, 2)).toThrow(WeightWatcherError);
    expect(() => svdvalsSync(new Float64Array(6), 2, 4)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => svdvalsSync(new Float64Array(0), 0, 3)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => svdvalsSync(new Int32Array(4) as unknown as Float64Array, 2, 2)).toThrow(/Float32Array or Float64Array/);
    expect(() => svdvalsSync(new Float64Array(4), 2, 2, { precision: 'float16' as 'float32' })).toThrow(/precision/);
  });

  it('async errors keep the caller in the stack trace', async () => {
    const err = (await svdvals(new Float64Array([NaN]), 1, 1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(WeightWatcherError);
    expect(err.stack).toMatch(/svd\.test\.ts/);
  });
});

describe('thread budget', () => {
  it('analyze() restores the OpenBLAS thread count, also with overlapping runs', async () => {
    const { WeightWatcher } = await import('../../src/index.js');
    const { formulaDict } = await import('../helpers/formula.js');
    setBlasThreads(2);
    await Promise.all([new WeightWatcher(formulaDict()).analyze(), new WeightWatcher(formulaDict()).analyze({ threads: 1 })]);
    expect(nativeInfo().blasThreads).toBe(2);
  });
});

describe('nativeInfo', () => {
  it('reports BLAS, LAPACK, core type and threads', () => {
    const info = nativeInfo();
    expect(info.blas).toBe('OpenBLAS');
    expect(info.lapackVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(info.blasThreads).toBeGreaterThanOrEqual(1);
    expect(typeof info.coreType).toBe('string');
    expect(['user', 'auto', 'none']).toContain(info.coreTypeSource);
  });
});
