/**
 * Text widths for vega's headless layout. Without a canvas, vega estimates every string as
 * 0.8 · length · fontSize, which leaves wide gaps around titles and truncates legend labels early.
 * This reads the advance widths of the TrueType font the PNGs are drawn with (cmap format 4/12 +
 * hmtx; no kerning) so the layout matches the rendered text. Falls back to 0.6 em per character.
 */
import { readFileSync } from 'node:fs';

export interface FontMetrics {
  /** Width of `text` at `size` px. */
  width(text: string, size: number): number;
}

function tableOffsets(buf: Buffer): Map<string, number> {
  const n = buf.readUInt16BE(4);
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const rec = 12 + i * 16;
    out.set(buf.toString('latin1', rec, rec + 4), buf.readUInt32BE(rec + 8));
  }
  return out;
}

/** Parse a TrueType/OpenType font's horizontal advances. Throws on anything unexpected. */
export function parseFontMetrics(buf: Buffer): FontMetrics {
  const t = tableOffsets(buf);
  const head = t.get('head'),
    hhea = t.get('hhea'),
    hmtx = t.get('hmtx'),
    cmap = t.get('cmap');
  if (head === undefined || hhea === undefined || hmtx === undefined || cmap === undefined)
    throw new Error('font lacks head/hhea/hmtx/cmap');
  const unitsPerEm = buf.readUInt16BE(head + 18);
  const nMetrics = buf.readUInt16BE(hhea + 34);
  const advance = (glyph: number) => buf.readUInt16BE(hmtx + 4 * Math.min(glyph, nMetrics - 1));

  const nSub = buf.readUInt16BE(cmap + 2);
  let f4 = -1,
    f12 = -1;
  for (let i = 0; i < nSub; i++) {
    const rec = cmap + 4 + i * 8;
    const platform = buf.readUInt16BE(rec),
      enc = buf.readUInt16BE(rec + 2);
    const off = cmap + buf.readUInt32BE(rec + 4);
    const format = buf.readUInt16BE(off);
    if (format === 12 && (platform === 3 || platform === 0)) f12 = off;
    if (format === 4 && ((platform === 3 && (enc === 1 || enc === 0)) || platform === 0)) f4 = off;
  }
  let glyphOf: (c: number) => number;
  if (f12 >= 0) {
    const groups = buf.readUInt32BE(f12 + 12);
    glyphOf = (c) => {
      let lo = 0,
        hi = groups - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const g = f12 + 16 + mid * 12;
        const s = buf.readUInt32BE(g),
          e = buf.readUInt32BE(g + 4);
        if (c < s) hi = mid - 1;
        else if (c > e) lo = mid + 1;
        else return buf.readUInt32BE(g + 8) + (c - s);
      }
      return 0;
    };
  } else if (f4 >= 0) {
    const segX2 = buf.readUInt16BE(f4 + 6);
    const ends = f4 + 14,
      starts = ends + segX2 + 2,
      deltas = starts + segX2,
      ranges = deltas + segX2;
    glyphOf = (c) => {
      if (c > 0xffff) return 0;
      for (let i = 0; i < segX2; i += 2) {
        if (buf.readUInt16BE(ends + i) < c) continue;
        const s = buf.readUInt16BE(starts + i);
        if (s > c) return 0;
        const delta = buf.readInt16BE(deltas + i);
        const ro = buf.readUInt16BE(ranges + i);
        if (ro === 0) return (c + delta) & 0xffff;
        const g = buf.readUInt16BE(ranges + i + ro + 2 * (c - s));
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
  } else {
    throw new Error('font has no usable cmap');
  }
  const cache = new Map<number, number>();
  const em = (cp: number) => {
    let w = cache.get(cp);
    if (w === undefined) {
      w = advance(glyphOf(cp)) / unitsPerEm;
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
