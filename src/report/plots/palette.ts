/**
 * Every colour the figures and the HTML reports use, in one place, so that a colour means one
 * thing everywhere (issue 22):
 *
 * - STATUS: α < 2 (over-trained) is vermillion, α > 6 (under-trained) blue, 2 ≤ α ≤ 6 bluish green,
 *   a failed fit grey — in alpha-by-depth, the sweep heatmap (whose colour ramp ends in the same
 *   two colours), the counts chart, and the reports' badges, cards and table rows. No data series
 *   uses these three colours.
 * - GUIDE: reference lines (α = 2, α = 6) are dark grey and dashed, never a series colour.
 * - SERIES: models (compare), layers (sweep movers) and the marks of one layer figure take their
 *   colours from SERIES in order; past its length the line dash changes (SERIES_DASHES), so no
 *   two series of a figure share both colour and dash.
 *
 * The colours are Okabe & Ito's colour-blind-safe set (vermillion, blue, bluish green, orange, sky
 * blue, reddish purple) plus two dark tones of Paul Tol's muted set (indigo, wine). Pairs of
 * colours that a figure uses to tell series apart stay at least MIN_DELTA_E (CIEDE2000) apart
 * after a deuteranopia simulation (Machado et al. 2009, severity 1); the functions below are the
 * ones test/report/colour-vision.test.ts measures the rendered PNGs with.
 */

export const STATUS_COLORS = {
  /** α < 2: over-trained. */
  over: '#D55E00',
  /** α > 6: under-trained. */
  under: '#0072B2',
  /** 2 ≤ α ≤ 6. */
  ok: '#009E73',
  /** No fit. */
  failed: '#999999',
} as const;

/** Light backgrounds of the same meanings, for table rows. */
export const STATUS_BACKGROUNDS = { over: '#FBE3D4', under: '#D9EAF6', failed: '#EEEEEE' } as const;

/** Guide lines (α = 2 and 6, thresholds): dark grey, dashed. */
export const GUIDE_COLOR = '#555555';
export const GUIDE_DASH = [5, 4];

/** Series colours in order of use: orange, sky blue, reddish purple, indigo, wine. */
export const SERIES_COLORS = ['#E69F00', '#56B4E9', '#CC79A7', '#332288', '#882255'] as const;

/** Dash patterns for series beyond SERIES_COLORS.length (solid, dashed, dotted, dash-dot). */
export const SERIES_DASHES: readonly (readonly number[])[] = [
  [1, 0],
  [7, 3],
  [2, 2],
  [8, 3, 2, 3],
];

/** Colour of the i-th series. */
export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length]!;
}

/** Dash of the i-th series: solid for the first SERIES_COLORS.length, then the next pattern. */
export function seriesDash(i: number): number[] {
  return [...SERIES_DASHES[Math.floor(i / SERIES_COLORS.length) % SERIES_DASHES.length]!];
}

/** The marks of the per-layer figures. */
export const LAYER_COLORS = {
  /** Histogram bars of the ESD (and the original ESD in esd-random). */
  hist: SERIES_COLORS[1],
  /** Fitted curves: the tail pdf (solid), the power-law fit (dashed), the MP density. */
  fit: SERIES_COLORS[3],
  /** λ_min (xmin). */
  xmin: SERIES_COLORS[0],
  /** The MP bulk edges (not orange: the randomized ESD's bars are). */
  edge: SERIES_COLORS[2],
  /** λ_max (xmax), the Tracy–Widom spike cutoff (dashed). */
  xmax: SERIES_COLORS[4],
  /** The randomized ESD. */
  random: SERIES_COLORS[0],
  /** Largest randomized eigenvalue. */
  maxRand: SERIES_COLORS[3],
  /** Correlation traps. */
  trap: SERIES_COLORS[4],
  /** α(xmin) and D(xmin) curves. */
  curve: SERIES_COLORS[3],
} as const;

/**
 * Ramp of the sweep heatmap over α: vermillion at and below 2, white-ish at 4, blue at and above 6,
 * i.e. the status colours at both ends.
 */
export const HEATMAP_RAMP = {
  domain: [2, 3, 4, 5, 6],
  range: [STATUS_COLORS.over, '#F1A97E', '#F7F7F7', '#7FB3D9', STATUS_COLORS.under],
} as const;

