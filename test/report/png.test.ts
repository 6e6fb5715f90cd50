/**
 * PNG encoding of resvg's pixels (src/report/plots/png.ts): a valid PNG whose pixels are resvg's,
 * un-premultiplied, the same image resvg's own encoder writes.
 */
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { encodePng } from '../../src/report/plots/png.js';
import { fontFiles, svgToPng, svgToPngAsync } from '../../src/report/plots/raster.js';
import { decodePng } from '../helpers/png-decode.js';

const { Resvg } = createRequire(import.meta.url)('@resvg/resvg-js') as typeof import('@resvg/resvg-js');

describe('encodePng', () => {
  it('round-trips opaque pixels', () => {
    const w = 7,
      h = 5;
    const px = new Uint8Array(w * h * 4);
    for (let i = 0; i < px.length; i++) px[i] = (i * 37 + 11) & 0xff;
    for (let i = 3; i < px.length; i += 4) px[i] = 255;
    const d = decodePng(encodePng(px, w, h));
    expect([d.width, d.height]).toEqual([w, h]);
    expect(Array.from(d.rgba)).toEqual(Array.from(px));
  });

  it('un-premultiplies translucent pixels and keeps transparent ones', () => {
    // premultiplied: (128, 0, 0, 128) is opaque-red at half alpha; (0,0,0,0) is transparent
    const px = Uint8Array.of(128, 0, 0, 128, 0, 0, 0, 0, 10, 20, 30, 40);
    const d = decodePng(encodePng(px, 3, 1));
    expect(Array.from(d.rgba)).toEqual([255, 0, 0, 128, 0, 0, 0, 0, 64, 128, 191, 40]);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/10 bytes for 2×2/);
  });

  it('gives the pixels resvg encodes itself, for a chart with text, translucency and a transparent background', () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80">
      <rect x="5" y="5" width="60" height="40" fill="#4c78a8" opacity="0.75"/>
      <circle cx="80" cy="40" r="25" fill="red" fill-opacity="0.4"/>
      <text x="10" y="70" font-family="DejaVu Sans" font-size="12">α = 2.07</text></svg>`;
    for (const background of ['white', 'rgba(0,0,0,0)']) {
      const ours = decodePng(svgToPng(svg, { background }));
      const theirs = decodePng(
        new Uint8Array(
          new Resvg(svg, {
            background,
            fitTo: { mode: 'zoom', value: 2 },
            font: { loadSystemFonts: !fontFiles().length, fontFiles: fontFiles(), defaultFontFamily: 'DejaVu Sans' },
            logLevel: 'off',
          })
            .render()
            .asPng(),
        ),
      );
      expect([ours.width, ours.height]).toEqual([240, 160]);
      expect([theirs.width, theirs.height]).toEqual([240, 160]);
      // resvg rounds when un-premultiplying; allow ±1 per channel, exact alpha.
      let worst = 0;
      for (let i = 0; i < ours.rgba.length; i++) {
        const diff = Math.abs(ours.rgba[i]! - theirs.rgba[i]!);
        if ((i & 3) === 3) expect(diff, `alpha at ${i >> 2}`).toBe(0);
        else if (ours.rgba[i | 3]! > 0) worst = Math.max(worst, diff);
      }
      expect(worst, background).toBeLessThanOrEqual(1);
    }
  });

  it('svgToPngAsync (rasterising and compressing off the calling thread) gives the same bytes as svgToPng', async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#eee"/>
      <path d="M5,70L40,20L80,50L115,10" stroke="#d62728" stroke-width="2" fill="none"/>
      <text text-anchor="middle" transform="translate(60,12)" font-family="DejaVu Sans, sans-serif" font-size="11px" fill="#000" opacity="1">α=2.07</text></svg>`;
    for (const opts of [{}, { scale: 1, background: 'rgba(0,0,0,0)' }]) {
      const [a, b, c] = await Promise.all([svgToPngAsync(svg, opts), svgToPngAsync(svg, opts), Promise.resolve(svgToPng(svg, opts))]);
      expect(Buffer.from(a).equals(Buffer.from(c))).toBe(true);
      expect(Buffer.from(b).equals(Buffer.from(c))).toBe(true);
    }
  });
});
