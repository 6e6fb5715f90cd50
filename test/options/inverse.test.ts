/**
 * inverse=True (Q16): the ESD is 1/λ. Single-matrix layers match the reference (G2
 * fc1); for multi-slice conv layers the reference re-inverts the running array after every
 * slice (Q16) — layer.ts inverts once after all slices, a documented fix, so conv differs there.
 */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, fitPowerLawSync } from '../../src/index.js';
import { formulaDict } from '../helpers/formula.js';

describe('inverse=True on the formula dict', () => {
  it('fc1 = the reference; conv = the fixed 1/λ of the pooled ESD', async () => {
    const ww = new WeightWatcher(formulaDict());
    // inverse always takes ?gesdd (docs/numerics.md): compare with the accurate method
    const plain = await ww.analyze({ svd_method: 'accurate', keep_evals: true });
    const base = ww.getLayerResults().map((r) => r.evals!);
    const rows = await ww.analyze({ inverse: true, keep_evals: true });
    const inv = ww.getLayerResults().map((r) => r.evals!);
    const fc1 = rows[0]!;
    expect(fc1.alpha).toBeCloseTo(2.1050482829, 9);
    expect(fc1.xmin).toBeCloseTo(0.0112223755, 9);
    expect(fc1.xmax).toBeCloseTo(0.0627281825, 9);
    expect(fc1.lambda_max).toBe(fc1.xmax);
    // singular values are those of W, not of the inverse
    expect(fc1.sv_max).toBe(plain[0]!.sv_max);
    expect(fc1.sv_min).toBe(plain[0]!.sv_min);
    // the ESD is exactly 1/λ, ascending, for both layers (one inversion after all slices)
    for (let l = 0; l < 2; l++) {
      const expected = base[l]!.map((v) => 1 / v).sort();
      expect(Array.from(inv[l]!)).toEqual(Array.from(expected));
    }
    const conv = rows[1]!;
    expect(conv.lambda_max).toBeCloseTo(86213.7917723249, 6);
    const direct = fitPowerLawSync(inv[1]!.filter((v) => v > 1e-5));
    expect(conv.alpha).toBe(direct.alpha);
    expect(conv.xmin).toBe(direct.xmin);
    // the reference's Q16 value (1.2995454292, xmin 1.5811978806) mixes λ and 1/λ of the 9 slices
    expect(Math.abs(conv.alpha - 1.2995454292)).toBeGreaterThan(0.01);
  });

  it('with mp_fit, detX and randomize the inverted ESD is used throughout', async () => {
    const rows = await new WeightWatcher(formulaDict()).analyze({ inverse: true, mp_fit: true, detX: true, randomize: true, seed: 1 });
    for (const r of rows) {
      expect(r.status).toBe('success');
      expect(r.detX_val as number).toBeLessThanOrEqual(r.lambda_max);
      expect(Number.isFinite(r.max_rand_eval as number)).toBe(true);
      expect(r.max_rand_eval as number).toBeGreaterThan(0);
    }
  });
});
