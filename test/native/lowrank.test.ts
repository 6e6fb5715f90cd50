/** Native truncated-SVD reconstruction (smoothing / sharpening): exactness, orientation, determinism, errors. */
import { describe, expect, it } from 'vitest';
import { lowRankApprox, lowRankApproxSync, svdvalsSync } from '../../src/index.js';
import { expectError } from '../helpers/errors.js';

/** W = Q_left · diag(s) · Q_rightᵀ with Householder reflections: singular values exactly s. */
function known(rows: number, cols: number, s: number[]): Float64Array {
  const house = (n: number, seed: number) => {
    const v = Float64Array.from({ length: n }, (_, i) => Math.cos(seed * (i + 1)));
    const vv = v.reduce((a, x) => a + x * x, 0);
    return (i: number, j: number) => (i === j ? 1 : 0) - (2 * v[i]! * v[j]!) / vv;
  };
  const L = house(rows, 1.3);
  const R = house(cols, 0.7);
  const W = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
    let x = 0;
    for (let k = 0; k < s.length; k++) x += L(i, k) * s[k]! * R(j, k);
    W[i * cols + j] = x;
  }
  return W;
}

describe('lowRankApprox', () => {
  const s = [9, 7, 5, 3, 2, 1];

  it('keeps exactly the top k singular values, in both orientations', async () => {
    for (const [rows, cols] of [[10, 6], [6, 10]] as const) {
      const W = known(rows, cols, s);
      const { matrix, singular } = await lowRankApprox(W, rows, cols, 2);
      expect(Array.from(singular).map((x) => +x.toFixed(12))).toEqual([...s].reverse());
      const sv = svdvalsSync(matrix, rows, cols);
      expect(sv[sv.length - 1]).toBeCloseTo(9, 12);
      expect(sv[sv.length - 2]).toBeCloseTo(7, 12);
      for (let i = 0; i < sv.length - 2; i++) expect(sv[i]).toBeLessThan(1e-13);
    }
  });

  it("'drop' removes the top k; keep + drop = W; k beyond the rank keeps W or gives zeros", () => {
    const W = known(8, 6, s);
    const drop = lowRankApproxSync(W, 8, 6, 2, { mode: 'drop' });
    const sv = svdvalsSync(drop.matrix, 8, 6);
    expect(sv[sv.length - 1]).toBeCloseTo(5, 12);
    const keep = lowRankApproxSync(W, 8, 6, 2);
    for (let i = 0; i < W.length; i++) expect(keep.matrix[i]! + drop.matrix[i]!).toBeCloseTo(W[i]!, 12);
    const all = lowRankApproxSync(W, 8, 6, 99);
    for (let i = 0; i < W.length; i++) expect(all.matrix[i]).toBeCloseTo(W[i]!, 12);
    expect(lowRankApproxSync(W, 8, 6, 99, { mode: 'drop' }).matrix.every((x) => x === 0)).toBe(true);
    expect(lowRankApproxSync(W, 8, 6, 0).matrix.every((x) => x === 0)).toBe(true);
  });

  it('is deterministic and reads float32 input exactly', async () => {
    const W = Float32Array.from(known(30, 20, [5, 4, 3, 2, 1]), (x, i) => x + Math.sin(i) * 1e-3);
    const a = await lowRankApprox(W, 30, 20, 3);
    const b = await lowRankApprox(Float64Array.from(W), 30, 20, 3);
    expect(Buffer.from(a.matrix.buffer).equals(Buffer.from(b.matrix.buffer))).toBe(true);
  });

  it('refuses bad input with typed errors', async () => {
    await expectError(lowRankApprox(new Float64Array([1, NaN, 2, 3]), 2, 2, 1), 'E_NONFINITE');
    await expectError(lowRankApprox(new Float64Array(4), 2, 3, 1), 'E_USAGE');
    await expectError(lowRankApprox(new Float64Array(4), 2, 2, -1), 'E_USAGE');
    await expectError(lowRankApprox(new Float64Array(4), 2, 2, 1, { mode: 'half' as 'keep' }), 'E_USAGE');
  });
});
