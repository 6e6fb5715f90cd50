/**
 * One native layer call per row unit (issue 18): the checks that need the power-law fit
 * (engine/route-guard.ts columnsGuard) run as the `verify` step of that call and can only reject the
 * Gram values; the layer then takes its last rung natively (?gesdd through the call's handle), with
 * the reason recorded. Every handle is released, on every path: a run, an abort.
 */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, type InMemoryTensor } from '../../src/index.js';
import { spectrumCounters } from '../../src/native/binding.js';
import { bf16Bits, countersSince } from '../helpers/native-counters.js';
import { Random } from '../../src/shared/random.js';

function gaussian(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from(
    { length: rows * cols },
    () => 0.02 * Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next()),
  );
}

// Tall, with one column scaled by 1e-4: λmin/λmax ≈ 1e-9, so the layer stays on a Gram route
// natively (σmin refined by QR, rank certain), but a failed fit (alpha = -1: xmax drops more than
// half of the eigenvalues) makes log_alpha_norm = log Σλ⁻¹ hang on λmin, which the Gram values do
// not give to its tolerance: columnsGuard rejects them after the fit.
const weak = gaussian(400, 100, 11);
for (let i = 0; i < 400; i++) weak[i * 100] = weak[i * 100]! * 1e-4;
const stored: InMemoryTensor[] = [{ name: 'weak.weight', shape: [400, 100], dtype: 'BF16', data: bf16Bits(weak) }];

describe('the fit-dependent check inside the one layer call', () => {
  it('a rejected layer is finished natively: one call, the Gram values not recomputed, rows bit-identical to accurate', async () => {
    const ww = new WeightWatcher(stored);
    const before = spectrumCounters();
    const rows = await ww.analyze({ xmax: 90 });
    expect(rows[0]!.svd_route).toBe('gesdd');
    expect(ww.lastRun!.fallbacks).toEqual([{ layer_id: 1, name: 'weak', reason: 'log_alpha_norm is sensitive to the small eigenvalues' }]);
    // one crossing; each rung read the stored BF16 bytes once: the Gram (+ the QR refinement of
    // σmin), then the ?gesdd working copy — the same one an accurate run makes
    expect(countersSince(before)).toEqual({ layerCalls: 1, finishes: 1, liveHandles: 0, gramPasses: 1, refineCopies: 1, gesddCopies: 1 });
    const mid = spectrumCounters();
    const accurate = await ww.analyze({ xmax: 90, svd_method: 'accurate' });
    expect(countersSince(mid)).toEqual({ layerCalls: 1, finishes: 0, liveHandles: 0, gramPasses: 0, refineCopies: 0, gesddCopies: 1 });
    expect(rows).toEqual(accurate);
  });

  it('without the failed fit the same layer keeps its Gram values, fitted once', async () => {
    const before = spectrumCounters();
    const rows = await new WeightWatcher(stored).analyze();
    expect(rows[0]!.svd_route).toBe('gram+qr');
    expect(countersSince(before)).toEqual({ layerCalls: 1, finishes: 0, liveHandles: 0, gramPasses: 1, refineCopies: 1, gesddCopies: 0 });
  });

  it('analyze makes one layer call per row unit and releases every handle', async () => {
    const model: InMemoryTensor[] = [
      { name: 'a.weight', shape: [300, 120], data: gaussian(300, 120, 1) },
      { name: 'b.weight', shape: [150, 150], data: gaussian(150, 150, 2) },
      { name: 'conv.weight', shape: [16, 8, 3, 3], data: gaussian(16 * 8, 9, 3) },
    ];
    for (const options of [{}, { pool: false }, { svd_method: 'accurate' as const }, { mp_fit: true, detX: true }]) {
      const before = spectrumCounters();
      const rows = await new WeightWatcher(model).analyze(options);
      const d = countersSince(before);
      expect(d.layerCalls, JSON.stringify(options)).toBe(rows.length);
      expect(d.finishes).toBe(0);
      expect(d.liveHandles).toBe(0);
    }
  });

  it('an aborted run leaves no handle behind', async () => {
    const many: InMemoryTensor[] = Array.from({ length: 24 }, (_, l) => ({
      name: `l${l}.weight`,
      shape: [200, 120],
      data: gaussian(200, 120, 100 + l),
    }));
    const before = spectrumCounters();
    const c = new AbortController();
    const run = new WeightWatcher(many).analyze({
      signal: c.signal,
      onProgress: (p) => {
        if (p.done === 2) c.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'E_ABORTED' });
    const d = countersSince(before);
    expect(d.layerCalls).toBeGreaterThanOrEqual(2);
    expect(d.layerCalls).toBeLessThan(24);
    expect(d.liveHandles).toBe(0);
  });
});
