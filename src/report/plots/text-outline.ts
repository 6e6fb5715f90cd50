/**
 * Text as outlines for the PNG path. resvg lays out every <text> element by re-parsing the font
 * face it uses (≈ 0.2 ms per element with DejaVu Sans, measured; a figure has 25–75 of them, so
 * ≈ 12 ms of a figure's 40 ms went into text). The figures' text is simple — one font, one size,
 * an anchor and a transform per element, as vega writes it — so this draws it as glyph outlines
 * from the font file itself (truetype.ts), glyphs cached per size, and hands resvg paths.
 *
 * Only elements it can draw exactly as resvg would (apart from kerning, which vega's layout does
 * not use either: fontmetrics.ts) are converted; anything else — other attributes, inherited
 * styles, a family or weight not loaded, characters the font lacks or scripts that need shaping,
 * whitespace that SVG would collapse — is left as <text> for resvg. A document with a <style>
 * element is left alone entirely.
 */
import { parseTrueType, type TrueTypeFont } from './truetype.js';

/** A loaded face and the family/weight it answers to. */
export interface OutlineFace {
  family: string;
  bold: boolean;
  font: TrueTypeFont;
}

interface GlyphPath {
  /** Per contour: start in hundredths of a px (glyph origin, y down) and the relative path after it. */
  contours: { x: number; y: number; rel: string }[];
  advance: number;
}