/** Smallest CIEDE2000 distance between series colours after the deuteranopia simulation. */
export const MIN_DELTA_E = 12;

// ---------------------------------------------------------------- colour vision

/** sRGB components 0–255 → linear 0–1. */
function toLinear(c: number): number {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

function toSrgb(v: number): number {
  const c = Math.min(1, Math.max(0, v));
  return 255 * (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
}

/** Machado, Oliveira & Fernandes (2009), deuteranopia at severity 1.0, on linear RGB. */
const DEUTERANOPIA = [
  [0.367322, 0.860646, -0.227968],
  [0.280085, 0.672501, 0.047413],
  [-0.01182, 0.04294, 0.968881],
] as const;

export type Rgb = readonly [number, number, number];

export function hexToRgb(hex: string): Rgb {
  const h = hex.replace('#', '');
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

/** How a deuteranope sees an sRGB colour. */
export function simulateDeuteranopia(rgb: Rgb): Rgb {
  const l = rgb.map(toLinear);
  const m = DEUTERANOPIA.map((r) => toSrgb(r[0] * l[0]! + r[1] * l[1]! + r[2] * l[2]!));
  return [m[0]!, m[1]!, m[2]!];
}

/** sRGB → CIELAB (D65). */
export function rgbToLab(rgb: Rgb): Rgb {
  const [r, g, b] = rgb.map(toLinear) as [number, number, number];
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

/** CIEDE2000 colour difference of two CIELAB colours. */
export function deltaE2000(p: Rgb, q: Rgb): number {
  const [L1, a1, b1] = p;
  const [L2, a2, b2] = q;
  const rad = Math.PI / 180;
  const C1 = Math.hypot(a1, b1);
  const C2 = Math.hypot(a2, b2);
  const Cb = (C1 + C2) / 2;
  const G = 0.5 * (1 - Math.sqrt(Cb ** 7 / (Cb ** 7 + 25 ** 7)));
  const ap1 = a1 * (1 + G);
  const ap2 = a2 * (1 + G);
  const Cp1 = Math.hypot(ap1, b1);
  const Cp2 = Math.hypot(ap2, b2);
  let h1 = Math.atan2(b1, ap1) / rad;
  if (h1 < 0) h1 += 360;
  let h2 = Math.atan2(b2, ap2) / rad;
  if (h2 < 0) h2 += 360;
  const dL = L2 - L1;
  const dC = Cp2 - Cp1;
  let dh = 0;
  if (Cp1 * Cp2 !== 0) {
    dh = h2 - h1;
    if (dh > 180) dh -= 360;
    else if (dh < -180) dh += 360;
  }
  const dH = 2 * Math.sqrt(Cp1 * Cp2) * Math.sin((dh * rad) / 2);
  const Lb = (L1 + L2) / 2;
  const Cpb = (Cp1 + Cp2) / 2;
  let hb = h1 + h2;
  if (Cp1 * Cp2 !== 0) hb = Math.abs(h1 - h2) > 180 ? (h1 + h2 < 360 ? (h1 + h2 + 360) / 2 : (h1 + h2 - 360) / 2) : (h1 + h2) / 2;
  const T =
    1 -
    0.17 * Math.cos((hb - 30) * rad) +
    0.24 * Math.cos(2 * hb * rad) +
    0.32 * Math.cos((3 * hb + 6) * rad) -
    0.2 * Math.cos((4 * hb - 63) * rad);
  const dt = 30 * Math.exp(-(((hb - 275) / 25) ** 2));
  const Rc = 2 * Math.sqrt(Cpb ** 7 / (Cpb ** 7 + 25 ** 7));
  const Sl = 1 + (0.015 * (Lb - 50) ** 2) / Math.sqrt(20 + (Lb - 50) ** 2);
  const Sc = 1 + 0.045 * Cpb;
  const Sh = 1 + 0.015 * Cpb * T;
  const Rt = -Math.sin(2 * dt * rad) * Rc;
  return Math.sqrt((dL / Sl) ** 2 + (dC / Sc) ** 2 + (dH / Sh) ** 2 + Rt * (dC / Sc) * (dH / Sh));
}

/** ΔE2000 between two sRGB colours as a deuteranope sees them. */
export function deuteranopeDeltaE(a: Rgb, b: Rgb): number {
  return deltaE2000(rgbToLab(simulateDeuteranopia(a)), rgbToLab(simulateDeuteranopia(b)));
}
