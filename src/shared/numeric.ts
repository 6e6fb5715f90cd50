/**
 * Small numeric helpers that reproduce numpy's semantics where the reference relies on them, so
 * results agree to the last bit instead of to ~1e-15.
 */

/** np.sum of a contiguous float64 array: numpy's pairwise summation (blocks of 128, 8 accumulators). */
export function npSum(a: ArrayLike<number>, start = 0, end = a.length): number {
  const n = end - start;
  if (n < 8) {
    let res = 0;
    for (let i = start; i < end; i++) res += a[i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!,
      r1 = a[start + 1]!,
      r2 = a[start + 2]!,
      r3 = a[start + 3]!;
    let r4 = a[start + 4]!,
      r5 = a[start + 5]!,
      r6 = a[start + 6]!,
      r7 = a[start + 7]!;
    let i = 8;
    const stop = n - (n % 8);
    for (; i < stop; i += 8) {
      const b = start + i;
      r0 += a[b]!;
      r1 += a[b + 1]!;
      r2 += a[b + 2]!;
      r3 += a[b + 3]!;
      r4 += a[b + 4]!;
      r5 += a[b + 5]!;
      r6 += a[b + 6]!;
      r7 += a[b + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return npSum(a, start, start + n2) + npSum(a, start + n2, end);
}

/** np.max semantics: NaN if any element is NaN. */
export function npMax(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (Number.isNaN(v)) return NaN;
    if (v > m) m = v;
  }
  return m;
}

export function npMin(a: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (Number.isNaN(v)) return NaN;
    if (v < m) m = v;
  }
  return m;
}

/** Mean skipping NaN (pandas Series.mean). NaN when no finite-or-infinite value remains. */
export function nanMean(values: readonly number[]): number {
  // pandas' nanmean: NaN filled with 0, np.sum (pairwise), divided by the count of non-NaN values.
  const filled = values.map((v) => (Number.isNaN(v) ? 0 : v));
  const n = values.filter((v) => !Number.isNaN(v)).length;
  return n === 0 ? NaN : npSum(filled) / n;
}

export const FLOAT64_EPS = 2.220446049250313e-16;

/** Numerically sorted copy (Float64Array sort is numeric, NaN last). */
export function sortedAscending(a: Float64Array): Float64Array {
  return Float64Array.from(a).sort();
}

/**
 * C's pow() semantics where JavaScript's `**` differs: pow(1, ±∞) = 1 and pow(1, NaN) = 1
 * (JS gives NaN). Everything else, including 0^α and x^±∞, already agrees.
 */
export function cPow(base: number, exponent: number): number {
  if (base === 1) return 1;
  if (exponent === 0) return 1;
  return base ** exponent;
}