const ATTRIBUTES = new Set([
  'text-anchor',
  'transform',
  'font-family',
  'font-size',
  'font-weight',
  'fill',
  'opacity',
  'fill-opacity',
  'class',
  'role',
  'pointer-events',
  'aria-hidden',
]);
const ATTR = /\s+([a-zA-Z_:][-\w:.]*)="([^"]*)"/g;
const TEXT = /<text((?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*)\s*>((?:[^<]|<tspan(?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*\s*>[^<]*<\/tspan>)*)<\/text>/g;
const EMPTY_TEXT = /<text(?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*\s*\/>/g;
const TSPAN = /<tspan((?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*)\s*>([^<]*)<\/tspan>/g;

export class TextOutliner {
  private readonly glyphs = new Map<string, GlyphPath | null>();

  constructor(
    private readonly faces: readonly OutlineFace[],
    private readonly defaultFamily: string,
  ) {}

  /** Faces from font files' bytes; fonts it cannot read, and italic faces, are skipped. */
  static fromFonts(fonts: readonly Uint8Array[], defaultFamily: string): TextOutliner {
    const faces: OutlineFace[] = [];
    for (const data of fonts) {
      try {
        const font = parseTrueType(data);
        const style = font.style();
        if (!style.italic && style.family) faces.push({ family: style.family, bold: style.bold, font });
      } catch {
        // not a font we can outline: resvg still draws its text
      }
    }
    return new TextOutliner(faces, defaultFamily);
  }

  get usable(): boolean {
    return this.faces.length > 0;
  }

  /** The SVG with every <text> it can draw exactly replaced by a <path>. */
  outline(svg: string): string {
    if (!svg.includes('<text')) return svg;
    svg = svg.replace(EMPTY_TEXT, ''); // draws nothing, but costs resvg a font lookup
    if (!this.usable || svg.includes('<style')) return svg;
    return svg.replace(TEXT, (whole, attrs: string, body: string) => this.element(attrs, body) ?? whole);
  }

  private element(attrText: string, body: string): string | undefined {
    const attrs = new Map<string, string>();
    for (const m of attrText.matchAll(ATTR)) {
      if (!ATTRIBUTES.has(m[1]!) && !m[1]!.startsWith('aria-')) return undefined;
      attrs.set(m[1]!, m[2]!);
    }
    const fill = attrs.get('fill');
    const size = /^(\d+(?:\.\d+)?)(?:px)?$/.exec(attrs.get('font-size') ?? '');
    if (!fill || !size) return undefined;
    const opacity = num(attrs.get('opacity') ?? '1') * num(attrs.get('fill-opacity') ?? '1');
    if (!(opacity >= 0 && opacity <= 1)) return undefined;
    if (opacity === 0) return ''; // invisible (vega hides overlapping labels this way)
    const face = this.face(attrs.get('font-family') ?? '', attrs.get('font-weight') ?? 'normal');
    const anchor = attrs.get('text-anchor') ?? 'start';
    if (!face || !['start', 'middle', 'end'].includes(anchor)) return undefined;

    // Lines: plain text, or tspans where each later one starts a new chunk at x, dy below.
    const lines: { x: number; dy: number; text: string }[] = [];
    if (body.includes('<tspan')) {
      if (body.replace(TSPAN, '').trim()) return undefined; // text between tspans
      for (const m of body.matchAll(TSPAN)) {
        const a = new Map([...m[1]!.matchAll(ATTR)].map((x) => [x[1]!, x[2]!]));
        if ([...a.keys()].some((k) => k !== 'x' && k !== 'dy')) return undefined;
        if (lines.length && !a.has('x')) return undefined; // a continuation of the same chunk
        lines.push({ x: num(a.get('x') ?? '0'), dy: num(a.get('dy') ?? '0'), text: m[2]! });
      }
    } else lines.push({ x: 0, dy: 0, text: body });

    const px = Number(size[1]);
    let d = '';
    let y = 0;
    for (const line of lines) {
      const text = decodeEntities(line.text);
      if (text === undefined || !Number.isFinite(line.x) || !Number.isFinite(line.dy)) return undefined;
      if (/^\s|\s$|\s\s|[\t\n\r]/.test(text)) return undefined; // SVG whitespace rules would change it
      y += line.dy;
      const glyphs: GlyphPath[] = [];
      let width = 0;
      for (const ch of text) {
        const g = this.glyph(face, ch.codePointAt(0)!, px);
        if (!g) return undefined;
        glyphs.push(g);
        width += g.advance;
      }
      let pen = line.x - (anchor === 'middle' ? width / 2 : anchor === 'end' ? width : 0);
      for (const g of glyphs) {
        for (const c of g.contours) d += `M${fmt(pen + c.x / 100)},${fmt(y + c.y / 100)}${c.rel}`;
        pen += g.advance;
      }
    }
    if (!d) return '';
    const transform = attrs.get('transform');
    return (
      `<path${transform ? ` transform="${transform}"` : ''} fill="${fill}"` +
      (opacity < 1 ? ` fill-opacity="${opacity}"` : '') +
      ` d="${d}"/>`
    );
  }

  /** The face resvg would pick: the first listed family that is loaded, 'sans-serif' meaning the default. */
  private face(familyList: string, weight: string): OutlineFace | undefined {
    const bold = weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
    if (!bold && !['normal', '400', ''].includes(weight)) return undefined;
    for (const raw of familyList.split(',')) {
      let family = raw.trim().replace(/^['"]|['"]$/g, '');
      if (family === 'sans-serif') family = this.defaultFamily;
      const faces = this.faces.filter((f) => f.family.toLowerCase() === family.toLowerCase());
      if (faces.length) return faces.find((f) => f.bold === bold);
    }
    return undefined;
  }

  private glyph(face: OutlineFace, cp: number, px: number): GlyphPath | undefined {
    // Scripts that need shaping (right-to-left, combining marks, Indic, CJK …): leave to resvg.
    if (cp < 0x20 || (cp >= 0x0300 && cp < 0x0370) || (cp >= 0x0590 && cp < 0x2000) || cp >= 0x2e00) return undefined;
    const key = `${face.family}|${face.bold ? 1 : 0}|${cp}|${px}`;
    let g = this.glyphs.get(key);
    if (g === undefined) {
      g = glyphPath(face.font, cp, px) ?? null;
      this.glyphs.set(key, g);
    }
    return g ?? undefined;
  }
}

function glyphPath(font: TrueTypeFont, cp: number, px: number): GlyphPath | undefined {
  const id = font.glyphOf(cp);
  if (id === 0) return undefined;
  let outline;
  try {
    outline = font.outline(id);
  } catch {
    return undefined;
  }
  const k = px / font.unitsPerEm;
  // Coordinates in hundredths of a px, y down; relative steps between rounded points, so a
  // contour closes where it started however many segments it has.
  const h = (v: number) => Math.round(v * k * 100);
  const contours = outline.contours.map(({ start, segments }) => {
    let cx = h(start[0]),
      cy = -h(start[1]);
    const x0 = cx,
      y0 = cy;
    let rel = '';
    for (const s of segments) {
      if (s.length === 2) {
        const x = h(s[0]!),
          y = -h(s[1]!);
        rel += `l${(x - cx) / 100},${(y - cy) / 100}`;
        cx = x;
        cy = y;
      } else {
        const qx = h(s[0]!),
          qy = -h(s[1]!),
          x = h(s[2]!),
          y = -h(s[3]!);
        rel += `q${(qx - cx) / 100},${(qy - cy) / 100},${(x - cx) / 100},${(y - cy) / 100}`;
        cx = x;
        cy = y;
      }
    }
    return { x: x0, y: y0, rel: rel + 'z' };
  });
  return { contours, advance: font.advance(id) * k };
}

function num(s: string): number {
  return s.trim() === '' ? NaN : Number(s);
}

function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML character references and the five predefined entities; undefined for anything else. */
function decodeEntities(s: string): string | undefined {
  if (/&(?!#x[0-9a-fA-F]+;|#[0-9]+;|[a-zA-Z]+;)/.test(s)) return undefined; // a bare '&' is not XML
  let bad = false;
  const out = s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (_m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (cp > 0x10ffff) {
        bad = true;
        return '';
      }
      return String.fromCodePoint(cp);
    }
    const v = NAMED[e];
    if (v === undefined) bad = true;
    return v ?? '';
  });
  return bad ? undefined : out;
}
