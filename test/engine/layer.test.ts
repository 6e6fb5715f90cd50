/** The per-layer pipeline's own columns: weak_rank_loss follows `tolerance`, including 0. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, type InMemoryTensor } from '../../src/index.js';

/** A 40×20 matrix of rank 10 (product of 40×10 and 10×20 factors): ten eigenvalues ≈ 0. */
function rankDeficient(): InMemoryTensor {
  const a = Array.from({ length: 40 * 10 }, (_, k) => Math.sin(k * 0.7) + 0.1);
  const b = Array.from({ length: 10 * 20 }, (_, k) => Math.cos(k * 1.3));
  const w = new Float32Array(40 * 20);
  for (let i = 0; i < 40; i++) for (let j = 0; j < 20; j++) for (let r = 0; r < 10; r++) w[i * 20 + j]! += a[i * 10 + r]! * b[r * 20 + j]!;
  return { name: 'low_rank.weight', shape: [40, 20], data: w };
}

describe('weak_rank_loss and tolerance', () => {
  it('counts eigenvalues below tolerance; tolerance 0 means 0, not the default', async () => {
    const evals = await new WeightWatcher([rankDeficient()]).getESD(1);
    const below = (t: number) => evals.filter((v) => v < t).length;
    expect(below(1e-6)).toBeGreaterThanOrEqual(10);

    const byDefault = await new WeightWatcher([rankDeficient()]).analyze();
    expect(byDefault[0]!.weak_rank_loss).toBe(below(1e-6));
    const explicit = await new WeightWatcher([rankDeficient()]).analyze({ tolerance: 1e-6 });
    expect(explicit[0]!.weak_rank_loss).toBe(byDefault[0]!.weak_rank_loss);

    const zero = await new WeightWatcher([rankDeficient()]).analyze({ tolerance: 0 });
    expect(zero[0]!.weak_rank_loss).toBe(below(0));
    expect(zero[0]!.weak_rank_loss).toBe(0);
  });
});
