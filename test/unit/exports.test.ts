/**
 * The package's entry points, as a user imports them (self-reference through package.json
 * "exports", from the built dist/): `import 'weightwatcher'` loads the analysis path only — not
 * vega, vega-lite, resvg, the plot or report modules, nor the optional heavy dependencies — and
 * `weightwatcher/plots` is the plot API. Module loads are recorded by a resolve hook in a fresh
 * node process (test/helpers/module-trace-*.mjs, as test/sweep/lazy-load.test.ts).
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/corpus.js';
import { runTraced } from '../helpers/module-trace.js';

const built = existsSync(join(projectRoot, 'dist', 'index.js')) && existsSync(join(projectRoot, 'dist', 'plots.js'));
if (!built) console.warn('dist/ not built (npm run build): skipping the entry point tests');

/**
 * Import `entry` in a fresh node process with the shared module-trace hook (ESM resolutions) and
 * read require.cache (CommonJS loads); returns both and the entry's export names.
 */
function load(entry: string): { urls: string[]; exports: string[] } {
  const script = `import { createRequire } from 'node:module';
const mod = await import(process.env.WW_ENTRY);
process.stdout.write(JSON.stringify({ cjs: Object.keys(createRequire(import.meta.url).cache), exports: Object.keys(mod).sort() }));`;
  const { stdout, esm } = runTraced(script, { env: { WW_ENTRY: entry } });
  const { cjs, exports } = JSON.parse(stdout) as { cjs: string[]; exports: string[] };
  return { urls: [...esm, ...cjs.map((f) => pathToFileURL(f).href)], exports };
}

const HEAVY = /\/node_modules\/(vega|vega-[a-z-]+|d3-[a-z-]+|@resvg\/[^/]+|better-sqlite3|bullmq|ioredis|jsfive)\//;

describe.skipIf(!built)('package entry points', () => {
  it("import 'weightwatcher': the analysis API, without the plot stack", () => {
    const { urls, exports } = load('weightwatcher');
    expect(urls.some((u) => u.endsWith('/dist/index.js'))).toBe(true);
    expect(urls.filter((u) => HEAVY.test(u))).toEqual([]);
    expect(urls.filter((u) => /\/dist\/report\/(plots\/|html)/.test(u))).toEqual([]);
    for (const name of [
      'WeightWatcher',
      'svdvals',
      'svdvalsSync',
      'WeightWatcherError',
      'ERROR_CODES',
      'openModel',
      'renderLayerPlots',
      'renderModelPlots',
    ])
      expect(exports).toContain(name);
    expect(exports).not.toContain('svgToPng');
  });

  it("import 'weightwatcher/plots': the plot API, which loads vega, vega-lite and resvg", () => {
    const { urls, exports } = load('weightwatcher/plots');
    expect(urls.some((u) => u.endsWith('/dist/plots.js'))).toBe(true);
    expect(urls.some((u) => /\/node_modules\/vega\//.test(u))).toBe(true);
    expect(urls.some((u) => /\/node_modules\/vega-lite\//.test(u))).toBe(true);
    expect(urls.some((u) => /\/node_modules\/@resvg\/resvg-js\//.test(u))).toBe(true);
    for (const name of [
      'renderLayerPlots',
      'renderModelPlots',
      'svgToPng',
      'renderSvg',
      'layerFigureSpecs',
      'createPlotRenderer',
      'AnalyzePlotWriter',
      'AnalyzeReportWriter',
      'selectFigures',
      'LAYER_FIGURES',
    ])
      expect(exports).toContain(name);
  });

  it('the root renderLayerPlots loads the plot stack on first call and renders', () => {
    const script = `import { WeightWatcher, renderLayerPlots } from 'weightwatcher';
const data = new Float32Array(80 * 40).map((_, i) => Math.sin(i * 12.9898) * 0.1);
const ww = new WeightWatcher([{ name: 'fc.weight', shape: [80, 40], data }]);
await ww.analyze({ keep_evals: true });
const svgs = await renderLayerPlots(ww.getLayerResults()[0]);
process.stdout.write(Object.keys(svgs).join(',') + ' ' + svgs.esd.slice(0, 4));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: projectRoot, encoding: 'utf8' });
    expect(out).toBe('esd,esd-linear,esd-loglin,ks-vs-xmin,alpha-vs-xmin <svg');
  });
});
