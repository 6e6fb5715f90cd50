/**
 * Per-route totals of a run (benchmarks, `meta.route_stats`): rows, seconds spent in the native
 * decompositions and their nominal floating-point work, so GFLOP/s can be compared with the
 * machine's dgemm rate. Nominal counts (m ≥ n; a multiply-add is 2 flops): the Gram matrix m·n²
 * (?syrk) plus the tridiagonalisation 4/3·n³ (?sytrd); LU ⅔n³ (?getrf); QR 2mn² − ⅔n³ (?geqrf);
 * ?gesdd's bidiagonalisation 4mn² − 4/3·n³. Iterations and O(n²) phases are left out.
 */
import type { SvdRoute } from '../native/binding.js';
import type { LayerResult } from './layer.js';

export interface RouteStat {
  rows: number;
  /** Native seconds (summed over layers, which may run concurrently). */
  seconds: number;
  gflop: number;
}

export function nominalFlops(route: SvdRoute, m: number, n: number): number {
  const gram = m * n * n + (4 / 3) * n ** 3;
  switch (route) {
    case 'gram':
    case 'sgram':
      return gram;
    case 'gram+lu':
    case 'sgram+lu':
      return gram + (2 / 3) * n ** 3;
    case 'gram+qr':
    case 'sgram+qr':
      return gram + 2 * m * n * n - (2 / 3) * n ** 3;
    case 'gesdd':
    case 'sgesdd':
      return 4 * m * n * n - (4 / 3) * n ** 3;
  }
}

export function routeStats(results: readonly LayerResult[]): Partial<Record<SvdRoute, RouteStat>> {
  const out: Partial<Record<SvdRoute, RouteStat>> = {};
  for (const r of results) {
    if (!r.route || !r.seconds) continue;
    const { N, M, num_evals } = r.row;
    const slices = M > 0 ? Math.max(1, Math.round(num_evals / Math.min(N, M))) : 1;
    const s = (out[r.route] ??= { rows: 0, seconds: 0, gflop: 0 });
    s.rows++;
    s.seconds += r.seconds.gram + r.seconds.refine + r.seconds.gesdd;
    s.gflop += (slices * nominalFlops(r.route, Math.max(N, M), Math.min(N, M))) / 1e9;
  }
  return out;
}
