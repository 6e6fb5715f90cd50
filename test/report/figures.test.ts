/**
 * Every figure kind drawn from the corpus (the gallery of scripts/gen-plot-docs.ts, which also makes
 * docs/plots.md's examples), kept as PNGs under test-results/figures/ for a reader to look at, and
 * checked for what a reader needs at a glance (issue 22):
 *
 * - legends show each entry's line style (the tail pdf solid, the power-law fit dashed, …);
 * - guide lines are grey and dashed, and no series is drawn in a status or guide colour;
 * - colour-blind safety, measured on the rendered pixels: each series colour is found in the
 *   raster, simulated as a deuteranope sees it (Machado et al. 2009, severity 1), and every pair of
 *   series that only colour tells apart (same dash) must stay at least MIN_DELTA_E = 12 apart in
 *   CIEDE2000 (≈ 5× a just-noticeable difference; the closest pair, sky blue vs reddish purple,
 *   is ≈ 15.7). The colours are matched within ±6 levels per channel, so the check does not depend
 *   on how a CPU's SIMD path rounds anti-aliased edges.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PLOTS_DOC, corpusAvailable, figureGallery, galleryMarkdown, type GalleryFigure } from '../../scripts/gen-plot-docs.js';
import { renderSvg, svgToPng } from '../../src/report/plots/render.js';
import { decodePng } from '../helpers/png-decode.js';
import { LAYER_FIGURES } from '../../src/report/plots/layer.js';
import {
  GUIDE_COLOR,
  HEATMAP_RAMP,
  MIN_DELTA_E,
  SERIES_COLORS,
  STATUS_COLORS,
  deuteranopeDeltaE,
  hexToRgb,
  type Rgb,
} from '../../src/report/plots/palette.js';

const OUT = resolve('test-results/figures');
const HAVE = corpusAvailable();
if (!HAVE) console.warn('[figure gallery skipped] no /work/shared/corpus/minigpt (init, small-data, big-data)');

interface Rendered {
  fig: GalleryFigure;
  svg: string;
  pixels: Uint8Array;
}

/** Mean colour of the opaque pixels within ±tol of `rgb` per channel, and how many there are. */
function findColour(pixels: Uint8Array, rgb: Rgb, tol = 6): { n: number; mean: Rgb } {
  let n = 0;
  const sum = [0, 0, 0];
  for (let i = 0; i < pixels.length; i += 4) {
    if (
      pixels[i + 3] === 255 &&
      Math.abs(pixels[i]! - rgb[0]) <= tol &&
      Math.abs(pixels[i + 1]! - rgb[1]) <= tol &&
      Math.abs(pixels[i + 2]! - rgb[2]) <= tol
    ) {
      n++;
      sum[0]! += pixels[i]!;
      sum[1]! += pixels[i + 1]!;
      sum[2]! += pixels[i + 2]!;
    }
  }
  return { n, mean: n ? [sum[0]! / n, sum[1]! / n, sum[2]! / n] : rgb };
}

/** Legend entries of an SVG: label → the symbol's stroke colour and dash. */
function legendEntries(svg: string): Map<string, { stroke: string; dash: string }> {
  const out = new Map<string, { stroke: string; dash: string }>();
  const re = /role-legend-symbol"[^>]*><path([^>]*)\/><\/g><g class="mark-text role-legend-label"[^>]*><text[^>]*>([^<]*)<\/text>/g;
  for (const m of svg.matchAll(re)) {
    const attrs = m[1]!;
    out.set(m[2]!, {
      stroke: /stroke="([^"]*)"/.exec(attrs)?.[1] ?? '',
      dash: /stroke-dasharray="([^"]*)"/.exec(attrs)?.[1] ?? '',
    });
  }
  return out;
}

