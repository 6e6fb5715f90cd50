/** stacked=True (R36) on the formula dict of G2, through analyzeStacked. */
import { describe, expect, it } from 'vitest';
import { analyzeStacked, medianF32, robustStandardise, stackLayers } from '../../src/engine/stacked.js';
import { MemoryStore } from '../../src/formats/memory.js';
import { plainSource } from '../../src/engine/source.js';
import { resolveOptions } from '../../src/shared/options.js';
import { Random } from '../../src/shared/random.js';
import { formulaDict } from '../helpers/formula.js';

async function store() {
  return MemoryStore.fromAsync(
    (async function* () {
      for (const t of formulaDict()) yield t;
    })(),
  );
}

describe('stacked', () => {
  it('robust standardisation: global median, per-column MAD (scale 1)', () => {
    const m = { data: Float32Array.from([1, 10, 2, 20, 4, 40]), rows: 3, cols: 2 };
    // global median of {1,2,4,10,20,40} = (4+10)/2 = 7; column MADs: |1-2|,|2-2|,|4-2| → 1 ; |10-20|,0,|40-20| → 10
    expect(medianF32(m.data)).toBe(7);
    expect(Array.from(robustStandardise(m).data)).toEqual([-6, 0.3, -5, 1.3, -3, 3.3].map(Math.fround));
  });

  it('padding and transposition', () => {
    const a = [{ data: Float32Array.from([1, 2, 3, 4, 5, 6]), rows: 2, cols: 3 }];
    const b = [{ data: Float32Array.from([1, 2]), rows: 1, cols: 2 }];
    const s = stackLayers([a, b]);
    // 3 rows × 3 cols: no transpose; second block padded with a zero column
    expect([s.rows, s.cols]).toEqual([3, 3]);
    expect(s.data[8]).toBe(0);
    const t = stackLayers([b]);
    expect([t.rows, t.cols]).toEqual([2, 1]);
  });

  it('formula dict: one row as the reference (G2), full ESD (Q33 fixed)', async () => {
    const o = resolveOptions({});
    const { results } = await analyzeStacked(plainSource(await store(), o), o, new Random(0));
    expect(results.length).toBe(1);
    const r = results[0]!.row;
    expect([r.layer_id, r.name, r.layer_type, r.rf, r.N, r.M, r.longname]).toEqual([0, 'Stacked Layer', 'stacked', 1, 116, 72, 'fc1']);
    expect(Math.abs(r.lambda_max - 4867.1134391306) / 4867.1134391306).toBeLessThanOrEqual(1e-12);
    expect(r.alpha).toBeCloseTo(1.7916091161, 9);
    // the reference computes only the first layer's 60 components (Q33); we keep all 72
    expect(r.num_evals).toBe(72);
    expect(r.matrix_rank).toBe(72);
  });
});
