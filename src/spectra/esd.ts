/**
 * The empirical spectral density of one layer (spec §2.1): squared singular values of every slice,
 * concatenated and sorted, plus the rank columns computed per slice.
 */
import { svdvals, type SvdOptions } from '../native/binding.js';
import { FLOAT64_EPS } from '../shared/numeric.js';

export interface Matrix {
  readonly data: Float32Array | Float64Array;
  readonly rows: number;
  readonly cols: number;
}

export interface Esd {
  /** Eigenvalues of WᵀW (σ²), ascending. */
  readonly evals: Float64Array;
  readonly svMax: number;
  /** Largest per-slice minimum singular value (the reference's sv_min, Q17). */
  readonly svMin: number;
  readonly rankLoss: number;
}

export interface EsdOptions extends SvdOptions {
  /** Layer N, used by the rank tolerance max(sv)·N·ε. */
  readonly N: number;
  /**
   * Intra-layer products (spec §5.14, Q15): the "eigenvalues" are the singular values themselves
   * and sv_max/sv_min/rank use their square roots, as the reference does.
   */
  readonly unsquared?: boolean;
  /**
   * Keep only the largest `keep` singular values of each matrix (the reference's num_components
   * when it is below M: LoRA products, Q31). Default: all.
   */
  readonly keep?: number;
}

class EsdAccumulator {
  private parts: Float64Array[] = [];
  private svMax = 0;
  private svMin = 0;
  private rankLoss = 0;
  constructor(
    private readonly N: number,
    private readonly unsquared = false,
    private readonly keep = Infinity,
  ) {}

  add(all: Float64Array): void {
    const singular = all.length > this.keep ? all.subarray(all.length - this.keep) : all;
    if (singular.length === 0) return;
    const sv = this.unsquared ? singular.map(Math.sqrt) : singular;
    const max = sv[sv.length - 1]!;
    const tol = max * this.N * FLOAT64_EPS;
    let rank = 0;
    for (let i = 0; i < sv.length; i++) if (sv[i]! > tol) rank++;
    this.rankLoss += sv.length - rank;
    this.svMax = Math.max(this.svMax, max);
    this.svMin = Math.max(this.svMin, sv[0]!);
    this.parts.push(this.unsquared ? singular : sv.map((x) => x * x));
  }

  finish(): Esd {
    const total = this.parts.reduce((s, p) => s + p.length, 0);
    const evals = new Float64Array(total);
    let o = 0;
    for (const p of this.parts) {
      evals.set(p, o);
      o += p.length;
    }
    evals.sort();
    return { evals, svMax: this.svMax, svMin: this.svMin, rankLoss: this.rankLoss };
  }
}

/** ESD of a layer's matrices, one SVD at a time off the event loop. */
export async function computeEsd(mats: readonly Matrix[], opts: EsdOptions): Promise<Esd> {
  const acc = new EsdAccumulator(opts.N, opts.unsquared, opts.keep);
  for (const m of mats) acc.add(await svdvals(m.data, m.rows, m.cols, opts));
  return acc.finish();
}
