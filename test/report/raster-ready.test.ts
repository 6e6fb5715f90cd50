/**
 * The PNG path's SVG preparation (render.ts rasterReady): text drawn as glyph outlines from the
 * font file (truetype.ts, text-outline.ts) and clips that change no pixel removed (clip-elide.ts).
 * Figures must look the same as resvg drawing the SVG itself — the same pixels for the clips up
 * to the rounding of resvg's SIMD paths, within kerning and hinting for the text — and anything
 * outside the handled vocabulary must be left for resvg. Every pixel comparison is a share of
 * pixels beyond a level threshold, never exact equality: resvg (tiny-skia) rounds differently on
 * AVX2 and AVX-512 machines, and the tests must pass on both.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { WeightWatcher } from '../../src/index.js';
import { renderLayerPlots, renderModelPlots, fontFiles } from '../../src/report/plots/index.js';
import { rasterReady } from '../../src/report/plots/raster.js';
import { parseTrueType, FontError } from '../../src/report/plots/truetype.js';
import { parseFontMetrics } from '../../src/report/plots/fontmetrics.js';
import { TextOutliner } from '../../src/report/plots/text-outline.js';
import { elideNoopClips } from '../../src/report/plots/clip-elide.js';

const { Resvg } = createRequire(import.meta.url)('@resvg/resvg-js') as typeof import('@resvg/resvg-js');

const BIG = '/work/shared/corpus/minigpt/big-data/model.safetensors';
const DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const DEJAVU_BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';
const haveFonts = existsSync(DEJAVU) && existsSync(DEJAVU_BOLD);

function raster(svg: string): { width: number; height: number; pixels: Uint8Array } {
  const files = fontFiles();
  const r = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: false, fontFiles: files, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    logLevel: 'off',
  }).render();
  return { width: r.width, height: r.height, pixels: r.pixels };
}

/** Share of pixels whose colour differs by more than `threshold` in some channel. */
function differing(a: ReturnType<typeof raster>, b: ReturnType<typeof raster>, threshold: number): number {
  expect([b.width, b.height]).toEqual([a.width, a.height]);
  let n = 0;
  for (let i = 0; i < a.pixels.length; i += 4) {
    const d = Math.max(
      Math.abs(a.pixels[i]! - b.pixels[i]!),
      Math.abs(a.pixels[i + 1]! - b.pixels[i + 1]!),
      Math.abs(a.pixels[i + 2]! - b.pixels[i + 2]!),
    );
    if (d > threshold) n++;
  }
  return n / (a.pixels.length / 4);
}

