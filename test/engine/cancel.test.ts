/**
 * Cancellation (engine/scheduler.ts): `signal` and `timeoutMs` on analyze, describe, getESD,
 * distances, smooth/sharpen and sweep. After an abort no new layer starts; the call rejects with an
 * error whose name is AbortError and code E_ABORTED, saying how far it got; nothing is half-written.
 * (How soon it rejects is measured by bench/concurrent.bench.ts, not asserted here.)
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AbortedError, WeightWatcher, type InMemoryTensor } from '../../src/index.js';
import { Random } from '../../src/shared/random.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-cancel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensors(layers: number, rows: number, cols: number, seed = 1): InMemoryTensor[] {
  const rng = new Random(seed);
  return Array.from({ length: layers }, (_, l) => {
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < data.length; i++) data[i] = rng.next() - 0.5;
    return { name: `block${l}.weight`, shape: [rows, cols], data };
  });
}

const MANY = tensors(40, 300, 200);
const file = writeSafetensors(
  join(dir, 'model.safetensors'),
  tensors(12, 160, 120, 2).map((t) => ({ name: t.name, shape: [...t.shape], data: t.data as Float32Array })),
);

async function rejection(p: Promise<unknown>): Promise<AbortedError> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(r, 'the call should have been cancelled').toBeInstanceOf(AbortedError);
  return r as AbortedError;
}

describe('cancellation', () => {
  it('an aborted signal rejects at once, with name AbortError and code E_ABORTED', async () => {
    const ww = new WeightWatcher(MANY);
    const signal = AbortSignal.abort();
    for (const p of [
      ww.analyze({ signal }),
      ww.describe({ signal }),
      ww.getESD(0, { signal }),
      ww.distances(MANY, { signal, method: 'cka' }),
      new WeightWatcher(file).smooth(join(dir, 'never.safetensors'), { signal }),
      new WeightWatcher(file).sharpen(join(dir, 'never2.safetensors'), { signal }),
    ]) {
      const e = await rejection(p);
      expect(e.name).toBe('AbortError');
      expect(e.code).toBe('E_ABORTED');
    }
    expect(existsSync(join(dir, 'never.safetensors'))).toBe(false);
  });

  it('after an abort no new layer starts: only the layers in flight finish, and the error says how far it got', async () => {
    const c = new AbortController();
    let doneAtAbort = -1;
    let finished = 0;
    const p = new WeightWatcher(MANY).analyze({
      signal: c.signal,
      onProgress: (pr) => {
        finished = pr.done;
        if (pr.done === 3) {
          doneAtAbort = pr.done;
          c.abort();
        }
      },
    });
    const e = await rejection(p);
    expect(doneAtAbort).toBe(3);
    // the layers already in flight when the abort came may finish; none started after it
    expect(finished - doneAtAbort).toBeLessThanOrEqual(4);
    expect(e.total).toBe(40);
    expect(e.done).toBe(finished);
    expect(e.message).toMatch(new RegExp(`aborted after ${finished} of 40 layers`));
  });

  it('timeoutMs cancels the call with the same error, saying it timed out', async () => {
    const e = await rejection(new WeightWatcher(MANY).analyze({ timeoutMs: 30 }));
    expect(e).toMatchObject({ name: 'AbortError', code: 'E_ABORTED', timedOut: true });
    expect(e.message).toMatch(/^timed out after 30 ms/);
  });

  it('a call that ends before its timeout is not affected', async () => {
    const rows = await new WeightWatcher(tensors(2, 40, 30)).analyze({ timeoutMs: 600_000 });
    expect(rows).toHaveLength(2);
  });

  it('bad signal or timeoutMs values are usage errors', async () => {
    const ww = new WeightWatcher(MANY);
    for (const bad of [{ timeoutMs: 0 }, { timeoutMs: -5 }, { timeoutMs: Number.NaN }, { signal: {} as AbortSignal }])
      await expect(ww.describe(bad)).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('an aborted call does not disturb another call running at the same time', async () => {
    const c = new AbortController();
    const other = new WeightWatcher(tensors(6, 120, 80, 9));
    const alone = await other.analyze({ seed: 1 });
    const cancelled = new WeightWatcher(MANY).analyze({ signal: c.signal, onProgress: () => c.abort() });
    const together = other.analyze({ seed: 1 });
    await rejection(cancelled);
    expect(await together).toEqual(alone);
  });

  it('smooth: an abort mid-way leaves no output and no temporary file', async () => {
    const out = join(dir, 'smoothed.safetensors');
    const c = new AbortController();
    const e = await rejection(
      new WeightWatcher(file).smooth(out, {
        method: 'svd',
        percent: 0.5,
        signal: c.signal,
        onProgress: (p) => {
          if (p.done === 2) c.abort();
        },
      }),
    );
    expect(e.code).toBe('E_ABORTED');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('smoothed'))).toEqual([]);
  });

  it('sweep (local): an aborted signal rejects with the AbortError, not a failed model', async () => {
    const { sweep } = await import('../../src/sweep/sweep.js');
    const e = await rejection(sweep([file], { db: ':memory:', signal: AbortSignal.abort() }));
    expect(e.code).toBe('E_ABORTED');
  });

  it('distances: an abort stops between pairs', async () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 20);
    const e = await rejection(new WeightWatcher(MANY).distances(tensors(40, 300, 200, 5), { method: 'cka', signal: c.signal }));
    expect(e.total).toBe(40);
    expect(e.done).toBeLessThan(40);
  });
});
