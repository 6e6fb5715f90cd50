/** detX constraint (R35) with the reference's numbers (G1, G2, tests). */
import { describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { detXColumns, detXConstraint } from '../../src/metrics/detx.js';
import { formulaDict } from '../helpers/formula.js';

const B = Float64Array.from([
  ...Array.from({ length: 150 }, (_, k) => 0.01 + k * ((1.0 - 0.01) / 149)),
  ...Array.from({ length: 50 }, (_, k) => 1 + (1 - k / 50) ** (-1 / 2)),
]).sort();

describe('detX_constraint', () => {
  it('[1..10] rescaled → (9, 1)', () => {
    const r = detXConstraint(Float64Array.from({ length: 10 }, (_, i) => i + 1));
    expect([r.num, r.idx]).toEqual([9, 1]);
  });
  it('data set B → (144, 56)', () => {
    const r = detXConstraint(B);
    expect([r.num, r.idx]).toEqual([144, 56]);
  });
  it('zeros(100) with the last 10 = 1, no rescale → (11, 89)', () => {
    const x = new Float64Array(100);
    x.fill(1, 90);
    const r = detXConstraint(x, false);
    expect([r.num, r.idx]).toEqual([11, 89]);
  });
  it('a product that never drops below 1 keeps idx = 1 and num = n (Q27)', () => {
    const r = detXConstraint(Float64Array.from([1, 1, 1, 5]), false);
    expect([r.num, r.idx]).toEqual([4, 1]);
  });
  it('degenerate ESDs give (0, 0)', () => {
    const c = detXColumns(Float64Array.from([2, 2, 2]));
    expect([c.detX_num, c.detX_val]).toEqual([0, 2]);
    expect(c.detX_val_unrescaled as number).toBeCloseTo(1, 14);
  });
});

describe('detX columns on the formula dict (G2)', () => {
  it('fc1 and conv', async () => {
    const rows = await new WeightWatcher(formulaDict()).analyze({ detX: true });
    const rel = (a: unknown, b: number) => Math.abs((a as number) - b) / b;
    expect(rows[0]!.detX_num).toBe(27);
    expect(rel(rows[0]!.detX_val, 78.2860932349119)).toBeLessThanOrEqual(1e-12);
    expect(rel(rows[0]!.detX_val_unrescaled, 0.7733923829170343)).toBeLessThanOrEqual(1e-12);
    expect(rows[1]!.detX_num).toBe(38);
    expect(rel(rows[1]!.detX_val, 2.3498297473508947)).toBeLessThanOrEqual(1e-12);
    expect(rel(rows[1]!.detX_val_unrescaled, 0.21577460655685335)).toBeLessThanOrEqual(1e-12);
    // column order: ASCII-sorted between alpha_weighted and entropy
    const keys = Object.keys(rows[0]!);
    expect(keys.slice(keys.indexOf('alpha_weighted'), keys.indexOf('entropy') + 1)).toEqual([
      'alpha_weighted',
      'detX_num',
      'detX_val',
      'detX_val_unrescaled',
      'entropy',
    ]);
  });
});
