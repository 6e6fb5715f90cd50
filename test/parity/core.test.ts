/**
 * Parity with Python WeightWatcher 0.7.5.5 (goldens in ../shared/goldens) for the core pipeline:
 * default analyze, describe and layer-selection option sets on every safetensors model.
 */
import { describe, expect, it } from 'vitest';
import { WeightWatcher, type AnalyzeOptions } from '../../src/index.js';
import { corpus, golden, goldenEvals, haveCorpus } from '../helpers/corpus.js';
import { compareEvals, compareRows, expectRoutes, routeCounts, summaryDelta } from '../helpers/compare.js';

interface Case {
  golden: string;
  model: string;
  set: string;
  options: AnalyzeOptions;
}

const cases: Case[] = [
  ...['minigpt-big-data', 'minigpt-small-data', 'minigpt-init'].map((g) => ({
    golden: g,
    model: `minigpt/${g.replace('minigpt-', '')}/model.safetensors`,
    set: 'default',
    options: {},
  })),
  { golden: 'minigpt-big-data-bf16', model: 'minigpt/big-data/model.bf16.safetensors', set: 'default', options: {} },
  { golden: 'minigpt-big-data-sharded', model: 'minigpt/big-data/sharded', set: 'default', options: {} },
  ...['gaussian', 'spiked', 'pareto', 'powerlaw_sv_bf16', 'convnet'].map((g) => ({
    golden: g,
    model: `synthetic/${g}.safetensors`,
    set: 'default',
    options: {},
  })),
  { golden: 'minigpt-big-data-bin', model: 'minigpt/big-data/pytorch_model.bin', set: 'default', options: {} },
  { golden: 'convnet-pt', model: 'synthetic/convnet_state_dict.pt', set: 'default', options: {} },
  { golden: 'minigpt-big-data-onnx', model: 'minigpt/big-data/model.onnx', set: 'default', options: {} },
  { golden: 'convnet-onnx', model: 'synthetic/convnet.onnx', set: 'default', options: {} },
  { golden: 'minigpt-big-data', model: 'minigpt/big-data/model.safetensors', set: 'layers_2_5_16', options: { layers: [2, 5, 16] } },
  { golden: 'minigpt-big-data', model: 'minigpt/big-data/model.safetensors', set: 'min_evals_200', options: { min_evals: 200 } },
  { golden: 'convnet', model: 'synthetic/convnet.safetensors', set: 'min_evals_50', options: { min_evals: 50 } },
  { golden: 'convnet', model: 'synthetic/convnet.safetensors', set: 'max_evals_200', options: { max_evals: 200 } },
];

// Both spectrum methods must reproduce every golden (docs/numerics.md): 'accurate' (?gesdd) and
// 'fast' (Gram eigenvalues behind the guard). With 'fast', every row of these models must actually
// have taken a Gram route, so the comparison tests the Gram values and not a ?gesdd fallback.
for (const method of ['fast', 'accurate'] as const) {
  describe.skipIf(!haveCorpus)(`parity with the reference: analyze, svd_method '${method}'`, () => {
    for (const c of cases) {
      it(`${c.golden} / ${c.set}`, async () => {
        const g = golden(c.golden, c.set);
        expect(g.meta.kwargs).toMatchObject(c.options);
        const ww = new WeightWatcher(corpus(c.model));
        const rows = await ww.analyze({ ...c.options, svd_method: method, keep_evals: true });
        const deltas = compareRows(rows, g);
        expectRoutes(rows, method);
        const ge = goldenEvals(c.golden, c.set);
        const evalDelta = ge ? compareEvals(ww.getLayerResults(), ge) : NaN;
        const sum = summaryDelta(ww.getSummary(), g.summary);
        const worst = Math.max(...Object.values(deltas));
        console.log(
          `parity ${method} ${c.golden}/${c.set}: ${rows.length} rows (${routeCounts(rows)}), worst column delta ${worst.toExponential(2)}, evals ${evalDelta.toExponential(2)}, summary ${sum.toExponential(2)}`,
        );
      });
    }
  });
}

describe.skipIf(!haveCorpus)('parity with the reference: describe', () => {
  for (const [name, model] of [
    ['minigpt-big-data', 'minigpt/big-data/model.safetensors'],
    ['convnet', 'synthetic/convnet.safetensors'],
  ] as const) {
    it(`${name} / describe`, async () => {
      const g = golden(name, 'describe');
      const rows = await new WeightWatcher(corpus(model)).describe();
      compareRows(rows, g);
    });
  }
});
