/**
 * One matrix, every core (issue 23): the package root's svdvals/svdvalsDetailed run on the process's
 * scheduler with the whole budget, alone (`exclusive`), which lets the Gram route run the band stage
 * of its two-stage eigensolver on one thread (native/core/gram.h, the split solver). The split
 * solver is checked against ?syevd_2stage, and the scheduler's exclusivity is a function of the
 * plan (threads, budget), never of timing.
 */
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { scheduler, setThreads, type Slot } from '../../src/engine/scheduler.js';
import { svdvals, svdvalsDetailed } from '../../src/index.js';
import { eigensolverFor, nativeInfo, setBlasThreads, svdvalsDetailed as nativeDetailed } from '../../src/native/binding.js';

afterEach(() => setThreads(null));

function gaussian(rows: number, cols: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return out;
}

describe('the split two-stage eigensolver', () => {
  it('is chosen from (n, threads, exclusive) only: from n = 4096 on two or more threads when the call runs alone', () => {
    for (const n of [64, 2048, 3072, 4095]) expect(eigensolverFor(n, 2, true)).toBe('syevd');
    for (const n of [4096, 8192, 16384]) for (const t of [2, 8]) expect(eigensolverFor(n, t, true)).toBe('syevd_2stage_split');
    // not alone: OpenBLAS's count is process-wide, so the band stage keeps the threads it has
    for (const n of [4096, 6143]) expect(eigensolverFor(n, 2, false)).toBe('syevd');
    expect(eigensolverFor(6144, 2, false)).toBe('syevd_2stage');
    // one thread: the split would be ?syevd_2stage itself
    expect(eigensolverFor(4096, 1, true)).toBe('syevd_2stage');
  });

  it("gives ?syevd_2stage's values bit for bit on one thread, within the error bound on two, and restores the thread count", async () => {
    const before = nativeInfo().blasThreads;
    try {
      const w = gaussian(700, 320, 5);
      setBlasThreads(1);
      const two1 = await nativeDetailed(w, 700, 320, { method: 'fast', forceGram: true, threads: 1, eigensolver: 'syevd_2stage' });
      const split1 = await nativeDetailed(w, 700, 320, { method: 'fast', forceGram: true, threads: 1, eigensolver: 'syevd_2stage_split' });
      expect(split1.eigensolver).toBe('syevd_2stage_split');
      expect(Array.from(split1.evals)).toEqual(Array.from(two1.evals));
      setBlasThreads(2);
      const split2 = await nativeDetailed(w, 700, 320, {
        method: 'fast',
        forceGram: true,
        threads: 2,
        exclusive: true,
        eigensolver: 'syevd_2stage_split',
      });
      expect(nativeInfo().blasThreads).toBe(2); // back to the call's count after the one-thread stage
      for (let i = 0; i < 320; i++) expect(Math.abs(split2.evals[i]! - two1.evals[i]!)).toBeLessThanOrEqual(two1.errorBound);
      // the whole fast route on top of it: the same route and sv within the bound as ?gesdd's
      const fast = await nativeDetailed(w, 700, 320, { method: 'fast', threads: 2, exclusive: true, eigensolver: 'syevd_2stage_split' });
      const acc = await nativeDetailed(w, 700, 320, { method: 'accurate', threads: 2 });
      expect(fast.route).toBe('gram');
      for (let i = 0; i < 320; i++) expect(Math.abs(fast.evals[i]! - acc.evals[i]!)).toBeLessThanOrEqual(fast.errorBound);
    } finally {
      setBlasThreads(before);
    }
  });
});

describe('svdvals at the package root: scheduled, alone with the whole budget', () => {
  it.skipIf(availableParallelism() < 2)(
    'a layer whose count takes more than half the budget runs alone: nothing starts beside it, even if the budget grows',
    async () => {
      setThreads(1);
      const call = scheduler.open();
      const seen: Slot[] = [];
      let exclusiveRunning = false;
      let startedBeside = 0;
      const job = (threads: number) =>
        call.run(threads, async (slot) => {
          seen.push(slot);
          if (exclusiveRunning) startedBeside++;
          if (slot.exclusive) exclusiveRunning = true;
          // room for more while it runs, but the exclusive layer keeps the process to itself
          if (slot.exclusive) setThreads(2);
          await new Promise((r) => setTimeout(r, 30));
          if (slot.exclusive) exclusiveRunning = false;
        });
      await Promise.all([job(1), job(1), job(1)]);
      call.close();
      expect(seen.map((s) => s.exclusive)).toEqual([true, false, false]); // one thread of a budget of two: not alone
      expect(startedBeside).toBe(0);
    },
  );

  it('one thread of a budget of two is not exclusive; two of two is', async () => {
    setThreads(2);
    const call = scheduler.open();
    expect(await call.run(1, async (s) => s.exclusive)).toBe(false);
    expect(await call.run(2, async (s) => s.exclusive)).toBe(true);
    call.close();
  });

  it('gives the addon call with the whole budget bit for bit, concurrent calls the same bits as one alone, and cancels', async () => {
    setThreads(2);
    const w = gaussian(300, 200, 9);
    const alone = await svdvalsDetailed(w, 300, 200, { method: 'fast' });
    const direct = await nativeDetailed(w, 300, 200, { method: 'fast', threads: 2, exclusive: true });
    expect(Array.from(alone.sv)).toEqual(Array.from(direct.sv));
    const many = await Promise.all(Array.from({ length: 8 }, () => svdvals(w, 300, 200, { method: 'fast' })));
    for (const sv of many) expect(Array.from(sv)).toEqual(Array.from(alone.sv));
    const ac = new AbortController();
    ac.abort();
    await expect(svdvals(w, 300, 200, { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'E_ABORTED' });
    await expect(svdvals(w, 300, 200, { threads: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
