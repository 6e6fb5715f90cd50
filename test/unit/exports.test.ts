/**
 * The package's entry points, as a user imports them (self-reference through package.json
 * "exports", from the built dist/): `import 'weightwatcher'` loads the analysis path only — not
 * vega, vega-lite, resvg, the plot or report modules, nor the optional heavy dependencies — and
 * `weightwatcher/plots` is the plot API (vega and resvg load on first render); `require()` of each
 * entry is the CommonJS build in dist-cjs/, with the same exports. Module loads are recorded by a resolve hook in a fresh
 * node process (test/helpers/module-trace-*.mjs, as test/sweep/lazy-load.test.ts).
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/corpus.js';
import { runTraced } from '../helpers/module-trace.js';

const built = existsSync(join(projectRoot, 'dist', 'index.js')) && existsSync(join(projectRoot, 'dist', 'plots.js'));
if (!built) console.warn('dist/ not built (npm run build): skipping the entry point tests');
const cjsBuilt = built && existsSync(join(projectRoot, 'dist-cjs', 'index.js'));
if (built && !cjsBuilt) console.warn('dist-cjs/ not built (npm run build:ts): skipping the CommonJS entry point tests');

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

  it("import 'weightwatcher/plots': the plot API; vega, vega-lite and resvg load on first render", () => {
    const { urls, exports } = load('weightwatcher/plots');
    expect(urls.some((u) => u.endsWith('/dist/plots.js'))).toBe(true);
    // Optional dependencies: importing the API loads none of them, so that a missing one is an
    // E_MISSING_DEPENDENCY at first use, not a failed import.
    expect(urls.filter((u) => HEAVY.test(u))).toEqual([]);
    for (const name of [
      'renderLayerPlots',
      'renderModelPlots',
      'svgToPng',
      'renderSvg',
      'loadPlotStack',
      'layerFigureSpecs',
      'createPlotRenderer',
      'AnalyzePlotWriter',
      'AnalyzeReportWriter',
      'selectFigures',
      'LAYER_FIGURES',
    ])
      expect(exports).toContain(name);
  });

  it('a render loads vega, vega-lite and resvg', () => {
    const script = `import { createRequire } from 'node:module';
import { renderSvg, svgToPng, layerFigureSpecs } from 'weightwatcher/plots';
const svg = await renderSvg({ mark: 'point', data: { values: [{ x: 1 }] }, encoding: { x: { field: 'x', type: 'quantitative' } } });
svgToPng(svg);
process.stdout.write(JSON.stringify({ cjs: Object.keys(createRequire(import.meta.url).cache), exports: [] }));`;
    const { stdout, esm } = runTraced(script);
    const urls = [...esm, ...(JSON.parse(stdout) as { cjs: string[] }).cjs.map((f) => pathToFileURL(f).href)];
    expect(urls.some((u) => /\/node_modules\/vega\//.test(u))).toBe(true);
    expect(urls.some((u) => /\/node_modules\/vega-lite\//.test(u))).toBe(true);
    expect(urls.some((u) => /\/node_modules\/@resvg\/resvg-js\//.test(u))).toBe(true);
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

  it.skipIf(!cjsBuilt)('require() of each entry: the CommonJS build (dist-cjs/), with the same exports as import', () => {
    for (const entry of ['weightwatcher', 'weightwatcher/plots', 'weightwatcher/sweep']) {
      const script = `const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);
const cjs = Object.keys(require(process.env.WW_ENTRY)).filter((k) => k !== '__esModule').sort();
const esm = Object.keys(await import(process.env.WW_ENTRY)).sort();
process.stdout.write(JSON.stringify({ file: require.resolve(process.env.WW_ENTRY), cjs, esm }));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: projectRoot,
        encoding: 'utf8',
        env: { ...process.env, WW_ENTRY: entry },
      });
      const { file, cjs, esm } = JSON.parse(out) as { file: string; cjs: string[]; esm: string[] };
      expect(file, entry).toContain(`${join(projectRoot, 'dist-cjs')}/`);
      expect(cjs, entry).toEqual(esm);
    }
    // The CommonJS build is read as CommonJS (dist-cjs/package.json), declarations included.
    expect(JSON.parse(readFileSync(join(projectRoot, 'dist-cjs', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    for (const d of ['index.d.ts', 'plots.d.ts', join('sweep', 'index.d.ts')])
      expect(existsSync(join(projectRoot, 'dist-cjs', d)), d).toBe(true);
  });

  it.skipIf(!cjsBuilt)("require('weightwatcher') analyses a model with the native addon, and loads no optional package", () => {
    const script = `const ww = require('weightwatcher');
const data = new Float32Array(80 * 40).map((_, i) => Math.sin(i * 12.9898) * 0.1);
new ww.WeightWatcher([{ name: 'fc.weight', shape: [80, 40], data }]).analyze().then((rows) => {
  const heavy = Object.keys(require.cache).filter((f) => ${HEAVY.toString()}.test(f));
  process.stdout.write(JSON.stringify({ alpha: rows[0].alpha, heavy }));
});`;
    const out = execFileSync(process.execPath, ['--input-type=commonjs', '-e', script], { cwd: projectRoot, encoding: 'utf8' });
    const { alpha, heavy } = JSON.parse(out) as { alpha: number; heavy: string[] };
    expect(alpha).toBeGreaterThan(0);
    expect(heavy).toEqual([]);
  });
});
