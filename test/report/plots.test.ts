/**
 * Figures (issue 5): every per-layer and model-level plot renders for corpus models, to SVG that
 * is well-formed and carries the expected marks/labels (xmin rule at the fitted xmin, bulk edges,
 * traps, guide lines) and to valid PNG.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { WeightWatcher } from '../../src/index.js';
import type { LayerResult } from '../../src/engine/layer.js';
import type { Row } from '../../src/shared/rows.js';
import { svdvalsSync } from '../../src/native/binding.js';
import {
  renderLayerPlots,
  renderModelPlots,
  svgToPng,
  layerFigureSpecs,
  modelFigureSpecs,
  layerPlotId,
  fontFiles,
  LAYER_FIGURES,
  compareFigureSpec,
  renderSvg,
} from '../../src/report/plots/index.js';
import { histogram, logEdges, linearEdges, powerlawPdf, fmt } from '../../src/report/plots/data.js';
import { mpEdges } from '../../src/report/plots/layer.js';
import { SERIES_COLORS } from '../../src/report/plots/palette.js';
import { parseFontMetrics } from '../../src/report/plots/fontmetrics.js';

const CORPUS = '/work/shared/corpus';
const GOLDENS = '/work/shared/goldens';
const BIG = `${CORPUS}/minigpt/big-data/model.safetensors`;
const BASE_FIGURES = ['esd', 'esd-linear', 'esd-loglin', 'ks-vs-xmin', 'alpha-vs-xmin'];

// ------------------------------------------------------------------ helpers

/** Minimal XML well-formedness check: balanced tags, one root, attributes quoted. */
function assertWellFormedSvg(svg: string): void {
  expect(svg.startsWith('<svg')).toBe(true);
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(svg))) {
    const between = svg.slice(last, m.index);
    expect(between.includes('<'), `unparsed markup near ${svg.slice(last, last + 80)}`).toBe(false);
    last = re.lastIndex;
    if (m[0].startsWith('<!--')) continue;
    const [, close, name, , self] = m;
    if (close) {
      expect(stack.pop(), `closing </${name}>`).toBe(name);
    } else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

function svgSize(svg: string): { width: number; height: number } {
  const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg)!;
  return { width: Number(m[1]), height: Number(m[2]) };
}

function assertPng(png: Uint8Array, svg: string, scale = 2): void {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.length).toBeGreaterThan(10_000);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  expect(String.fromCharCode(...png.subarray(12, 16))).toBe('IHDR');
  const { width, height } = svgSize(svg);
  expect(dv.getUint32(16)).toBe(Math.round(width * scale));
  expect(dv.getUint32(20)).toBe(Math.round(height * scale));
}

/** The `translate(x,…)` of the rule line whose aria-label is `label`. */
function ruleX(svg: string, label: string): number | undefined {
  const esc = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`<line aria-label="${esc}"[^>]*transform="translate\\(([-\\d.e]+),`).exec(svg);
  return m ? Number(m[1]) : undefined;
}

function ruleY(svg: string, label: string): number | undefined {
  const esc = label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`<line aria-label="${esc}"[^>]*transform="translate\\([-\\d.e]+,([-\\d.e]+)\\)`).exec(svg);
  return m ? Number(m[1]) : undefined;
}

/** Text content of every <text> (each <tspan> line separately), entities decoded. */
function texts(svg: string): string[] {
  const dec = (t: string) =>
    t
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  const out: string[] = [];
  for (const m of svg.matchAll(/<text[^>]*>([\s\S]*?)<\/text>/g)) {
    const inner = m[1]!;
    const spans = [...inner.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((x) => x[1]!);
    if (spans.length) out.push(...spans.map(dec));
    else out.push(dec(inner));
  }
  return out;
}

/** The part of a Vega-Lite layer spec the scale checks read. */
interface ScaleSpec {
  type?: string;
  domain: [number, number];
}
interface LayerSpec {
  encoding?: { x?: { scale?: ScaleSpec }; y?: { scale?: ScaleSpec } };
}
function xScale(spec: Record<string, unknown>): ScaleSpec {
  const layers = spec.layer as LayerSpec[];
  return layers.find((l) => l.encoding?.x?.scale?.domain)!.encoding!.x!.scale!;
}

function pixel(value: number, scale: { type?: string; domain: [number, number] }, width: number): number {
  const f = scale.type === 'log' ? Math.log : (v: number) => v;
  return (width * (f(value) - f(scale.domain[0]))) / (f(scale.domain[1]) - f(scale.domain[0]));
}

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { u, normal: () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u()) };
}