describe.skipIf(!HAVE)('every figure kind on the corpus (PNGs in test-results/figures/)', () => {
  const rendered: Rendered[] = [];
  const byName = (n: string) => rendered.find((r) => r.fig.name === n)!;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    for (const fig of await figureGallery()) {
      const svg = await renderSvg(fig.spec);
      const png = svgToPng(svg);
      writeFileSync(join(OUT, `${fig.name}.png`), png);
      // the pixels of the PNG as written (what a reader sees), not a separate rasterisation
      rendered.push({ fig, svg, pixels: decodePng(png).rgba });
    }
  }, 240_000);

  it('draws each figure kind', () => {
    const names = rendered.map((r) => r.fig.name);
    for (const f of LAYER_FIGURES) expect(names).toContain(f);
    for (const f of [
      'mp-fit-square',
      'alpha-hist',
      'alpha-depth',
      'log_spectral_norm-depth',
      'compare',
      'sweep-alpha-heatmap',
      'sweep-alpha-counts',
      'sweep-summary',
      'sweep-alpha-movers',
    ])
      expect(names).toContain(f);
    for (const r of rendered) expect(r.svg.length, r.fig.name).toBeGreaterThan(2000);
  });

  it('docs/plots.md shows one example of each, as the script makes them (else: npx vite-node scripts/gen-plot-docs.ts)', () => {
    const doc = readFileSync(PLOTS_DOC, 'utf8');
    expect(doc).toContain(galleryMarkdown(rendered.map((r) => r.fig)));
    for (const r of rendered) expect(existsSync(resolve('docs', `plot-${r.fig.name}.png`)), r.fig.name).toBe(true);
  });

  it('legends show the line styles: esd and mp-fit', () => {
    const esd = legendEntries(byName('esd').svg);
    const pdf = [...esd].find(([k]) => k.startsWith('tail pdf'))![1];
    const fit = [...esd].find(([k]) => k.startsWith('power-law fit'))![1];
    const xmin = [...esd].find(([k]) => k.startsWith('λ_min'))![1];
    expect(pdf.dash).toBe('1,0');
    expect(fit.dash).toBe('6,4');
    expect(fit.stroke).toBe(pdf.stroke); // one fit, two renderings: told apart by the dash
    expect(xmin.stroke).not.toBe(fit.stroke);
    expect(esd.size).toBe(4); // one legend (colour and dash merged), the ESD bars included

    const qc = legendEntries(byName('mp-fit-square').svg);
    const circle = [...qc].find(([k]) => k.startsWith('quarter circle'))![1];
    const cutoff = [...qc].find(([k]) => k.startsWith('spike cutoff'))![1];
    expect(circle.dash).toBe('1,0');
    expect(cutoff.dash).toBe('6,4');
    expect(cutoff.stroke).not.toBe(circle.stroke);
    const mp = legendEntries(byName('mp-fit').svg);
    expect([...mp].find(([k]) => k.startsWith('spike cutoff'))![1].dash).toBe('6,4');
  });

  it('guide lines are grey and dashed; series never take a status or guide colour', () => {
    const status = Object.values(STATUS_COLORS).map((c) => c.toLowerCase());
    for (const c of SERIES_COLORS) expect(status).not.toContain(c.toLowerCase());
    expect(status).not.toContain(GUIDE_COLOR.toLowerCase());
    for (const r of rendered) {
      for (const m of r.svg.matchAll(/<line[^>]*stroke="#555555"[^>]*>/g)) expect(m[0], r.fig.name).toContain('stroke-dasharray="5,4"');
    }
    // the α guides are drawn where they belong, in the guide colour
    for (const n of ['alpha-hist', 'alpha-depth', 'alpha-vs-xmin', 'compare', 'sweep-alpha-movers'])
      expect(byName(n).svg, n).toContain(`stroke="${GUIDE_COLOR}"`);
    // the heatmap's ramp ends in the status colours: one meaning per colour across figures
    expect(HEATMAP_RAMP.range[0]).toBe(STATUS_COLORS.over);
    expect(HEATMAP_RAMP.range[HEATMAP_RAMP.range.length - 1]).toBe(STATUS_COLORS.under);
    const counts = byName('sweep-alpha-counts').svg;
    expect(counts).toContain(`stroke="${STATUS_COLORS.over}"`);
    expect(counts).toContain(`stroke="${STATUS_COLORS.under}"`);
  });

  it(`series stay apart for a deuteranope: ΔE2000 ≥ ${MIN_DELTA_E} between every pair told apart by colour alone`, () => {
    const report: string[] = [];
    let pairs = 0;
    for (const r of rendered) {
      const series = r.fig.series;
      if (!series || series.length < 2) continue;
      const seen = series.map((s) => ({ ...s, found: findColour(r.pixels, hexToRgb(s.color)) }));
      for (const s of seen) expect(s.found.n, `${r.fig.name}: ${s.label} (${s.color}) is drawn`).toBeGreaterThanOrEqual(15);
      for (let i = 0; i < seen.length; i++)
        for (let j = i + 1; j < seen.length; j++) {
          const a = seen[i]!;
          const b = seen[j]!;
          if (a.color.toLowerCase() === b.color.toLowerCase()) {
            // the same colour on purpose (the fit, solid and dashed): the dash must differ
            expect(String(a.dash), `${r.fig.name}: ${a.label} / ${b.label}`).not.toBe(String(b.dash));
            continue;
          }
          if (a.dash && b.dash && String(a.dash) !== String(b.dash)) continue; // told apart by the dash
          const d = deuteranopeDeltaE(a.found.mean, b.found.mean);
          pairs++;
          report.push(`${r.fig.name}: ${a.label} / ${b.label}: ${d.toFixed(1)}`);
          expect(d, `${r.fig.name}: ${a.label} (${a.color}) vs ${b.label} (${b.color})`).toBeGreaterThanOrEqual(MIN_DELTA_E);
        }
    }
    expect(pairs).toBeGreaterThan(20);
    writeFileSync(join(OUT, 'deuteranopia-delta-e.txt'), report.join('\n') + '\n');
  });
});
