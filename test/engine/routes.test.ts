/**
 * The fast route inside analyze(): the svd_route column and run info, the layer guard's fallbacks,
 * options that always take ?gesdd, stored half-float tensors, and the thread policy.
 */
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { WeightWatcher, type InMemoryTensor } from '../../src/index.js';
import { formulaDict } from '../helpers/formula.js';
import { threadBudget, threadPlan, layerBytes } from '../../src/engine/thread-policy.js';
import { Random } from '../../src/shared/random.js';

function gaussian(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from(
    { length: rows * cols },
    () => 0.02 * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next()),
  );
}

/** A small square matrix with one tiny column: σmin below the Gram route's accuracy, too small to refine. */
function illConditioned(n: number, seed: number): Float32Array {
  const w = gaussian(n, n, seed);
  for (let i = 0; i < n; i++) w[i * n] = w[i * n]! * 1e-4;
  return w;
}

const model = (): InMemoryTensor[] => [
  { name: 'tall.weight', shape: [400, 100], data: gaussian(400, 100, 1) },
  { name: 'square.weight', shape: [160, 160], data: gaussian(160, 160, 2) },
  { name: 'small.weight', shape: [30, 30], data: illConditioned(30, 3) },
];

describe('fast route in analyze', () => {
  it('reports the route per row (svd_route) and per run (lastRun.routes, fallbacks)', async () => {
    const ww = new WeightWatcher(model());
    const rows = await ww.analyze();
    expect(rows.map((r) => r.svd_route)).toEqual(['gram', 'gram+lu', 'gesdd']);
    expect(ww.lastRun!.routes).toEqual({ gram: 1, 'gram+lu': 1, gesdd: 1 });
    expect(ww.lastRun!.fallbacks).toEqual([{ layer_id: 3, name: 'small', reason: expect.stringMatching(/small/) }]);
    const accurate = await ww.analyze({ svd_method: 'accurate' });
    expect(accurate.map((r) => r.svd_route)).toEqual(['gesdd', 'gesdd', 'gesdd']);
    expect(ww.lastRun!.fallbacks).toEqual([]);
    // same columns within the parity tolerances
    for (let i = 0; i < rows.length; i++) {
      for (const c of ['alpha', 'D', 'xmin', 'sv_min', 'sv_max', 'norm', 'entropy', 'log_alpha_norm', 'stable_rank']) {
        const a = rows[i]![c] as number;
        const b = accurate[i]![c] as number;
        expect(Math.abs(a - b) / Math.abs(b), `${String(rows[i]!.name)} ${c}`).toBeLessThan(1e-9);
      }
      for (const c of ['rank_loss', 'matrix_rank', 'weak_rank_loss', 'num_pl_spikes']) expect(rows[i]![c]).toBe(accurate[i]![c]);
    }
  });

  it('inverse and intra always take ?gesdd', async () => {
    const inv = await new WeightWatcher(model()).analyze({ inverse: true });
    expect(inv.every((r) => r.svd_route === 'gesdd')).toBe(true);
    const intra = await new WeightWatcher(model().slice(0, 2)).analyze({ intra: true, seed: 1 });
    expect(intra.every((r) => r.svd_route === 'gesdd')).toBe(true);
  });

  it('an eigenvalue within the error bound of a threshold sends the layer to ?gesdd', async () => {
    const ww = new WeightWatcher(model().slice(0, 1));
    const esd = await ww.getESD(1);
    const tolerance = esd[10]!; // weak_rank_loss counts λ < tolerance: this one sits on the threshold
    const rows = await ww.analyze({ tolerance });
    expect(rows[0]!.svd_route).toBe('gesdd');
    expect(ww.lastRun!.fallbacks![0]!.reason).toMatch(/weak_rank_loss tolerance/);
    const accurate = await ww.analyze({ tolerance, svd_method: 'accurate' });
    expect(rows[0]!.weak_rank_loss).toBe(accurate[0]!.weak_rank_loss);
  });

  it('stored BF16 tensors (converted natively) give the rows of their float32 decoding', async () => {
    const w = gaussian(200, 64, 9);
    const bits = new Uint16Array(w.length);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const widened = new Float32Array(w.length);
    for (let k = 0; k < w.length; k++) {
      f[0] = w[k]!;
      bits[k] = u[0]! >>> 16;
      u[0] = bits[k]! << 16;
      widened[k] = f[0]!;
    }
    const a = await new WeightWatcher([{ name: 'x.weight', shape: [200, 64], dtype: 'BF16', data: bits }]).analyze();
    const b = await new WeightWatcher([{ name: 'x.weight', shape: [200, 64], data: widened }]).analyze();
    expect(a).toEqual(b);
  });

  it('threads above the core count are capped, with a notice', async () => {
    const cores = availableParallelism();
    const ww = new WeightWatcher(formulaDict());
    await ww.analyze({ threads: cores + 62 });
    expect(ww.lastRun!.threads).toMatchObject({ budget: cores, notice: expect.stringMatching(/more than the \d+ cores/) });
    await ww.analyze({ threads: 1 });
    expect(ww.lastRun!.threads).toMatchObject({ budget: 1, concurrency: 1, blasThreads: 1 });
    expect(ww.lastRun!.threads!.notice).toBeUndefined();
  });
});

describe('thread policy', () => {
  const layer = (rows: number, cols: number, tensorBytes = rows * cols * 2) => ({ rows, cols, slices: 1, tensorBytes });
  const machine = { cores: 64, memory: 64 * 2 ** 30, pool: 68 };

  it('one BLAS thread per layer while layers can fill the cores', () => {
    expect(threadPlan(Array(200).fill(layer(4096, 4096)), null, machine)).toMatchObject({
      budget: 64,
      concurrency: 64,
      blasThreads: 1,
      limitedBy: 'cores',
    });
    expect(threadPlan(Array(200).fill(layer(4096, 4096)), 16, machine)).toMatchObject({ budget: 16, concurrency: 16, blasThreads: 1 });
  });

  it('BLAS threads take the cores no layer can use: few layers, memory, threadpool', () => {
    expect(threadPlan(Array(4).fill(layer(4096, 4096)), null, machine)).toMatchObject({
      concurrency: 4,
      blasThreads: 16,
      limitedBy: 'layers',
    });
    const big = layer(4096, 11008);
    const perLayer = layerBytes(big);
    expect(perLayer).toBeGreaterThan(8 * 4096 * 11008);
    const plan = threadPlan(Array(200).fill(big), null, { ...machine, memory: 10 * perLayer });
    // memory caps the layers in flight; the BLAS thread count stays what the layers and cores give
    expect(plan).toMatchObject({ concurrency: 9, blasThreads: 1, limitedBy: 'memory', prefetch: 0 });
    expect(threadPlan(Array(200).fill(layer(512, 512)), null, { ...machine, pool: 4 })).toMatchObject({
      concurrency: 3,
      blasThreads: 21,
      limitedBy: 'threadpool',
    });
  });

  it('never more threads than cores', () => {
    expect(threadBudget(64, 2)).toEqual({ budget: 2, notice: 'threads=64 is more than the 2 cores of this machine: using 2' });
    expect(threadBudget(null, 8)).toEqual({ budget: 8 });
    for (const t of [1, 2, 3, 7, 64, 1000]) {
      const p = threadPlan(Array(10).fill(layer(768, 3072)), t, { cores: 8, memory: 2 ** 34, pool: 12 });
      expect(p.concurrency * p.blasThreads).toBeLessThanOrEqual(Math.min(t, 8));
    }
  });
});
