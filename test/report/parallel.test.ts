/**
 * The parallel renderer (worker threads, src/report/plots/pool.ts + render-worker.ts) gives the
 * bytes the sequential, in-process renderer gives: figure by figure, and end to end through the
 * built CLI (--plot files and the --report page). Workers run the built JavaScript, so these
 * tests use dist/ (npm run build).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { WeightWatcher } from '../../src/index.js';
import { layerFigureSpecs } from '../../src/report/plots/layer.js';
import type { VlSpec } from '../../src/report/plots/render.js';
import { corpus, haveCorpus, projectRoot, skipReason } from '../helpers/corpus.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'dist', 'cli', 'main.js');
const poolModule = join(projectRoot, 'dist', 'report', 'plots', 'pool.js');
const built = existsSync(cli) && existsSync(poolModule);
if (!built) console.warn('dist/ not built (npm run build): skipping the worker-thread renderer tests');
if (!haveCorpus) console.warn(skipReason);

type Pool = typeof import('../../src/report/plots/pool.js');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ww-parallel-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!built || !haveCorpus)('worker-thread renderer', () => {
  let specs: VlSpec[];
  beforeAll(async () => {
    const ww = new WeightWatcher(corpus('minigpt/big-data/model.safetensors'));
    await ww.analyze({ keep_evals: true, layers: [1, 4, 5] });
    specs = ww.getLayerResults().flatMap((l) => Object.values(layerFigureSpecs(l)).filter((s): s is VlSpec => s !== undefined));
  });

  it('renders every figure to the same SVG and PNG bytes as the in-process renderer', async () => {
    const { createPlotRenderer } = (await import(poolModule)) as Pool;
    const pool = createPlotRenderer({ workers: 2 });
    const inline = createPlotRenderer({ workers: 0 });
    try {
      expect(pool.workers).toBe(2);
      expect(inline.workers).toBe(0);
      const [par, seq] = await Promise.all([
        Promise.all(specs.map((s) => pool.render(s, { png: true }))),
        Promise.all(specs.map((s) => inline.render(s, { png: true }))),
      ]);
      expect(par.length).toBe(15);
      for (let i = 0; i < specs.length; i++) {
        expect(par[i]!.svg, `figure ${i}`).toBe(seq[i]!.svg);
        expect(Buffer.from(par[i]!.png!).equals(Buffer.from(seq[i]!.png!)), `png ${i}`).toBe(true);
      }
    } finally {
      await Promise.all([pool.close(), inline.close()]);
    }
  }, 180_000);

  it('with png: true one of two workers only rasterises; the bytes are the same, and SVG-only figures still render', async () => {
    const { createPlotRenderer, rasterWorkerCount } = (await import(poolModule)) as Pool;
    expect([1, 2, 3, 4, 8].map((n) => rasterWorkerCount(n, true))).toEqual([0, 1, 2, 2, 5]);
    expect(rasterWorkerCount(8, false)).toBe(0);
    const pool = createPlotRenderer({ workers: 2, png: true });
    const inline = createPlotRenderer({ workers: 0 });
    try {
      const some = specs.slice(0, 6);
      const [par, seq] = await Promise.all([
        Promise.all(some.map((s, i) => pool.render(s, { png: i !== 2 }))),
        Promise.all(some.map((s, i) => inline.render(s, { png: i !== 2 }))),
      ]);
      for (let i = 0; i < some.length; i++) {
        expect(par[i]!.svg, `figure ${i}`).toBe(seq[i]!.svg);
        if (i === 2) expect(par[i]!.png).toBeUndefined();
        else expect(Buffer.from(par[i]!.png!).equals(Buffer.from(seq[i]!.png!)), `png ${i}`).toBe(true);
      }
      expect(pool.pending).toBe(0);
    } finally {
      await Promise.all([pool.close(), inline.close()]);
    }
  }, 180_000);

  it('a figure that fails to render rejects with E_INTERNAL; the pool goes on; closed pools refuse work', async () => {
    const { createPlotRenderer } = (await import(poolModule)) as Pool;
    const pool = createPlotRenderer({ workers: 1 });
    await expect(pool.render({ mark: 'no-such-mark', data: { values: [] } })).rejects.toMatchObject({
      code: 'E_INTERNAL',
      message: expect.stringMatching(/rendering a figure failed/),
    });
    expect((await pool.render(specs[0]!)).svg.startsWith('<svg')).toBe(true);
    expect(pool.pending).toBe(0);
    await pool.close();
    await expect(pool.render(specs[0]!)).rejects.toMatchObject({ code: 'E_INTERNAL' });
  }, 60_000);

  it('workers start whatever node flags the process was started with (V8 flags, --input-type -e)', async () => {
    const script = `const { createPlotRenderer } = await import(${JSON.stringify(pathToFileURL(poolModule).href)});
const r = createPlotRenderer({ workers: 1 });
const { svg, png } = await r.render({ mark: 'point', data: { values: [{ a: 1 }] }, encoding: { x: { field: 'a', type: 'quantitative' } } }, { png: true });
await r.close();
process.stdout.write(r.workers + ' ' + svg.slice(0, 4) + ' ' + png.length);`;
    const { stdout } = await run(process.execPath, ['--max-old-space-size=512', '--no-warnings', '--input-type=module', '-e', script]);
    expect(stdout).toMatch(/^1 <svg \d+$/);
  }, 60_000);

  it('analyze --plot and --report through the CLI: parallel = sequential, byte for byte', async () => {
    const model = corpus('minigpt/big-data/model.safetensors');
    const out: Record<string, { files: Map<string, Buffer>; report: string }> = {};
    for (const workers of ['0', '2']) {
      const d = join(tmp, `w${workers}`);
      await run(process.execPath, [cli, 'analyze', model, '--layers', '0,1,4,5,6', '--plot', d, '--report', join(d, 'report.html'), '-q'], {
        env: { ...process.env, WW_PLOT_WORKERS: workers },
      });
      const files = new Map(
        readdirSync(d)
          .filter((f) => f !== 'report.html')
          .map((f) => [f, readFileSync(join(d, f))]),
      );
      // The page says when it was made and how long the analysis took; nothing else may differ.
      const report = readFileSync(join(d, 'report.html'), 'utf8')
        .replace(/Generated [^ ]+ by/, 'Generated X by')
        .replace(/analysed in [\d.]+ s/, 'analysed in X s');
      out[workers] = { files, report };
    }
    const [seq, par] = [out['0']!, out['2']!];
    expect([...par.files.keys()].sort()).toEqual([...seq.files.keys()].sort());
    expect(seq.files.size).toBe(5 * 5 * 2 + 3 * 2);
    for (const [name, bytes] of seq.files) expect(par.files.get(name)!.equals(bytes), name).toBe(true);
    expect(par.report).toBe(seq.report);
  }, 300_000);
});
