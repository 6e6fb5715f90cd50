/**
 * A minimal TrueType reader for the figures: character → glyph (cmap formats 4 and 12), advance
 * widths (hmtx) and glyph outlines (loca + glyf, simple and composite glyphs). Vega's text layout
 * uses the advances (fontmetrics.ts); the PNG path draws text from the outlines (text-outline.ts).
 * Table layouts: the OpenType specification, https://learn.microsoft.com/typography/opentype/spec/
 * (cmap, hmtx, loca, glyf). Every read is bounds-checked: a truncated or odd font throws
 * FontError, and callers fall back (vega to its width estimate, the PNG path to resvg's own text).
 */

export class FontError extends Error {}

/** One glyph outline in font units (y up): closed contours of on-curve and quadratic segments. */
export interface GlyphOutline {
  /** Per contour: a start point, then segments: [x, y] (line) or [cx, cy, x, y] (quadratic). */
  contours: { start: [number, number]; segments: number[][] }[];
}

export interface TrueTypeFont {
  unitsPerEm: number;
  /** Glyph id of a code point; 0 (.notdef) when the font has none. */
  glyphOf(codePoint: number): number;
  /** Advance width in font units. */
  advance(glyph: number): number;
  /** Outline of a glyph (empty for spaces); throws FontError on a malformed glyph. */
  outline(glyph: number): GlyphOutline;
  /** Family name (name table, typographic family first) and style, as font matching sees them. */
  style(): { family: string | undefined; bold: boolean; italic: boolean };
}

const MAX_COMPOSITE_DEPTH = 8;

