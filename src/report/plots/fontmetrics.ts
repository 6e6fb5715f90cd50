/**
 * Text widths for vega's headless layout. Without a canvas, vega estimates every string as
 * 0.8 · length · fontSize, which leaves wide gaps around titles and truncates legend labels early.
 * This reads the advance widths of the TrueType font the PNGs are drawn with (truetype.ts; no
 * kerning, as the PNG text is drawn: text-outline.ts) so the layout matches the rendered text.
 * Falls back to 0.6 em per character.
 */
import { readFileSync } from 'node:fs';
import { parseTrueType } from './truetype.js';

export interface FontMetrics {
  /** Width of `text` at `size` px. */
  width(text: string, size: number): number;
}

/** Parse a TrueType/OpenType font's horizontal advances. Throws on anything unexpected. */
export function parseFontMetrics(buf: Uint8Array): FontMetrics {
  const font = parseTrueType(buf);
  const cache = new Map<number, number>();
  const em = (cp: number) => {
    let w = cache.get(cp);
    if (w === undefined) {
      w = font.advance(font.glyphOf(cp)) / font.unitsPerEm;
      cache.set(cp, w);
    }
    return w;
  };
  return {
    width(text, size) {
      let w = 0;
      for (const ch of text) w += em(ch.codePointAt(0)!);
      return w * size;
    },
  };
}

export const ESTIMATE: FontMetrics = { width: (text, size) => 0.6 * [...text].length * size };

export function loadFontMetrics(file: string | undefined): FontMetrics | undefined {
  if (!file) return undefined;
  try {
    return parseFontMetrics(readFileSync(file));
  } catch {
    return undefined;
  }
}
