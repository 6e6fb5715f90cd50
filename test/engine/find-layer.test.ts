/** getESD / getWeights of a layer without a weight matrix: the error names the tensor and the layers nearby that have one. */
import { describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { corpus, haveCorpus, skipReason } from '../helpers/corpus.js';

describe.skipIf(!haveCorpus)(`getESD of a norm layer (${haveCorpus ? 'minigpt' : skipReason})`, () => {
  it('GPT-2 layout: id 3 is h.0.ln_2, named in the error with the ids that have a matrix', async () => {
    const ww = new WeightWatcher(corpus('minigpt/big-data/model.safetensors'));
    const e = await ww.getESD(3).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WeightWatcherError);
    const err = e as WeightWatcherError;
    expect(err.code).toBe('E_SHAPE');
    expect(err.tensor).toBe('h.0.ln_2.weight');
    expect(err.message).toContain("layer 3 is 'h.0.ln_2.weight'");
    expect(err.message).toContain('1 (h.0.attn.c_proj), 4 (h.0.mlp.c_fc)');
    // Every id the message offers works.
    for (const id of [...err.message.matchAll(/(\d+) \(h\./g)].map((m) => Number(m[1])))
      expect((await ww.getESD(id)).length).toBeGreaterThan(0);
  });
});
