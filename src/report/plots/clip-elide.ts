/**
 * No-op clips removed before rasterising. Vega clips marks with `clip: true` to the plot area by a
 * <clipPath> rectangle; resvg draws every clipped group into a canvas-sized layer and masks it
 * (≈ 3 ms each at the figures' 2× scale, measured; three per layer figure). Most of those groups
 * lie wholly inside their rectangle — the clip only matters when a fit line or rule leaves the
 * axes — so a clip is dropped when the group's geometry, widened by the largest stroke and its
 * miter, provably fits inside. Anything this cannot bound (curves, nested groups, transforms other
 * than translate, unknown elements) keeps its clip. The pixels are the same either way, up to one
 * level of rounding where resvg composited the masked layer (test/report/raster-ready.test.ts).
 */

const ATTR = /\s+([a-zA-Z_:][-\w:.]*)="([^"]*)"/g;

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The SVG with clip-path references to rectangles removed where the clipped content fits inside. */
export function elideNoopClips(svg: string): string {
  if (!svg.includes('clip-path="url(#')) return svg;
  const rects = new Map<string, Box>();
  for (const m of svg.matchAll(/<clipPath id="([^"]+)"\s*>\s*<rect((?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*)\s*\/>\s*<\/clipPath>/g)) {
    const a = attributes(m[2]!);
    if ([...a.keys()].some((k) => !['x', 'y', 'width', 'height'].includes(k))) continue;
    const x = num(a.get('x') ?? '0'),
      y = num(a.get('y') ?? '0'),
      w = num(a.get('width') ?? ''),
      h = num(a.get('height') ?? '');
    if ([x, y, w, h].every(Number.isFinite) && w >= 0 && h >= 0) rects.set(m[1]!, { x0: x, y0: y, x1: x + w, y1: y + h });
  }
  if (!rects.size) return svg;
  const miter = svg.includes('stroke-miterlimit')
    ? Math.max(...[...svg.matchAll(/stroke-miterlimit="([^"]*)"/g)].map((m) => num(m[1]!)))
    : 4;
  if (!Number.isFinite(miter)) return svg;
  // Stroke properties an element does not set may be inherited: assume the widest in the document.
  const inherited: Inherited = {
    miter,
    width: Math.max(1, ...[...svg.matchAll(/stroke-width="([^"]*)"/g)].map((m) => num(m[1]!))),
    linecap: svg.includes('stroke-linecap'),
  };
  if (!Number.isFinite(inherited.width)) return svg;

  let out = '';
  let last = 0;
  const open = /<g((?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*)\s*>/g;
  for (let m = open.exec(svg); m; m = open.exec(svg)) {
    const ref = / clip-path="url\(#([^)"]+)\)"/.exec(m[1]!);
    const rect = ref && rects.get(ref[1]!);
    if (!ref || !rect) continue;
    const bodyStart = m.index + m[0].length;
    const bodyEnd = svg.indexOf('</g>', bodyStart);
    if (bodyEnd < 0) break;
    const body = svg.slice(bodyStart, bodyEnd);
    const extent = contentExtent(body, inherited);
    if (extent && extent.x0 >= rect.x0 && extent.y0 >= rect.y0 && extent.x1 <= rect.x1 && extent.y1 <= rect.y1) {
      out += svg.slice(last, m.index) + m[0].replace(ref[0], '');
      last = bodyStart;
    }
  }
  return last === 0 ? svg : out + svg.slice(last);
}

interface Inherited {
  miter: number;
  width: number;
  /** Whether any element sets stroke-linecap (an element without one may inherit it). */
  linecap: boolean;
}

