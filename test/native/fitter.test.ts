/** The native 'ww' power-law fitter against the reference's golden values (G1). */
import { describe, expect, it } from 'vitest';
import { fitPowerLaw, fitPowerLawSync, WeightWatcherError } from '../../src/index.js';

const A = Float64Array.from({ length: 200 }, (_, k) => (1 - k / 200) ** (-1 / 1.5));
const B = Float64Array.from([
  ...Array.from({ length: 150 }, (_, k) => 0.01 + k * ((1.0 - 0.01) / 149)),
  ...Array.from({ length: 50 }, (_, k) => 1 + (1 - k / 50) ** (-1 / 2)),
]);
const C = Float64Array.from({ length: 100 }, (_, k) => ((k + 1) * (k + 1)) / 100);
const F = Float64Array.from([
  0.06, 0.072, 0.084, 0.121, 0.174, 0.195, 0.2, 0.22, 0.222, 0.281, 0.359, 0.369, 0.416, 0.426, 0.442, 0.462, 0.536, 0.572, 0.578, 0.601, 0.685,
  0.711, 0.79, 0.886, 0.987, 1.02, 1.046, 1.13, 1.136, 1.32, 1.441, 1.672, 1.956, 2.029, 2.037, 2.192, 2.206, 2.291, 3.125, 3.882,
]);

const golden = [
  { name: 'A', data: A, alpha: 2.527250065302685, xmin: 1.0, D: 0.006623054542484019, sigma: 0.10799288777431261, tail: 200, xmax: 34.19951893353391 },
  { name: 'B', data: B, alpha: 4.515498812124509, xmin: 2.0, D: 0.02396509137208258, sigma: 0.49716660986129857, tail: 50, xmax: 8.071067811865472 },
  { name: 'C', data: C, alpha: 5.089412395607698, xmin: 62.41, D: 0.1824330509645648, sigma: 0.8718656522170741, tail: 22, xmax: 100.0 },
];

describe('ww power-law fit (G1)', () => {
  for (const g of golden) {
    it(`data set ${g.name}`, async () => {
      const f = await fitPowerLaw(g.data);
      expect(f.alpha).toBeCloseTo(g.alpha, 12);
      expect(Math.abs(f.alpha - g.alpha) / g.alpha).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(f.D - g.D) / g.D).toBeLessThanOrEqual(1e-12);
      expect(Math.abs(f.sigma - g.sigma) / g.sigma).toBeLessThanOrEqual(1e-12);
      expect(f.xmin).toBe(g.xmin);
      expect(f.xmax).toBe(g.xmax);
      expect(f.tailCount).toBe(g.tail);
    });
  }

  it('finger data set F', () => {
    const f = fitPowerLawSync(F);
    expect(Math.abs(f.alpha - 5.927690277891532)).toBeLessThanOrEqual(1e-12);
    expect(f.xmin).toBe(1.956);
    expect(Math.abs(f.D - 0.15061798205847265)).toBeLessThanOrEqual(1e-12);
  });

  it('the early-exit scan gives the same result as the full scan, and arrays agree with the choice', () => {
    const data = Float64Array.from({ length: 3000 }, (_, k) => (1 + Math.sin(k) * 0.3) * (1 - k / 3001) ** -0.7);
    const fast = fitPowerLawSync(data);
    const full = fitPowerLawSync(data, { arrays: true });
    expect(fast.alpha).toBe(full.alpha);
    expect(fast.D).toBe(full.D);
    expect(fast.xmin).toBe(full.xmin);
    expect(full.xmins!.length).toBe(2999);
    const i = full.bestIndex;
    expect(full.alphas![i]).toBe(full.alpha);
    expect(full.Ds![i]).toBe(Math.min(...full.Ds!));
  });

  it('input order does not matter and the caller buffer is not modified', () => {
    const shuffled = Float64Array.from(A).reverse();
    const copy = Float64Array.from(shuffled);
    expect(fitPowerLawSync(shuffled).alpha).toBe(fitPowerLawSync(A).alpha);
    expect(shuffled).toEqual(copy);
  });

  it('xmax hint limits the scan to the closest value', () => {
    const f = fitPowerLawSync(A, { xmax: A[150]! + 1e-9 });
    expect(f.xmax).toBe(A[150]);
  });

  it('all-equal tail gives alpha = +inf with C pow semantics, not NaN', () => {
    const f = fitPowerLawSync(Float64Array.from([1, 2, 3, 3, 3, 3]));
    expect(Number.isNaN(f.D)).toBe(false);
  });

  it('too little data and NaN are typed errors', async () => {
    expect(() => fitPowerLawSync(new Float64Array([1]))).toThrow(WeightWatcherError);
    expect(() => fitPowerLawSync(new Float64Array([1]))).toThrow(/at least 2 values/);
    await expect(fitPowerLaw(new Float64Array([1, NaN, 3]))).rejects.toMatchObject({ code: 'E_NONFINITE' });
    expect(() => fitPowerLawSync(new Float64Array([]))).toThrow(expect.objectContaining({ code: 'E_EMPTY' }));
    expect(() => fitPowerLawSync(new Float32Array([1, 2]) as unknown as Float64Array)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
