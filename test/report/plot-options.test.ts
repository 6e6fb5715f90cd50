/**
 * analyze --plot-figures / --plot-format / --plot-scale and compare --plot-format / --plot-scale:
 * exactly the files asked for at the size asked for, figure selection in the report, and usage
 * errors (exit 2) that list the valid names.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { selectFigures, selectFormats, DEPTH_COLUMNS } from '../../src/report/plots/figures.js';
import { LAYER_FIGURES } from '../../src/report/plots/layer.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { dense } from '../helpers/formula.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-plot-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const model = writeSafetensors(join(dir, 'model.safetensors'), [
  { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
  { name: 'fc2.weight', shape: [60, 40], data: dense(60, 40, 0.2, 0.1) },
]);

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough(),
    stderr = new PassThrough();
  let out = '',
    err = '';
  stdout.on('data', (d) => (out += String(d)));
  stderr.on('data', (d) => (err += String(d)));
  const code = await main(argv, { stdout: stdout as unknown as NodeJS.WriteStream, stderr: stderr as unknown as NodeJS.WriteStream });
  return { code, out, err };
}

const listing = (d: string) => readdirSync(d).sort();

/** Width and height from a PNG's IHDR, and the same from the SVG's root element. */
const pngSize = (file: string) => {
  const b = readFileSync(file);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
};
const svgSize = (file: string) => {
  const m = /<svg[^>]* width="([\d.]+)" height="([\d.]+)"/.exec(readFileSync(file, 'utf8'));
  return [Number(m![1]), Number(m![2])];
};

describe('figure and format selection', () => {
  it('parses figure lists in canonical order and formats', () => {
    expect(selectFigures(['alpha-depth', 'esd', 'ks-vs-xmin', 'esd'])).toEqual({
      layer: ['esd', 'ks-vs-xmin'],
      histogram: false,
      depthColumns: ['alpha'],
    });
    expect(selectFigures(['alpha-hist', ' stable_rank-depth '])).toEqual({ layer: [], histogram: true, depthColumns: ['stable_rank'] });
    expect(selectFormats('both')).toEqual(['svg', 'png']);
    expect(selectFormats('SVG')).toEqual(['svg']);
    expect(() => selectFormats('gif')).toThrow(/unknown plot format 'gif'; valid: svg, png, both/);
    expect(() => selectFigures(['esd', 'bogus', 'alpah-depth'])).toThrow(
      /unknown figures 'bogus', 'alpah-depth'; valid: layer figures: esd, esd-linear/,
    );
    expect(() => selectFigures([''])).toThrow(/no figures named/);
    expect(DEPTH_COLUMNS).toContain('log_spectral_norm');
  });
});