/** Randomized ESD like the randomize extension: permute the matrix entries, squared singular values. */
function randomizedEvals(data: Float32Array, rows: number, cols: number, seed: number): Float64Array {
  const r = rng(seed);
  const p = Float64Array.from(data);
  for (let i = p.length - 1; i > 0; i--) {
    const j = Math.floor(r.u() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  const sv = svdvalsSync(p, rows, cols);
  return Float64Array.from(sv, (v) => v * v).sort();
}

function withExtra(layer: LayerResult, extra: Record<string, unknown>): LayerResult {
  return { ...layer, extra: new Map(Object.entries(extra)) };
}

// ------------------------------------------------------------------ data helpers

describe('binning helpers', () => {
  it('histogram follows numpy (half-open bins, last closed, density integrates to 1)', () => {
    const bins = histogram([0, 0.5, 1, 1, 2], [0, 1, 2], true);
    expect(bins.map((b) => b.count)).toEqual([2, 3]);
    expect(bins.reduce((s, b) => s + b.density * (b.x2 - b.x), 0)).toBeCloseTo(1, 12);
    expect(histogram([5], [0, 1], true)[0]!.count).toBe(0);
  });
  it('log and linear edges span the data', () => {
    const e = logEdges([0.1, 1, 10], 100);
    expect(e).toHaveLength(101);
    expect(e[0]).toBeCloseTo(0.1, 12);
    expect(e[100]).toBeCloseTo(10, 12);
    expect(linearEdges([3, 3], 4)).toEqual([2.5, 2.75, 3, 3.25, 3.5]);
  });
  it('powerlaw pdf: log bins, densities integrate to ~1 over the bins', () => {
    const r = rng(1);
    const tail = Array.from({ length: 2000 }, () => 0.5 * (1 - r.u()) ** (-1 / 2)); // alpha = 3, xmin = 0.5
    const pdf = powerlawPdf(tail);
    expect(pdf.length).toBeGreaterThan(5);
    for (let i = 1; i < pdf.length; i++) expect(pdf[i]!.x).toBeGreaterThan(pdf[i - 1]!.x);
    // slope of log density vs log x ≈ −alpha
    const a = pdf[1]!,
      b = pdf[Math.min(pdf.length - 2, 8)]!;
    const slope = Math.log(b.density / a.density) / Math.log(b.x / a.x);
    expect(slope).toBeGreaterThan(-3.6);
    expect(slope).toBeLessThan(-2.4);
  });
  it('fmt writes 3 decimals like the reference titles', () => {
    expect(fmt(3.28815)).toBe('3.288');
    expect(fmt(-1)).toBe('-1.000');
    expect(fmt(NaN)).toBe('NaN');
  });
});

describe('font metrics', () => {
  const dejavu = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
  it.skipIf(!existsSync(dejavu))('reads DejaVu Sans advance widths', () => {
    const m = parseFontMetrics(readFileSync(dejavu));
    expect(m.width('', 10)).toBe(0);
    const w = m.width('Log-Log ESD', 10);
    expect(w).toBeGreaterThan(40);
    expect(w).toBeLessThan(80);
    expect(m.width('W', 10)).toBeGreaterThan(m.width('i', 10));
    expect(m.width('α', 10)).toBeGreaterThan(0);
  });
  it('has font files for the PNG text when DejaVu is installed (fonts-dejavu-core)', () => {
    if (!existsSync(dejavu)) return;
    expect(fontFiles()).toContain(dejavu);
  });
});

// ------------------------------------------------------------------ per-layer figures

describe('per-layer figures for minigpt/big-data', () => {
  let layers: readonly LayerResult[];
  let details: Row[];
  beforeAll(async () => {
    const ww = new WeightWatcher(BIG);
    details = await ww.analyze({ keep_evals: true });
    layers = ww.getLayerResults();
  });

  it('keeps what the plots need', () => {
    expect(layers.length).toBe(18);
    expect(layers[0]!.evals).toBeInstanceOf(Float64Array);
    expect(layers[0]!.powerLaw?.fit?.xmins?.length).toBeGreaterThan(10);
  });

  it('renders the five power-law figures as well-formed SVG and valid PNG', async () => {
    for (const layer of [layers[0]!, layers[7]!, layers[17]!]) {
      const svgs = await renderLayerPlots(layer);
      expect(Object.keys(svgs).sort()).toEqual([...BASE_FIGURES].sort());
      for (const [name, svg] of Object.entries(svgs)) {
        assertWellFormedSvg(svg);
        expect(svg.length, name).toBeGreaterThan(5_000);
        expect(
          texts(svg).some((t) => t.includes(String(layer.row.name))),
          `${name} names the layer`,
        ).toBe(true);
      }
      assertPng(svgToPng(svgs.esd!), svgs.esd!);
    }
  });

  it('log-log ESD: title, fit stats, xmin rule at the fitted xmin, fit and tail lines', async () => {
    const layer = layers[0]!;
    const row = layer.row;
    const svg = (await renderLayerPlots(layer, { figures: ['esd'] })).esd!;
    const t = texts(svg);
    expect(t).toContain(`Log-Log ESD for Layer ${row.layer_id}`);
    expect(t).toContain(`α=${fmt(row.alpha)}; D_KS=${fmt(row.D)}; λ_min=${fmt(row.xmin)}; σ=${fmt(row.sigma)}`);
    expect(t).toContain('λ_min (xmin)');
    const x = ruleX(svg, `xmin = ${row.xmin}`);
    expect(x).toBeDefined();
    const spec = layerFigureSpecs(layer, { figures: ['esd'] }).esd!;
    const sc = xScale(spec);
    expect(sc.type).toBe('log');
    expect(Math.abs(x! - pixel(row.xmin, sc, 480))).toBeLessThan(0.6);
    // histogram bars (100 log bins, zero bins dropped) + 2 line paths (tail pdf, fitted power law)
    const rects = svg.match(/<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/)![1]!.match(/<path /g)!.length;
    expect(rects).toBeGreaterThan(50);
    expect(rects).toBeLessThanOrEqual(100);
    expect(svg.match(/class="mark-line role-mark/g)!.length).toBe(2);
    expect(svg).toContain('stroke-dasharray="6,4"');
  });

  it('lin-lin and log-lin ESD: xmin (and log10 xmax) rules where the fit put them', async () => {
    const layer = layers[5]!;
    const row = layer.row;
    const specs = layerFigureSpecs(layer, { figures: ['esd-linear', 'esd-loglin'] });
    const svgs = await renderLayerPlots(layer, { figures: ['esd-linear', 'esd-loglin'] });
    expect(texts(svgs['esd-linear']!)).toContain(`Lin-Lin ESD for Layer ${row.layer_id}`);
    const xl = ruleX(svgs['esd-linear']!, `xmin = ${row.xmin}`)!;
    expect(Math.abs(xl - pixel(row.xmin, xScale(specs['esd-linear']!), 480))).toBeLessThan(0.6);
    const lx = Math.log10(row.xmin),
      lm = Math.log10(row.xmax!);
    expect(texts(svgs['esd-loglin']!)).toContain(`Log-Lin ESD for Layer ${row.layer_id}`);
    const sc = xScale(specs['esd-loglin']!);
    expect(Math.abs(ruleX(svgs['esd-loglin']!, `log10 xmin = ${lx}`)! - pixel(lx, sc, 480))).toBeLessThan(0.6);
    expect(Math.abs(ruleX(svgs['esd-loglin']!, `log10 xmax = ${lm}`)! - pixel(lm, sc, 480))).toBeLessThan(0.6);
  });

  it('D vs xmin and alpha vs xmin: candidate curves with the fitted xmin at the KS minimum', async () => {
    const layer = layers[3]!;
    const row = layer.row;
    const fit = layer.powerLaw!.fit!;
    const svgs = await renderLayerPlots(layer, { figures: ['ks-vs-xmin', 'alpha-vs-xmin'] });
    expect(texts(svgs['ks-vs-xmin']!)).toContain(`KS distance D vs xmin for Layer ${row.layer_id}`);
    expect(texts(svgs['alpha-vs-xmin']!)).toContain(`α vs xmin for Layer ${row.layer_id}`);
    for (const name of ['ks-vs-xmin', 'alpha-vs-xmin'] as const) {
      const spec = layerFigureSpecs(layer, { figures: [name] })[name]!;
      expect(Math.abs(ruleX(svgs[name]!, `xmin = ${row.xmin}`)! - pixel(row.xmin, xScale(spec), 480))).toBeLessThan(0.6);
    }
    // the fitted xmin is the candidate with the smallest D
    let best = 0;
    for (let i = 1; i < fit.Ds!.length; i++) if (fit.Ds![i]! < fit.Ds![best]!) best = i;
    expect(fit.xmins![best]).toBeCloseTo(row.xmin, 10);
    // alpha guides at 2 and 6
    expect(svgs['alpha-vs-xmin']).toContain('aria-label="alpha = 2"');
    expect(svgs['alpha-vs-xmin']).toContain('aria-label="alpha = 6"');
  });

  it('randomized ESD overlay with correlation traps, MP fits with bulk edges', async () => {
    const ww = new WeightWatcher(BIG);
    const layer = layers[2]!; // h.0.mlp.c_fc, 768×3072
    const [mat] = await ww.getWeights(layer.row.layer_id);
    const data = Float32Array.from(mat!.data);
    data[17] = 40 * Math.max(...data.slice(0, 1000).map(Math.abs)); // a huge entry → a correlation trap
    const rand = randomizedEvals(data, mat!.rows, mat!.cols, 7);
    const evals = layer.evals!;
    const Q = layer.row.Q;
    const W = (e: Float64Array) => Math.sqrt(e.length / e.reduce((s, v) => s + v, 0));
    const mp = { sigma_mp: 0.8, Q, W_scale: W(evals), num_spikes: 12, mp_softrank: 0.3 };
    const rmp = { sigma_mp: 1.0, Q, W_scale: W(rand), num_spikes: 1, mp_softrank: 0.5 };
    const l2 = withExtra(layer, { rand_evals: rand, mp, rand_mp: rmp });
    const l2row = { ...l2, row: { ...l2.row, max_rand_eval: rand[rand.length - 1]! } };
    const svgs = await renderLayerPlots(l2row);
    expect(Object.keys(svgs).sort()).toEqual([...LAYER_FIGURES].sort());
    for (const svg of Object.values(svgs)) assertWellFormedSvg(svg);

    const r = svgs['esd-random']!;
    expect(texts(r)).toContain(`Layer ${layer.row.layer_id} ${layer.row.name}: ESD & Random ESD`);
    expect(texts(r)).toEqual(expect.arrayContaining(['original', 'randomized', 'max rand λ', 'correlation trap']));
    expect(r).toContain(`aria-label="log10 max_rand_eval = ${Math.log10(rand[rand.length - 1]!)}"`);
    const traps = r.match(/aria-label="correlation trap λ = /g) ?? [];
    expect(traps.length).toBeGreaterThanOrEqual(1);
    expect(texts(r).some((t) => /correlation traps: [1-9]/.test(t))).toBe(true);

    const m = svgs['mp-fit']!;
    const { a, b, cutoff } = mpEdges(0.8, Q, layer.row.M);
    expect(texts(m)).toContain(`MP ESD for layer ${layer.row.layer_id} ${layer.row.name}`);
    expect(m).toContain(`aria-label="bulk_max (rescaled) = ${b}"`);
    expect(m).toContain(`aria-label="bulk_min (rescaled) = ${a}"`);
    expect(m).toContain(`aria-label="spike cutoff (rescaled) = ${cutoff}"`);
    expect(texts(m).some((t) => t.includes('σ_mp=0.800') && t.includes('# spikes=12'))).toBe(true);
    expect(texts(svgs['mp-fit-random']!)).toContain(`MP ESD for layer ${layer.row.layer_id} ${layer.row.name} (Randomized)`);
    assertPng(svgToPng(r), r);
  });

  it('MP data read defensively: row columns, bad objects, Q = 1 (quarter circle)', async () => {
    const layer = layers[1]!;
    // only row columns (as the mp_fit extension writes them), no extra
    const viaRow = { ...layer, row: { ...layer.row, sigma_mp: 0.9, W_scale: 0.5, num_spikes: 3 } };
    expect(Object.keys(await renderLayerPlots(viaRow))).toContain('mp-fit');
    // junk in extra: no crash, no MP figure
    const junk = withExtra(layer, { mp: 'nope', rand_mp: { sigma_mp: -1 }, rand_evals: [1, 'x'] });
    const keys = Object.keys(await renderLayerPlots(junk));
    expect(keys).toEqual(BASE_FIGURES);
    // Q = 1 → quarter circle on singular values
    const sq = withExtra({ ...layer, row: { ...layer.row, Q: 1 } }, { mp: { sigma_mp: 1, Q: 1 } });
    const svg = (await renderLayerPlots(sq, { figures: ['mp-fit'] }))['mp-fit']!;
    expect(texts(svg)).toContain(`QC SSD for layer ${layer.row.layer_id} ${layer.row.name}`);
  });

  it('a failed fit still plots the ESD, marked PL FIT FAILED, without xmin rules', async () => {
    const layer = layers[4]!;
    const failed: LayerResult = {
      row: { ...layer.row, alpha: -1, xmin: -1, D: -1, sigma: -1, status: 'failed', warning: 'over-trained' },
      evals: layer.evals!,
    };
    const svgs = await renderLayerPlots(failed);
    expect(Object.keys(svgs).sort()).toEqual(['esd', 'esd-linear', 'esd-loglin']);
    expect(texts(svgs.esd!)).toContain('PL FIT FAILED');
    expect(svgs.esd).not.toContain('aria-label="xmin');
  });

  it('a layer without kept eigenvalues has no figures', async () => {
    expect(await renderLayerPlots({ row: layers[0]!.row })).toEqual({});
  });

  it('model figures: alpha histogram, alpha and log_spectral_norm by depth with 2/6 guides, any column', async () => {
    const svgs = await renderModelPlots(details);
    expect(Object.keys(svgs)).toEqual(['alpha-hist', 'alpha-depth', 'log_spectral_norm-depth']);
    for (const svg of Object.values(svgs)) {
      assertWellFormedSvg(svg);
      assertPng(svgToPng(svg), svg);
    }
    const h = svgs['alpha-hist']!;
    expect(texts(h)).toContain('Layer alphas');
    const over = details.filter((r) => (r.alpha as number) < 2).length;
    expect(texts(h).some((t) => t.includes(`α<2: ${over}`))).toBe(true);
    for (const s of [h, svgs['alpha-depth']!]) {
      expect(s).toContain('aria-label="α = 2 (below: over-trained)"');
      expect(s).toContain('aria-label="α = 6 (above: under-trained)"');
    }
    // guide lines at the right heights in the depth plot (linear y from 0)
    const depth = modelFigureSpecs(details)['alpha-depth'] as { layer: LayerSpec[] };
    const dom = depth.layer[0]!.encoding!.y!.scale!.domain;
    const y2 = ruleY(svgs['alpha-depth']!, 'α = 2 (below: over-trained)')!;
    expect(Math.abs(y2 - 260 * (1 - (2 - dom[0]) / (dom[1] - dom[0])))).toBeLessThan(0.6);
    expect(texts(svgs['log_spectral_norm-depth']!)).toContain('log_spectral_norm by layer');
    const custom = await renderModelPlots(details, { columns: ['stable_rank'], histogram: false });
    expect(Object.keys(custom)).toEqual(['stable_rank-depth']);
    expect(await renderModelPlots(details, { columns: ['no_such_column'], histogram: false })).toEqual({});
  });
});

describe('figures for the rest of the corpus', () => {
  const synth = existsSync(`${CORPUS}/synthetic`) ? readdirSync(`${CORPUS}/synthetic`).filter((f) => f.endsWith('.safetensors')) : [];
  for (const f of synth) {
    it(`synthetic/${f}: every layer's figures render`, async () => {
      const ww = new WeightWatcher(`${CORPUS}/synthetic/${f}`);
      await ww.analyze({ keep_evals: true });
      const layers = ww.getLayerResults();
      expect(layers.length).toBeGreaterThan(0);
      for (const layer of layers) {
        const svgs = await renderLayerPlots(layer);
        expect(Object.keys(svgs).length, `${f} layer ${layerPlotId(layer.row)}`).toBeGreaterThanOrEqual(3);
        for (const svg of Object.values(svgs)) assertWellFormedSvg(svg);
      }
      const model = await renderModelPlots(ww.getDetails()!);
      expect(Object.keys(model).length).toBeGreaterThanOrEqual(1);
    });
  }

  it('convnet with pool=false: one figure set per slice, ids <layer>_<slice>', async () => {
    const ww = new WeightWatcher(`${CORPUS}/synthetic/convnet.safetensors`);
    await ww.analyze({ keep_evals: true, pool: false });
    const ids = ww.getLayerResults().map((l) => layerPlotId(l.row));
    expect(ids.some((id) => /^\d+_\d+$/.test(id))).toBe(true);
    const sliced = ww.getLayerResults().find((l) => typeof l.row.slice_id === 'number')!;
    const svg = (await renderLayerPlots(sliced, { figures: ['esd'] })).esd!;
    expect(texts(svg)).toContain(`Log-Log ESD for Layer ${sliced.row.layer_id}:${sliced.row.slice_id}`);
  });

  it('model plots from saved golden details (minigpt init: alphas up to ~50)', async () => {
    const golden = JSON.parse(readFileSync(`${GOLDENS}/minigpt-init/default.json`, 'utf8')) as { details: Row[] };
    const svgs = await renderModelPlots(golden.details);
    expect(Object.keys(svgs)).toEqual(['alpha-hist', 'alpha-depth', 'log_spectral_norm-depth']);
    expect(texts(svgs['alpha-hist']!).some((t) => /with α>12 in the last bin/.test(t))).toBe(true);
  });

  it('compare figure: one colour per model, legend with the model names, table and Δ panel', async () => {
    const load = (n: string) => (JSON.parse(readFileSync(`${GOLDENS}/${n}/default.json`, 'utf8')) as { details: Row[] }).details;
    const series = [
      { name: 'init', rows: load('minigpt-init') },
      { name: 'big-data', rows: load('minigpt-big-data') },
    ];
    const svg = await renderSvg(
      compareFigureSpec(series, {
        table: [{ metric: 'alpha', values: [11.659, 2.231] }],
        diffs: [{ name: 'wte', index: 0, model: 'big-data', delta: -5.4 }],
      }),
    );
    assertWellFormedSvg(svg);
    const t = texts(svg);
    expect(t).toEqual(
      expect.arrayContaining(['init', 'big-data', 'model', 'Layer alpha distribution', 'alpha by layer', '11.659', '2.231']),
    );
    expect(t.some((s) => s.startsWith('Δ alpha per matched layer'))).toBe(true);
    // the series colours of palette.ts, one per model; the Δ bars are labelled with layer names
    expect(svg).toContain(`fill="${SERIES_COLORS[0]}"`);
    expect(svg).toContain(`fill="${SERIES_COLORS[1]}"`);
    expect(t).toContain('wte');
    assertPng(svgToPng(svg), svg);
  });
});
