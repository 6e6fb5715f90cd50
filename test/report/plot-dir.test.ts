/**
 * A reused `--plot DIR` (issue 20, part 6): the folder holds the figures of one run. A finished run
 * replaces the figure files of an earlier one (and removes those it did not write); a run that does
 * not finish leaves the earlier figures as they were; other files are never touched; no staging
 * folder is left behind.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeightWatcher } from '../../src/index.js';
import { writeAnalyzePlots } from '../../src/cli/plot-commands.js';
import { AnalyzePlotWriter, PLOT_FILE } from '../../src/report/plots/writer.js';
import { createPlotRenderer } from '../../src/report/plots/pool.js';
import { selectFigures } from '../../src/report/plots/figures.js';

const INIT = '/work/shared/corpus/minigpt/init/model.safetensors';
const HAVE = existsSync(INIT);
if (!HAVE) console.warn(`[plot folder test skipped] no ${INIT}`);

describe('the plot file pattern', () => {
  it('matches the writer’s figure names and nothing else', () => {
    for (const n of ['layer0.esd.svg', 'layer12_3.mp-fit-random.png', 'model.alpha-hist.svg', 'model.log_spectral_norm-depth.png'])
      expect(PLOT_FILE.test(n), n).toBe(true);
    for (const n of ['notes.txt', 'layer0.esd.svg.bak', 'mylayer0.esd.svg', 'model.svg', 'layerx.esd.png', '.ww-plots-abc'])
      expect(PLOT_FILE.test(n), n).toBe(false);
  });
});

describe.skipIf(!HAVE)('a reused --plot DIR', () => {
  let ww: WeightWatcher;
  let dir: string;
  const figures = selectFigures(['esd', 'alpha-hist']);

  beforeAll(async () => {
    ww = new WeightWatcher(INIT);
    await ww.analyze({ keep_evals: true });
    dir = mkdtempSync(join(tmpdir(), 'ww-plotdir-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a finished run replaces the earlier figures and removes the stale ones; other files stay', async () => {
    writeFileSync(join(dir, 'layer99.esd.svg'), 'stale: a layer this model does not have');
    writeFileSync(join(dir, 'model.alpha-depth.png'), 'stale: a figure this run does not draw');
    writeFileSync(join(dir, 'layer0.esd.svg'), 'old content');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const files = await writeAnalyzePlots(dir, ww, { formats: ['svg'], figures, workers: 0 });
    const names = readdirSync(dir).sort();
    expect(names).not.toContain('layer99.esd.svg');
    expect(names).not.toContain('model.alpha-depth.png');
    expect(readFileSync(join(dir, 'layer0.esd.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]); // no staging folder left
    expect(names.filter((n) => PLOT_FILE.test(n)).sort()).toEqual(files.map((f) => f.slice(dir.length + 1)).sort());
    expect(names).toContain('model.alpha-hist.svg');
  });

  it('a run that does not finish leaves the earlier figures as they were', async () => {
    const before = new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
    const renderer = createPlotRenderer({ workers: 0 });
    const writer = await AnalyzePlotWriter.create({ renderer, dir, formats: ['svg'], figures: selectFigures(['esd-linear']) });
    try {
      for (const layer of ww.getLayerResults().slice(0, 3)) await writer.onLayer(layer);
      // interrupted here: no finish(); the CLI's close() disposes the writer
    } finally {
      await writer.dispose();
      await renderer.close();
    }
    const after = new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), 'utf8')]));
    expect(after).toEqual(before);
  });
});