export function parseTrueType(buf: Uint8Array): TrueTypeFont {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const need = (off: number, len: number) => {
    if (!(off >= 0 && off + len <= buf.byteLength)) throw new FontError(`font data ends before byte ${off + len}`);
  };
  const u16 = (o: number) => (need(o, 2), view.getUint16(o));
  const i16 = (o: number) => (need(o, 2), view.getInt16(o));
  const u32 = (o: number) => (need(o, 4), view.getUint32(o));
  const i8 = (o: number) => (need(o, 1), view.getInt8(o));
  const u8 = (o: number) => (need(o, 1), view.getUint8(o));

  const tables = new Map<string, number>();
  const numTables = u16(4);
  for (let i = 0; i < numTables; i++) {
    const rec = 12 + i * 16;
    need(rec, 16);
    tables.set(String.fromCharCode(buf[rec]!, buf[rec + 1]!, buf[rec + 2]!, buf[rec + 3]!), u32(rec + 8));
  }
  const table = (tag: string) => {
    const off = tables.get(tag);
    if (off === undefined) throw new FontError(`font has no ${tag} table`);
    return off;
  };
  const head = table('head'),
    hhea = table('hhea'),
    hmtx = table('hmtx'),
    cmap = table('cmap');
  const unitsPerEm = u16(head + 18);
  if (!unitsPerEm) throw new FontError('font has unitsPerEm 0');
  const nMetrics = u16(hhea + 34);
  if (!nMetrics) throw new FontError('font has no horizontal metrics');
  const advance = (glyph: number) => u16(hmtx + 4 * Math.min(glyph, nMetrics - 1));
  const glyphOf = cmapLookup(cmap, u16, i16, u32);

  // Outlines are optional: a CFF font still gives advances.
  const glyf = tables.get('glyf'),
    loca = tables.get('loca'),
    maxp = tables.get('maxp');
  const longLoca = i16(head + 50) === 1;
  const numGlyphs = maxp === undefined ? 0 : u16(maxp + 4);
  const glyphRange = (g: number): [number, number] => {
    if (glyf === undefined || loca === undefined) throw new FontError('font has no TrueType outlines (glyf/loca)');
    if (!(g >= 0 && g < numGlyphs)) throw new FontError(`glyph ${g} out of range (${numGlyphs} glyphs)`);
    const a = longLoca ? u32(loca + 4 * g) : 2 * u16(loca + 2 * g);
    const b = longLoca ? u32(loca + 4 * g + 4) : 2 * u16(loca + 2 * g + 2);
    if (b < a) throw new FontError(`glyph ${g} has a negative length`);
    need(glyf + a, b - a);
    return [glyf + a, b - a];
  };

  /** Points of a glyph in font units, with contour ends and on-curve flags (composites flattened). */
  const points = (g: number, depth: number): { x: number[]; y: number[]; on: boolean[]; ends: number[] } => {
    const [at, len] = glyphRange(g);
    const out = { x: [] as number[], y: [] as number[], on: [] as boolean[], ends: [] as number[] };
    if (len === 0) return out;
    const nContours = i16(at);
    if (nContours >= 0) {
      let p = at + 10;
      for (let c = 0; c < nContours; c++, p += 2) out.ends.push(u16(p));
      const n = nContours ? out.ends[nContours - 1]! + 1 : 0;
      p += 2 + u16(p); // instructions
      const flags: number[] = [];
      while (flags.length < n) {
        const f = u8(p++);
        flags.push(f);
        if (f & 8) for (let r = u8(p++); r > 0 && flags.length < n; r--) flags.push(f);
      }
      // x then y: each a delta per point, one byte (sign from the flag) or two, or "same as before".
      const coordinates = (shortBit: number, sameBit: number) => {
        let v = 0;
        return flags.map((f) => {
          if (f & shortBit) v += f & sameBit ? u8(p++) : -u8(p++);
          else if (!(f & sameBit)) {
            v += i16(p);
            p += 2;
          }
          return v;
        });
      };
      out.x = coordinates(2, 16);
      out.y = coordinates(4, 32);
      out.on = flags.map((f) => (f & 1) !== 0);
      return out;
    }
    if (depth >= MAX_COMPOSITE_DEPTH) throw new FontError(`glyph ${g}: composite glyphs nested too deep`);
    let p = at + 10;
    for (;;) {
      const flags = u16(p),
        component = u16(p + 2);
      p += 4;
      const words = (flags & 1) !== 0; // ARG_1_AND_2_ARE_WORDS
      const dx = words ? i16(p) : i8(p),
        dy = words ? i16(p + 2) : i8(p + 1);
      p += words ? 4 : 2;
      if (!(flags & 2)) throw new FontError(`glyph ${g}: point-matched composite components are not supported`);
      let a = 1,
        b = 0,
        c = 0,
        d = 1;
      const f2dot14 = (o: number) => i16(o) / 16384;
      if (flags & 8) {
        a = d = f2dot14(p); // WE_HAVE_A_SCALE
        p += 2;
      } else if (flags & 0x40) {
        a = f2dot14(p); // WE_HAVE_AN_X_AND_Y_SCALE
        d = f2dot14(p + 2);
        p += 4;
      } else if (flags & 0x80) {
        a = f2dot14(p); // WE_HAVE_A_TWO_BY_TWO
        b = f2dot14(p + 2);
        c = f2dot14(p + 4);
        d = f2dot14(p + 6);
        p += 8;
      }
      const part = points(component, depth + 1);
      const base = out.x.length;
      for (let i = 0; i < part.x.length; i++) {
        out.x.push(a * part.x[i]! + c * part.y[i]! + dx);
        out.y.push(b * part.x[i]! + d * part.y[i]! + dy);
        out.on.push(part.on[i]!);
      }
      for (const e of part.ends) out.ends.push(base + e);
      if (!(flags & 0x20)) break;
    }
    return out;
  };

  const style = () => {
    const os2 = tables.get('OS/2');
    const macStyle = u16(head + 44);
    const weight = os2 === undefined ? (macStyle & 1 ? 700 : 400) : u16(os2 + 4);
    const italic = os2 === undefined ? (macStyle & 2) !== 0 : (u16(os2 + 62) & 1) !== 0;
    const name = tables.get('name');
    let family: string | undefined;
    if (name !== undefined) {
      const count = u16(name + 2),
        strings = name + u16(name + 4);
      let best = -1;
      for (let i = 0; i < count; i++) {
        const rec = name + 6 + i * 12;
        const platform = u16(rec),
          language = u16(rec + 4),
          id = u16(rec + 6),
          len = u16(rec + 8),
          off = strings + u16(rec + 10);
        if (id !== 1 && id !== 16) continue;
        // Windows Unicode (UTF-16BE) English names, typographic family (16) over family (1).
        if (platform !== 3 || (language & 0xff) !== 0x09) continue;
        const rank = id === 16 ? 2 : 1;
        if (rank <= best) continue;
        need(off, len);
        let str = '';
        for (let j = 0; j + 1 < len; j += 2) str += String.fromCharCode(view.getUint16(off + j));
        family = str;
        best = rank;
      }
    }
    return { family, bold: weight >= 600, italic };
  };

  return {
    unitsPerEm,
    glyphOf,
    advance,
    style,
    outline(g) {
      const { x, y, on, ends } = points(g, 0);
      const contours: GlyphOutline['contours'] = [];
      let first = 0;
      for (const end of ends) {
        if (end < first || end >= x.length) throw new FontError(`glyph ${g}: contour end ${end} out of order`);
        const c = contourSegments(x, y, on, first, end);
        if (c) contours.push(c);
        first = end + 1;
      }
      return { contours };
    },
  };
}

