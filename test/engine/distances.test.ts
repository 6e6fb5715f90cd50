/**
 * distances (R43) on the minigpt corpus: init vs big-data with all three methods, checked against
 * values computed here from the raw tensors (plain float64 loops) and against the reference's
 * numbers; a model against itself; name vs position pairing and unmatched layers.
 */
import { describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { readAll, type Tensor } from '../helpers/lora.js';

const INIT = corpus('minigpt/init/model.safetensors');
const BIG = corpus('minigpt/big-data/model.safetensors');

/** Every dense layer minigpt analyses (rank-2 `.weight` tensors; norms are 1-D). */
function layerNames(w: ReadonlyMap<string, Tensor>): string[] {
  return [...w.values()]
    .filter((t) => t.name.endsWith('.weight') && t.shape.length === 2)
    .map((t) => t.name.slice(0, -7))
    .sort();
}

function diffNorm(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** ‖XᵀY‖_F for row-major r×c matrices, by plain loops (the reference's definition, no Gram shortcut). */
function crossNorm(x: Float32Array, y: Float32Array, r: number, c: number): number {
  let s = 0;
  const col = new Float64Array(r);
  for (let j = 0; j < c; j++) {
    for (let k = 0; k < r; k++) col[k] = y[k * c + j]!;
    for (let i = 0; i < c; i++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += x[k * c + i]! * col[k]!;
      s += d * d;
    }
  }
  return Math.sqrt(s);
}

/** ‖Y·Yᵀ‖_F by plain loops. */
function outerNorm(y: Float32Array, r: number, c: number): number {
  let s = 0;
  for (let i = 0; i < r; i++)
    for (let k = 0; k < r; k++) {
      let d = 0;
      for (let j = 0; j < c; j++) d += y[i * c + j]! * y[k * c + j]!;
      s += d * d;
    }
  return Math.sqrt(s);
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe.skipIf(!haveCorpus)('distances on minigpt (init vs big-data)', () => {
  it('raw: ‖W_init − W_big‖ and ‖b_init − b_big‖ per layer, as computed from the tensors', async () => {
    const [a, b] = [await readAll(INIT), await readAll(BIG)];
    const res = await new WeightWatcher(INIT).distances(BIG, { method: 'raw' });
    const names = layerNames(a);
    expect(res.rows.map((r) => r.name).sort()).toEqual(names);
    expect(res.unmatched).toEqual([]);
    for (const r of res.rows) {
      const [wa, wb] = [a.get(`${r.name}.weight`)!, b.get(`${r.name}.weight`)!];
      expect(rel(r.delta_W, diffNorm(wa.data, wb.data))).toBeLessThan(1e-13);
      expect([r.M, r.N]).toEqual([Math.min(...wa.shape), Math.max(...wa.shape)]);
      const bias = a.get(`${r.name}.bias`);
      if (bias) {
        expect(rel(r.delta_b, diffNorm(bias.data, b.get(`${r.name}.bias`)!.data))).toBeLessThan(1e-13);
        expect(r.b_shape).toBe(`(${bias.shape[0]},)`);
      } else expect([r.delta_b, r.b_shape]).toEqual([0, 'unknown']);
    }
    const mean = (k: 'delta_W' | 'delta_b') => res.rows.reduce((s, r) => s + r[k], 0) / res.rows.length;
    expect(rel(res.avg_dW, mean('delta_W'))).toBeLessThan(1e-14);
    expect(rel(res.avg_db, mean('delta_b'))).toBeLessThan(1e-14);
    // The reference (float32 arithmetic) on the same files: avg_dW 6.8218865, avg_db 0.35155582055449486.
    expect(rel(res.avg_dW, 6.8218865)).toBeLessThan(2e-7);
    expect(rel(res.avg_db, 0.35155582055449486)).toBeLessThan(2e-7);
  });

  it('euclidean: the same norms over the layer matrices; no bias term', async () => {
    const [a, b] = [await readAll(INIT), await readAll(BIG)];
    const res = await new WeightWatcher(INIT).distances(BIG, { method: 'euclidean' });
    for (const r of res.rows) {
      expect(rel(r.delta_W, diffNorm(a.get(`${r.name}.weight`)!.data, b.get(`${r.name}.weight`)!.data))).toBeLessThan(1e-13);
      expect([r.delta_b, r.b_shape, r.method]).toEqual([0, 'unknown', 'euclidean']);
    }
    expect(rel(res.avg_dW, 6.821886632177565)).toBeLessThan(2e-7); // the reference
    expect(res.avg_db).toBe(0);
  });

  it("cka: ‖W1ᵀW2‖ / √(‖W1ᵀW1‖·‖W2W2ᵀ‖) as defined, on one layer of each shape; the reference's mean", async () => {
    const [a, b] = [await readAll(INIT), await readAll(BIG)];
    const res = await new WeightWatcher(INIT).distances(BIG, { method: 'cka' });
    for (const name of ['h.0.attn.c_proj', 'wpe', 'h.1.mlp.c_proj']) {
      const [x, y] = [a.get(`${name}.weight`)!, b.get(`${name}.weight`)!];
      const [r, c] = x.shape as [number, number];
      const expected = crossNorm(x.data, y.data, r, c) / Math.sqrt(crossNorm(x.data, x.data, r, c) * outerNorm(y.data, r, c));
      expect(rel(res.rows.find((row) => row.name === name)!.delta_W, expected)).toBeLessThan(1e-12);
    }
    expect(rel(res.avg_dW, 0.5873260589109527)).toBeLessThan(2e-6); // the reference (float32 products)
  }, 60_000);

  it('a model against itself: exactly 0 (raw, euclidean) and exactly 1 (cka)', async () => {
    const ww = new WeightWatcher(BIG);
    for (const [method, value] of [
      ['raw', 0],
      ['euclidean', 0],
      ['cka', 1],
    ] as const) {
      const res = await ww.distances(corpus('minigpt/big-data/model.safetensors'), { method });
      expect(res.rows.length).toBe(18);
      expect(new Set(res.rows.map((r) => r.delta_W))).toEqual(new Set([value]));
      expect([res.avg_dW, res.avg_db]).toEqual([value, 0]);
    }
  });
});

describe('distances: pairing', () => {
  const t = (name: string, rows: number, cols: number, seed: number) => ({
    name,
    shape: [rows, cols],
    data: Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(seed + i)),
  });

  it('by name: unmatched layers on either side are listed, shape mismatches are not paired', async () => {
    const a = [t('fc1', 20, 12, 1), t('fc2', 12, 12, 2), t('only_a', 16, 16, 3)];
    const b = [t('fc2', 12, 12, 4), t('fc1', 20, 12, 5), t('only_b', 16, 16, 6), t('only_a', 16, 17, 7)];
    const res = await new WeightWatcher(a).distances(b, { method: 'euclidean' });
    expect(res.rows.map((r) => r.name)).toEqual(['fc1', 'fc2']);
    expect(res.rows[0]!.delta_W).toBeCloseTo(diffNorm(a[0]!.data, b[1]!.data), 12);
    expect(res.unmatched.map((u) => [u.side, u.name])).toEqual([
      ['other', 'only_b'],
      ['model', 'only_a'],
      ['other', 'only_a'],
    ]);
    expect(res.unmatched[1]!.reason).toMatch(/\[16, 16\] vs 1 × \[16, 17\]/);
  });

  it("by position, as the reference's zip: extra layers are listed", async () => {
    const a = [t('x', 20, 12, 1), t('y', 12, 12, 2)];
    const b = [t('p', 20, 12, 3), t('q', 12, 12, 4), t('r', 12, 12, 5)];
    const res = await new WeightWatcher(a).distances(b, { method: 'raw', pairing: 'position' });
    expect(res.rows.map((r) => r.name)).toEqual(['x', 'y']);
    expect(res.unmatched).toMatchObject([{ side: 'other', name: 'r' }]);
    await expect(new WeightWatcher(a).distances(b, { method: 'cosine' as 'raw' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