/** Bounds of a group's drawing (self-closed <path>/<line> children only), or undefined if unknown. */
function contentExtent(body: string, inherited: Inherited): Box | undefined {
  if (body.includes('<g') || body.includes('</')) return undefined;
  const box: Box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  let rest = body;
  const element = /^\s*<(path|line)((?:\s+[a-zA-Z_:][-\w:.]*="[^"]*")*)\s*\/>/;
  while (rest.trim()) {
    const m = element.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    const a = attributes(m[2]!);
    if (a.get('display') === 'none') continue;
    const t = translate(a.get('transform'));
    if (!t) return undefined;
    const width = a.get('stroke') === 'none' ? 0 : a.has('stroke-width') ? num(a.get('stroke-width')!) : inherited.width;
    if (!Number.isFinite(width) || width < 0) return undefined;
    const add = (x: number, y: number, pad: number) => {
      box.x0 = Math.min(box.x0, x + t[0] - pad);
      box.y0 = Math.min(box.y0, y + t[1] - pad);
      box.x1 = Math.max(box.x1, x + t[0] + pad);
      box.y1 = Math.max(box.y1, y + t[1] + pad);
    };
    if (m[1] === 'line') {
      const p = linePoints(a);
      if (!p) return undefined;
      const [[x1, y1], [x2, y2]] = p;
      const len = Math.hypot(x2 - x1, y2 - y1);
      const cap = a.get('stroke-linecap') ?? (inherited.linecap ? undefined : 'butt');
      if (cap === 'butt' && len > 0) {
        // A butt-capped line is exactly the rectangle of its ends pushed out by half the width.
        const nx = (-(y2 - y1) / len) * (width / 2),
          ny = ((x2 - x1) / len) * (width / 2);
        for (const [x, y] of [
          [x1 + nx, y1 + ny],
          [x1 - nx, y1 - ny],
          [x2 + nx, y2 + ny],
          [x2 - nx, y2 - ny],
        ] as const)
          add(x, y, 0);
      } else for (const [x, y] of p) add(x, y, width / 2);
      continue;
    }
    const points = pathPoints(a.get('d') ?? '');
    if (!points) return undefined;
    // Half the width everywhere, and a miter join reaches out to miterlimit · width / 2.
    for (const [x, y] of points) add(x, y, (width / 2) * Math.max(1, inherited.miter));
  }
  return box;
}

function attributes(text: string): Map<string, string> {
  const a = new Map<string, string>();
  for (const m of text.matchAll(ATTR)) a.set(m[1]!, m[2]!);
  return a;
}

function translate(t: string | undefined): [number, number] | undefined {
  if (t === undefined) return [0, 0];
  const m = /^\s*translate\(\s*([-+\d.eE]+)(?:[\s,]+([-+\d.eE]+))?\s*\)\s*$/.exec(t);
  if (!m) return undefined;
  const x = num(m[1]!),
    y = num(m[2] ?? '0');
  return Number.isFinite(x) && Number.isFinite(y) ? [x, y] : undefined;
}

function linePoints(a: Map<string, string>): [[number, number], [number, number]] | undefined {
  const p = ['x1', 'y1', 'x2', 'y2'].map((k) => num(a.get(k) ?? '0'));
  return p.every(Number.isFinite)
    ? [
        [p[0]!, p[1]!],
        [p[2]!, p[3]!],
      ]
    : undefined;
}

/** Vertices of a path made of absolute M/L/H/V/Z and relative m/l/h/v/z commands; undefined for curves. */
function pathPoints(d: string): [number, number][] | undefined {
  const tokens = d.match(/[a-zA-Z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g);
  if (!tokens) return [];
  const pts: [number, number][] = [];
  let x = 0,
    y = 0,
    sx = 0,
    sy = 0,
    cmd = '';
  let i = 0;
  const next = () => num(tokens[i++] ?? '');
  while (i < tokens.length) {
    if (/[a-zA-Z]/.test(tokens[i]!)) cmd = tokens[i++]!;
    else if (!cmd) return undefined;
    switch (cmd) {
      case 'M':
      case 'L':
        x = next();
        y = next();
        break;
      case 'm':
      case 'l':
        x += next();
        y += next();
        break;
      case 'H':
        x = next();
        break;
      case 'h':
        x += next();
        break;
      case 'V':
        y = next();
        break;
      case 'v':
        y += next();
        break;
      case 'Z':
      case 'z':
        x = sx;
        y = sy;
        continue;
      default:
        return undefined;
    }
    if (!Number.isFinite(x) || !Number.isFinite(y)) return undefined;
    if (cmd === 'M' || cmd === 'm') {
      sx = x;
      sy = y;
      cmd = cmd === 'M' ? 'L' : 'l'; // further pairs after a moveto are linetos
    }
    pts.push([x, y]);
  }
  return pts;
}

function num(s: string): number {
  return s.trim() === '' ? NaN : Number(s);
}