describe('analyze --plot-figures / --plot-format', () => {
  it('writes exactly the named figures in the named format', async () => {
    const d = join(dir, 'svg-only');
    const r = await run('analyze', model, '--plot', d, '--plot-figures', 'esd,alpha-depth', '--plot-format', 'svg', '-q');
    expect(r.code, r.err).toBe(0);
    expect(listing(d)).toEqual(['layer0.esd.svg', 'layer1.esd.svg', 'model.alpha-depth.svg']);
    expect(r.err).toContain('wrote 3 plot files');
  });

  it('png only: no SVG files', async () => {
    const d = join(dir, 'png-only');
    const r = await run('analyze', model, '--plot', d, '--plot-figures', 'ks-vs-xmin,alpha-hist', '--plot-format', 'png', '-q');
    expect(r.code, r.err).toBe(0);
    expect(listing(d)).toEqual(['layer0.ks-vs-xmin.png', 'layer1.ks-vs-xmin.png', 'model.alpha-hist.png']);
    expect(readFileSync(join(d, 'layer0.ks-vs-xmin.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('default: every figure the data allows, both formats', async () => {
    const d = join(dir, 'default');
    expect((await run('analyze', model, '--plot', d, '-q')).code).toBe(0);
    const want = [0, 1]
      .flatMap((id) => LAYER_FIGURES.slice(0, 5).map((f) => `layer${id}.${f}`))
      .concat(['model.alpha-hist', 'model.alpha-depth', 'model.log_spectral_norm-depth']);
    expect(listing(d)).toEqual(want.flatMap((w) => [`${w}.png`, `${w}.svg`]).sort());
  });

  it('--plot-scale sets the PNG size in SVG pixels (default 2×)', async () => {
    const d1 = join(dir, 'scale-1');
    const d3 = join(dir, 'scale-1.5');
    const d2 = join(dir, 'scale-default');
    expect((await run('analyze', model, '--plot', d2, '--plot-figures', 'esd', '-q')).code).toBe(0);
    expect((await run('analyze', model, '--plot', d1, '--plot-figures', 'esd,alpha-hist', '--plot-scale', '1', '-q')).code).toBe(0);
    expect((await run('analyze', model, '--plot', d3, '--plot-figures', 'esd', '--plot-scale', '1.5', '-q')).code).toBe(0);
    const [w, h] = svgSize(join(d1, 'layer0.esd.svg'));
    expect(pngSize(join(d1, 'layer0.esd.png'))).toEqual([w, h]);
    expect(pngSize(join(d1, 'model.alpha-hist.png'))).toEqual(svgSize(join(d1, 'model.alpha-hist.svg')));
    expect(pngSize(join(d3, 'layer0.esd.png'))).toEqual([Math.round(1.5 * w!), Math.round(1.5 * h!)]);
    expect(pngSize(join(d2, 'layer0.esd.png'))).toEqual([2 * w!, 2 * h!]);
  });

  it('model figures only: the analysis keeps no layers for plotting; the report has the chosen figures', async () => {
    const d = join(dir, 'model-only');
    const report = join(dir, 'model-only.html');
    const r = await run(
      'analyze',
      model,
      '--plot',
      d,
      '--report',
      report,
      '--plot-figures',
      'alpha-hist,stable_rank-depth',
      '--plot-format',
      'svg',
      '-q',
    );
    expect(r.code, r.err).toBe(0);
    expect(listing(d)).toEqual(['model.alpha-hist.svg', 'model.stable_rank-depth.svg']);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('data-figure="alpha-hist"');
    expect(html).toContain('data-figure="stable_rank-depth"');
    expect(html).not.toContain('data-figure="alpha-depth"');
    expect(html).toContain('No per-layer figures');
  });

  it('report with layer figures chosen', async () => {
    const report = join(dir, 'esd-only.html');
    expect((await run('analyze', model, '--report', report, '--plot-figures', 'esd', '-q')).code).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect((html.match(/<details class="layer/g) ?? []).length).toBe(2);
    expect((html.match(/1 figure<\/span>/g) ?? []).length).toBe(2);
    expect(html).not.toContain('data-figure="alpha-hist"');
  });

  it('bad names and formats are usage errors (exit 2) naming the valid ones, before any analysis', async () => {
    const d = join(dir, 'never');
    const cases: [string[], RegExp][] = [
      [
        ['--plot', d, '--plot-figures', 'esd,bogus'],
        /unknown figure 'bogus'; valid: layer figures: esd, esd-linear, esd-loglin, ks-vs-xmin, alpha-vs-xmin, esd-random, mp-fit, mp-fit-random; model figures: alpha-hist, <column>-depth/,
      ],
      [['--plot', d, '--plot-figures', 'nonsense-depth'], /unknown figure 'nonsense-depth'/],
      [['--plot', d, '--plot-format', 'gif'], /unknown plot format 'gif'; valid: svg, png, both/],
      [['--plot-figures', 'esd'], /--plot-figures needs --plot or --report/],
      [['--report', join(dir, 'r.html'), '--plot-format', 'svg'], /--plot-format needs --plot/],
      [['--plot', d, '--plot-scale', '0'], /--plot-scale must be > 0, got 0/],
      [['--plot', d, '--plot-scale', '9'], /--plot-scale must be ≤ 8, got 9/],
      [['--plot', d, '--plot-scale', 'big'], /--plot-scale expects a number, got 'big'/],
      [['--plot', d, '--plot-scale', '1', '--plot-format', 'svg'], /--plot-scale sets the size of the PNGs/],
      [['--report', join(dir, 'r.html'), '--plot-scale', '1'], /--plot-scale sets the size of the PNGs/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run('analyze', model, ...argv, '-q');
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
    expect(existsSync(d)).toBe(false);
  });

  it('help shows the options with their defaults', async () => {
    const r = await run('analyze', '--help');
    expect(r.out).toMatch(/--plot-figures LIST\s+figures for --plot and --report/);
    expect(r.out).toMatch(/--plot-format svg\|png\|both\s+file formats --plot writes .*\(default: both\)/);
  });
});

describe('compare --plot-format / --plot-scale', () => {
  it('writes only the chosen format next to the named file', async () => {
    const a = join(dir, 'cmp', 'x.png');
    mkdirSync(join(dir, 'cmp')); // output folders must exist: they are checked before the analysis
    const r = await run('compare', model, model, '--plot', a, '--plot-format', 'svg');
    expect(r.code, r.err).toBe(0);
    expect(listing(join(dir, 'cmp'))).toEqual(['x.svg']);
    expect((await run('compare', model, model, '--plot-format', 'svg')).code).toBe(2);
    expect((await run('compare', model, model, '--plot', a, '--plot-format', 'jpg')).err).toMatch(/valid: svg, png, both/);
  });

  it('--plot-scale sets the PNG size', async () => {
    mkdirSync(join(dir, 'cmp-scale'));
    const a = join(dir, 'cmp-scale', 'x.png');
    const r = await run('compare', model, model, '--plot', a, '--plot-scale', '1');
    expect(r.code, r.err).toBe(0);
    expect(pngSize(a)).toEqual(svgSize(join(dir, 'cmp-scale', 'x.svg')));
    expect((await run('compare', model, model, '--plot', a, '--plot-format', 'svg', '--plot-scale', '1')).err).toMatch(/--plot-scale sets/);
    expect((await run('compare', model, model, '--plot-scale', '1')).code).toBe(2);
  });
});