const outliner = () => TextOutliner.fromFonts([readFileSync(DEJAVU), readFileSync(DEJAVU_BOLD)], 'DejaVu Sans');
const FAMILY = 'DejaVu Sans, Liberation Sans, Verdana, Arial, sans-serif';
const svgDoc = (body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="120"><rect width="300" height="120" fill="white"/>${body}</svg>`;

describe.skipIf(!haveFonts)('TrueType outlines', () => {
  it('reads family, style, advances and outlines of DejaVu Sans', () => {
    const font = parseTrueType(readFileSync(DEJAVU));
    expect(font.style()).toEqual({ family: 'DejaVu Sans', bold: false, italic: false });
    expect(parseTrueType(readFileSync(DEJAVU_BOLD)).style()).toEqual({ family: 'DejaVu Sans', bold: true, italic: false });
    const metrics = parseFontMetrics(readFileSync(DEJAVU));
    expect(metrics.width('W', 2048)).toBe(font.advance(font.glyphOf(0x57)));
    // 'o' has two contours (outer and counter), 'l' one, a space none
    expect(font.outline(font.glyphOf(0x6f)).contours).toHaveLength(2);
    expect(font.outline(font.glyphOf(0x6c)).contours).toHaveLength(1);
    expect(font.outline(font.glyphOf(0x20)).contours).toHaveLength(0);
    // every printable ASCII, Latin-1 and Greek character parses (Latin-1 accents are composites)
    for (let cp = 0x21; cp < 0x3d0; cp++) {
      const g = font.glyphOf(cp);
      if (g) expect(() => font.outline(g)).not.toThrow();
    }
    const e = font.outline(font.glyphOf(0xe9)); // é = e + acute
    expect(e.contours.length).toBeGreaterThanOrEqual(3);
  });

  it('fails with FontError on truncated data instead of reading past it', () => {
    const buf = readFileSync(DEJAVU);
    for (const cut of [200, 5_000, buf.length / 2]) {
      expect(() => {
        const font = parseTrueType(buf.subarray(0, cut));
        font.style();
        for (let cp = 0x21; cp < 0x3d0; cp++) font.outline(font.glyphOf(cp));
      }, `cut at ${cut}`).toThrow(FontError);
    }
  });
});

describe.skipIf(!haveFonts)('text as outlines', () => {
  it('draws anchored, rotated, bold and two-line text as resvg does', () => {
    const body =
      `<text text-anchor="start" transform="translate(10,20)" font-family="${FAMILY}" font-size="11px" fill="#000" opacity="1">alpha α=2.07 &amp; λ_min</text>` +
      `<text text-anchor="middle" transform="translate(150,45)" font-family="${FAMILY}" font-size="13px" font-weight="bold" fill="#333" opacity="1">Log-Log ESD for Layer 7</text>` +
      `<text text-anchor="end" transform="translate(290,70)" font-family="${FAMILY}" font-size="10px" fill="red" opacity="0.5">0.0003</text>` +
      `<text text-anchor="middle" transform="translate(20,80) rotate(-90) translate(0,-2)" font-family="${FAMILY}" font-size="11px" fill="#000" opacity="1">density</text>` +
      `<text text-anchor="middle" transform="translate(150,95)" font-family="${FAMILY}" font-size="11px" fill="#333" opacity="1"><tspan>h.0.attn</tspan><tspan x="0" dy="13">α=2.074; D=0.054</tspan></text>` +
      `<text text-anchor="middle" transform="translate(150,95)" font-family="${FAMILY}" font-size="11px" fill="#000" opacity="0">hidden label</text>`;
    const svg = svgDoc(body);
    const out = outliner().outline(svg);
    expect(out).not.toContain('<text');
    expect(out.match(/<path /g)).toHaveLength(5); // the hidden label draws nothing
    // kerning and hinting aside, the same pixels
    expect(differing(raster(svg), raster(out), 64)).toBeLessThan(0.004);
  });

  it('leaves text it cannot draw exactly to resvg', () => {
    const keep = [
      `<text x="10" y="20" font-family="${FAMILY}" font-size="11px" fill="#000">positioned by x/y</text>`,
      `<text transform="translate(1,2)" font-family="Noto Serif" font-size="11px" fill="#000">a family not loaded</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000" font-style="italic">italic</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px">no fill: inherited</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="1.2em" fill="#000">relative size</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">漢字 needs another font</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">שלום</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">two  spaces</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">&nbsp;entity</text>`,
      `<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000"><tspan dx="3">shifted</tspan></text>`,
    ];
    const o = outliner();
    for (const t of keep) expect(o.outline(svgDoc(t)), t).toBe(svgDoc(t));
    // a stylesheet could restyle any text: the document is left alone
    const styled = svgDoc(
      `<style>text { font-size: 30px }</style><text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">x</text>`,
    );
    expect(o.outline(styled)).toBe(styled);
    // empty text elements draw nothing whatever their attributes
    expect(o.outline(svgDoc('<text x="1" y="2" font-size="11px"/>'))).toBe(svgDoc(''));
  });

  it('with no usable font file, only empty text is removed', () => {
    const o = TextOutliner.fromFonts([new Uint8Array(100)], 'DejaVu Sans');
    expect(o.usable).toBe(false);
    const svg = svgDoc(`<text transform="translate(1,2)" font-family="${FAMILY}" font-size="11px" fill="#000">kept</text>`);
    expect(o.outline(svg)).toBe(svg);
  });
});