/** A TrueType contour (on- and off-curve points, implied on-curve midpoints) as line and quadratic segments. */
function contourSegments(
  x: number[],
  y: number[],
  on: boolean[],
  first: number,
  last: number,
): GlyphOutline['contours'][number] | undefined {
  const n = last - first + 1;
  if (n < 2) return undefined;
  const at = (i: number) => first + (((i % n) + n) % n);
  let s = 0;
  while (s < n && !on[at(s)]) s++;
  let start: [number, number];
  if (s === n) {
    // Every point off-curve: start at the midpoint of the first two.
    start = [(x[at(0)]! + x[at(1)]!) / 2, (y[at(0)]! + y[at(1)]!) / 2];
    s = 0;
  } else start = [x[at(s)]!, y[at(s)]!];
  const segments: number[][] = [];
  let control: [number, number] | undefined;
  for (let k = 1; k <= n; k++) {
    const i = at(s + k);
    const p: [number, number] = [x[i]!, y[i]!];
    if (on[i]) {
      segments.push(control ? [control[0], control[1], p[0], p[1]] : p);
      control = undefined;
    } else if (control) {
      const mid: [number, number] = [(control[0] + p[0]) / 2, (control[1] + p[1]) / 2];
      segments.push([control[0], control[1], mid[0], mid[1]]);
      control = p;
    } else control = p;
  }
  if (control) segments.push([control[0], control[1], start[0], start[1]]);
  return { start, segments };
}

function cmapLookup(
  cmap: number,
  u16: (o: number) => number,
  i16: (o: number) => number,
  u32: (o: number) => number,
): (codePoint: number) => number {
  const nSub = u16(cmap + 2);
  let f4 = -1,
    f12 = -1;
  for (let i = 0; i < nSub; i++) {
    const rec = cmap + 4 + i * 8;
    const platform = u16(rec),
      enc = u16(rec + 2);
    const off = cmap + u32(rec + 4);
    const format = u16(off);
    if (format === 12 && (platform === 3 || platform === 0)) f12 = off;
    if (format === 4 && ((platform === 3 && (enc === 1 || enc === 0)) || platform === 0)) f4 = off;
  }
  if (f12 >= 0) {
    const groups = u32(f12 + 12);
    return (c) => {
      let lo = 0,
        hi = groups - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const g = f12 + 16 + mid * 12;
        const s = u32(g),
          e = u32(g + 4);
        if (c < s) hi = mid - 1;
        else if (c > e) lo = mid + 1;
        else return u32(g + 8) + (c - s);
      }
      return 0;
    };
  }
  if (f4 >= 0) {
    const segX2 = u16(f4 + 6);
    const ends = f4 + 14,
      starts = ends + segX2 + 2,
      deltas = starts + segX2,
      ranges = deltas + segX2;
    return (c) => {
      if (c > 0xffff) return 0;
      for (let i = 0; i < segX2; i += 2) {
        if (u16(ends + i) < c) continue;
        const s = u16(starts + i);
        if (s > c) return 0;
        const delta = i16(deltas + i);
        const ro = u16(ranges + i);
        if (ro === 0) return (c + delta) & 0xffff;
        const g = u16(ranges + i + ro + 2 * (c - s));
        return g === 0 ? 0 : (g + delta) & 0xffff;
      }
      return 0;
    };
  }
  throw new FontError('font has no usable cmap (format 4 or 12)');
}
