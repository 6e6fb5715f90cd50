/** What the addon's pass counters (native/core/spectrum.h) moved by since `before`, and BF16 test data. */
import { spectrumCounters, type SpectrumCounters } from '../../src/native/binding.js';

export function countersSince(before: SpectrumCounters): SpectrumCounters {
  const now = spectrumCounters();
  return {
    layerCalls: now.layerCalls - before.layerCalls,
    finishes: now.finishes - before.finishes,
    liveHandles: now.liveHandles - before.liveHandles,
    gramPasses: now.gramPasses - before.gramPasses,
    refineCopies: now.refineCopies - before.refineCopies,
    gesddCopies: now.gesddCopies - before.gesddCopies,
  };
}

/** BF16 bits of `w` (truncated), as a model file stores them: a tensor the addon converts from its bytes. */
export function bf16Bits(w: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from(w, (v) => {
    f[0] = v;
    return u[0]! >>> 16;
  });
}
