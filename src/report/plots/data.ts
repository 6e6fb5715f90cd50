/**
 * Numeric helpers for the figures: histograms with explicit edges (numpy semantics), linear and
 * logarithmic bin edges, the powerlaw package's log-binned pdf, and number formatting. Binning is
 * done here rather than with Vega-Lite's bin transform so every figure shows exactly the bins the
 * reference plots (R38) and the data points can be checked by tests.
 */

export interface Bin {
  /** Left edge. */
  x: number;
  /** Right edge. */
  x2: number;
  count: number;
  /** count / (n · width): numpy `density=True`. */
  density: number;
}

export function linspace(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [lo];
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((hi - lo) * i) / (n - 1);
  out[n - 1] = hi;
  return out;
}

export function logspace(lo: number, hi: number, n: number): number[] {
  return linspace(lo, hi, n).map((v) => 10 ** v);
}

export function finiteValues(values: ArrayLike<number>, keep: (v: number) => boolean = () => true): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v) && keep(v)) out.push(v);
  }
  return out;
}

export function minMax(values: readonly number[]): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** numpy.histogram with explicit edges: half-open bins, the last one closed; values outside are dropped. */
export function histogram(values: readonly number[], edges: readonly number[], density = true): Bin[] {
  const nb = edges.length - 1;
  if (nb < 1) return [];
  const counts = new Array<number>(nb).fill(0);
  const lo = edges[0]!,
    hi = edges[nb]!;
  let total = 0;
  for (const v of values) {
    if (!(v >= lo && v <= hi)) continue;
    // binary search: last edge <= v
    let a = 0,
      b = nb;
    while (b - a > 1) {
      const m = (a + b) >> 1;
      if (edges[m]! <= v) a = m;
      else b = m;
    }
    counts[a]!++;
    total++;
  }
  return counts.map((c, i) => {
    const x = edges[i]!,
      x2 = edges[i + 1]!;
    const w = x2 - x;
    return { x, x2, count: c, density: density ? (total > 0 && w > 0 ? c / (total * w) : 0) : c };
  });
}

/** Edges for `bins` equal-width bins over the data range (numpy's `bins=int`; a degenerate range is widened by ±0.5). */
export function linearEdges(values: readonly number[], bins: number): number[] {
  let [lo, hi] = minMax(values);
  if (!Number.isFinite(lo)) return [];
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return linspace(lo, hi, bins + 1);
}

/** `bins` log-spaced bins between the min and max of positive data. */
export function logEdges(values: readonly number[], bins: number): number[] {
  let [lo, hi] = minMax(values.filter((v) => v > 0));
  if (!Number.isFinite(lo)) return [];
  if (lo === hi) {
    lo /= 1.5;
    hi *= 1.5;
  }
  return logspace(Math.log10(lo), Math.log10(hi), bins + 1);
}

/**
 * powerlaw.pdf (the log-binned empirical pdf plotted by Fit.plot_pdf): ~10 bins per decade, edges
 * floored to integers after dividing by xmin when xmin < 1, then multiplied back. Returns bin
 * centres and densities (last edge ceiled), zero bins left out (the reference plots them as NaN gaps).
 */
export function powerlawPdf(tail: readonly number[]): { x: number; density: number }[] {
  if (tail.length < 2) return [];
  const [xmin, xmax] = minMax(tail);
  if (!(xmin > 0) || xmax <= xmin) return [];
  const scale = xmin < 1 ? xmin : 1;
  const lo = Math.log10(xmin / scale),
    hi = Math.log10(xmax / scale);
  const nb = Math.ceil((hi - lo) * 10);
  if (nb < 2) return [];
  const raw = logspace(lo, hi, nb).map((v, i, a) => (i < a.length - 1 ? Math.floor(v) : Math.ceil(v)));
  const edges = [...new Set(raw)].sort((a, b) => a - b).map((v) => v * scale);
  if (edges.length < 2) return [];
  return histogram(tail, edges, true)
    .filter((b) => b.count > 0)
    .map((b) => ({ x: (b.x + b.x2) / 2, density: b.density }));
}

/** The reference's 3-decimal formatting in titles; non-finite values as text. */
export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v !== 0 && (Math.abs(v) >= 1e5 || Math.abs(v) < 10 ** -digits)) return v.toExponential(digits - 1);
  return v.toFixed(digits);
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
