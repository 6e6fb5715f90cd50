/**
 * analyze({ onLayer }): each finished layer is handed over with its ESD and fit arrays, without
 * keep_evals the run keeps only the rows, the run waits for the hook, and a failing hook stops the
 * run. In-memory Gaussian layers, so no corpus is needed.
 */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, type InMemoryTensor, type LayerResult } from '../../src/index.js';
import { Random } from '../../src/shared/random.js';

function layers(n: number): InMemoryTensor[] {
  const rng = new Random(7);
  return Array.from({ length: n }, (_, i) => {
    const data = new Float32Array(64 * 32);
    for (let k = 0; k < data.length; k++) data[k] = rng.next() - 0.5;
    return { name: `block${i}.weight`, shape: [64, 32], data };
  });
}

describe('analyze onLayer', () => {
  it('gets every layer with its eigenvalues and candidate arrays; the run keeps only the rows', async () => {
    const seen: LayerResult[] = [];
    const ww = new WeightWatcher(layers(5));
    const rows = await ww.analyze({
      threads: 2,
      onLayer: (l) => {
        seen.push(l);
      },
    });
    expect(seen.map((l) => l.row.layer_id).sort()).toEqual(rows.map((r) => r.layer_id).sort());
    for (const l of seen) {
      expect(l.evals).toBeInstanceOf(Float64Array);
      expect(l.evals!.length).toBe(l.row.num_evals);
      expect(l.powerLaw?.fit?.xmins?.length).toBeGreaterThan(0);
    }
    expect(ww.getLayerResults().every((l) => l.evals === undefined && l.powerLaw === undefined)).toBe(true);
    // The rows are the ones a run without the hook gives.
    const plain = await new WeightWatcher(layers(5)).analyze({ threads: 2 });
    expect(rows).toEqual(plain);
  });

  it('with keep_evals the run keeps the results it handed over', async () => {
    const ww = new WeightWatcher(layers(3));
    let n = 0;
    await ww.analyze({
      keep_evals: true,
      onLayer: () => {
        n++;
      },
    });
    expect(n).toBe(3);
    expect(ww.getLayerResults().every((l) => l.evals instanceof Float64Array)).toBe(true);
  });

  it('waits for the hook: no more layers finish than the hook has let through, plus those in flight', async () => {
    let active = 0,
      maxActive = 0;
    await new WeightWatcher(layers(6)).analyze({
      threads: 2,
      onLayer: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
      },
    });
    expect(maxActive).toBeLessThanOrEqual(2);
  });

  it('a failing hook stops the run and rejects analyze()', async () => {
    let calls = 0;
    const ww = new WeightWatcher(layers(8));
    await expect(
      ww.analyze({
        threads: 1,
        onLayer: () => {
          calls++;
          if (calls === 2) throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(calls).toBe(2);
  });
});