describe('no-op clips', () => {
  const clip = '<defs><clipPath id="clip1"><rect x="0" y="0" width="100" height="50"/></clipPath></defs>';
  const group = (content: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="70">${clip}<g fill="none" stroke-miterlimit="4" transform="translate(10,10)"><g class="mark-line" clip-path="url(#clip1)">${content}</g></g></svg>`;

  it('removes a clip whose content lies inside, widened by stroke and miter', () => {
    const inside = group('<path d="M5,40L30,20L60,30L90,8" stroke="#1f77b4" stroke-width="2"/>');
    expect(elideNoopClips(inside)).not.toContain('clip-path=');
    const rules = group(
      '<line transform="translate(40,5)" x2="0" y2="35" stroke="#000" stroke-width="1"/><path d="M10,10h20v20h-20Z" fill="red"/>',
    );
    expect(elideNoopClips(rules)).not.toContain('clip-path=');
  });

  it('keeps clips that cut, or whose content it cannot bound', () => {
    for (const content of [
      '<path d="M5,40L30,20L60,30L130,8" stroke="#1f77b4" stroke-width="2"/>', // leaves the rect
      '<path d="M1,40L30,20L60,30L90,8" stroke="#1f77b4" stroke-width="2"/>', // the miter may reach x < 0
      '<path d="M5,40C30,-80 60,30 90,8" stroke="#000"/>', // a curve: control points not the bounds
      '<path transform="rotate(10)" d="M5,40L30,20" stroke="#000"/>',
      '<g><path d="M5,40L30,20" stroke="#000"/></g>',
      '<text>label</text>',
    ]) {
      expect(elideNoopClips(group(content)), content).toBe(group(content));
    }
  });
});

describe.skipIf(!existsSync(BIG) || !haveFonts)('figures prepared for the PNG path', () => {
  const svgs: [string, string][] = [];
  beforeAll(async () => {
    const ww = new WeightWatcher(BIG);
    const rows = await ww.analyze({ keep_evals: true });
    const layers = ww.getLayerResults();
    for (const layer of [layers[0]!, layers[9]!]) svgs.push(...Object.entries(await renderLayerPlots(layer)));
    svgs.push(...Object.entries(await renderModelPlots(rows)));
  });

  it('every text becomes outlines, removed clips change no pixel beyond rounding, and the figure looks the same', () => {
    expect(svgs.length).toBeGreaterThanOrEqual(12);
    let clipsRemoved = 0;
    for (const [name, svg] of svgs) {
      const ready = rasterReady(svg);
      expect(ready, name).not.toContain('<text');
      const clipsOnly = elideNoopClips(svg);
      clipsRemoved += (svg.match(/clip-path=/g) ?? []).length - (clipsOnly.match(/clip-path=/g) ?? []).length;
      // The same pixels, within what resvg's SIMD paths change: tiny-skia composites the masked
      // layer of a clip with different rounding on AVX2 and AVX-512 (on a Zen 3, 5.3e-6 of esd's
      // pixels differed by more than one level; here 5.2e-6 after the palette change). Allowed: at
      // most 1e-4 of the pixels (≈ 90 of a 2× figure) off by more than one level, and at most 1e-5
      // (≈ 9 pixels) off by more than 96 — a clip removed wrongly draws a stroke outside the plot
      // at full contrast over tens of pixels, which the second bound catches on any CPU.
      const before = raster(svg);
      const after = raster(clipsOnly);
      expect(differing(before, after, 1), `${name}: clips, > 1 level`).toBeLessThanOrEqual(1e-4);
      expect(differing(before, after, 96), `${name}: clips, > 96 levels`).toBeLessThanOrEqual(1e-5);
      expect(differing(raster(svg), raster(ready), 64), `${name}: text`).toBeLessThan(0.004);
    }
    expect(clipsRemoved).toBeGreaterThan(0);
  });

  it('WW_PNG_FAST=0 hands resvg the SVG unchanged', () => {
    const svg = svgs[0]![1];
    const before = process.env.WW_PNG_FAST;
    process.env.WW_PNG_FAST = '0';
    try {
      expect(rasterReady(svg)).toBe(svg);
    } finally {
      if (before === undefined) delete process.env.WW_PNG_FAST;
      else process.env.WW_PNG_FAST = before;
    }
  });
});
