/**
 * Plot templates (src/report/plots/template.ts, render.ts): a figure rendered from its cached
 * template is the same SVG, byte for byte, as the figure compiled on its own, for every figure
 * kind; figures of one kind share a template; a spec Vega-Lite cannot compile as a template is
 * rendered without one; a figure's bytes do not depend on what was rendered before.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { WeightWatcher } from '../../src/index.js';
import type { LayerResult } from '../../src/engine/layer.js';
import { layerFigureSpecs } from '../../src/report/plots/layer.js';
import { modelFigureSpecs } from '../../src/report/plots/model.js';
import { compareFigureSpec } from '../../src/report/plots/compare.js';
import { compileToVega, loadPlotStack, renderSvg, renderSvgFresh, type VlSpec } from '../../src/report/plots/render.js';
import { splitTemplate, usableTemplate } from '../../src/report/plots/template.js';
import { corpus, haveCorpus, skipReason } from '../helpers/corpus.js';

async function figures(model: string, options: object = {}): Promise<{ layers: readonly LayerResult[]; specs: [string, VlSpec][] }> {
  const ww = new WeightWatcher(model);
  await ww.analyze({ keep_evals: true, ...options });
  const specs: [string, VlSpec][] = [];
  for (const l of ww.getLayerResults())
    for (const [f, s] of Object.entries(layerFigureSpecs(l))) if (s) specs.push([`layer ${l.row.layer_id} ${f}`, s]);
  for (const [f, s] of Object.entries(modelFigureSpecs(ww.getDetails()!))) specs.push([`model ${f}`, s]);
  return { layers: ww.getLayerResults(), specs };
}

async function expectSameAsFresh(specs: [string, VlSpec][]): Promise<void> {
  for (const [name, spec] of specs) {
    const viaTemplate = await renderSvg(spec);
    expect(viaTemplate, name).toBe(await renderSvgFresh(spec));
  }
}

describe.skipIf(!haveCorpus)('figures from templates are the figures compiled on their own', () => {
  if (!haveCorpus) console.warn(skipReason);
  let big: Awaited<ReturnType<typeof figures>>;
  beforeAll(async () => {
    big = await figures(corpus('minigpt/big-data/model.safetensors'));
  });

  it('minigpt big-data: every layer figure and the model figures', async () => {
    expect(big.specs.length).toBe(18 * 5 + 3);
    await expectSameAsFresh(big.specs);
  }, 120_000);

  it('randomize and mp_fit figures (esd-random, mp-fit, mp-fit-random), pooled conv layers', async () => {
    const { specs } = await figures(corpus('synthetic/convnet.safetensors'), { randomize: true, mp_fit: true, seed: 3 });
    const kinds = new Set(specs.map(([n]) => n.split(' ').pop()));
    for (const k of ['esd-random', 'mp-fit', 'mp-fit-random']) expect(kinds).toContain(k);
    await expectSameAsFresh(specs);
  }, 120_000);

  it('the compare figure (concatenated panels, legend of model names)', async () => {
    const rows = big.layers.map((l) => l.row);
    const spec = compareFigureSpec(
      [
        { name: 'a', rows },
        { name: 'b', rows: rows.map((r) => ({ ...r, alpha: r.alpha * 1.1 })) },
      ],
      { table: [{ metric: 'alpha', values: [1, 2] }] },
    );
    await expectSameAsFresh([['compare', spec]]);
  });

  it('figures of one kind share a template; their parameters carry the layer-specific values', () => {
    const esd = big.specs.filter(([n]) => n.endsWith(' esd'));
    const [[nameA, specA], [nameB, specB]] = [esd[1]!, esd[2]!];
    const a = splitTemplate(specA),
      b = splitTemplate(specB);
    expect(a.key).toBe(b.key);
    const idA = nameA.split(' ')[1],
      idB = nameB.split(' ')[1];
    expect(Object.values(a.signals)).toContain(`Log-Log ESD for Layer ${idA}`);
    expect(Object.values(b.signals)).toContain(`Log-Log ESD for Layer ${idB}`);
    expect(a.subtitle?.value).toEqual((specA.title as { subtitle: unknown }).subtitle);
    expect(Object.keys(a.data).length).toBeGreaterThan(0);
    expect(a.key).not.toContain(`Layer ${idA}`);
    const kinds = new Set(big.specs.filter(([n]) => n.startsWith('layer')).map(([, s]) => splitTemplate(s).key));
    expect(kinds.size).toBeLessThan(20); // 90 layer figures, a handful of templates
  });

  it('a figure is the same bytes whatever was rendered before it', async () => {
    const [, first] = big.specs[0]!;
    const before = await renderSvg(first);
    for (const [, s] of big.specs.slice(5, 12)) await renderSvg(s);
    expect(await renderSvg(first)).toBe(before);
    expect(before).toContain('id="clip1"');
  });
});

describe('specs Vega-Lite cannot compile as templates', () => {
  // A text constant on a colour scale without an explicit domain: Vega-Lite copies the
  // expression into the domain instead of resolving it.
  const spec: VlSpec = {
    width: 100,
    height: 60,
    title: 'two series',
    layer: [
      {
        data: {
          values: [
            { x: 1, y: 2 },
            { x: 2, y: 3 },
          ],
        },
        mark: 'line',
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { datum: 'first' } },
      },
      {
        data: {
          values: [
            { x: 1, y: 1 },
            { x: 2, y: 1 },
          ],
        },
        mark: 'line',
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: { datum: 'second' } },
      },
    ],
  };

  it('are detected after compiling the template', async () => {
    await loadPlotStack(); // compileToVega is synchronous: vega-lite must be loaded
    expect(usableTemplate(compileToVega(splitTemplate(spec).template))).toBe(false);
  });

  it('render without a template, as compiled on their own', async () => {
    const svg = await renderSvg(spec);
    expect(svg).toBe(await renderSvgFresh(spec));
    expect(svg).toContain('second');
  });
});
