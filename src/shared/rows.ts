/**
 * The rows of the details table: the reference's column names with their types, so callers read
 * `row.alpha` as a number without casts. Optional column groups (mp_fit, randomize, detX, vectors,
 * TPL, clip_xmax, unpooled conv slices) are optional fields; the index signature keeps the table
 * open for columns added by extensions. After normalisation (report/columns.ts) every row of one
 * result has the same columns, missing cells null.
 */

export type Cell = number | string | boolean | null;

/** Any table row: column name → cell. Extensions return their columns as a Row. */
export type Row = Record<string, Cell | undefined>;

/** What describe() returns per layer: identity and shape columns, no spectra. */
export interface DescribeRow {
  layer_id: number;
  name: string;
  longname: string;
  layer_type: string;
  N: number;
  M: number;
  /** N / M (−1 for M = 0). */
  Q: number;
  /** Receptive field (kernel positions) of a conv layer, 1 otherwise. */
  rf: number;
  num_evals: number;
  /** pool=false: the conv kernel position this row is about. */
  slice_id?: number;
  [column: string]: Cell | undefined;
}

/** Marchenko–Pastur fit columns (mp_fit; with the `rand_` prefix under randomize). */
export interface MpFitColumns {
  num_spikes?: number;
  sigma_mp?: number;
  mp_softrank?: number;
  W_scale?: number;
  bulk_max?: number;
  bulk_min?: number;
}

/** The power-law fit's columns (a failed fit: −1 and status 'failed'). */
export interface PowerLawFitColumns {
  alpha: number;
  D: number;
  sigma: number;
  xmin: number;
  /** null unless an xmax was given or the 'ww' fitter reports one. */
  xmax: number | null;
  num_pl_spikes: number;
  status: 'success' | 'failed';
  warning: '' | 'over-trained' | 'under-trained';
  /** fit='TPL'/'E_TPL': the truncated power law's Λ. */
  Lambda?: number;
  /** fix_fingers='clip_xmax'. */
  num_fingers?: number;
  raw_alpha?: number;
}

/** One analysed layer (or conv slice with pool=false), as analyze() returns it. */
export interface DetailsRow extends DescribeRow, MpFitColumns, PowerLawFitColumns {
  has_esd: boolean;
  // Spectrum and norms.
  lambda_max: number;
  spectral_norm: number;
  log_spectral_norm: number;
  norm: number;
  log_norm: number;
  alpha_weighted: number;
  log_alpha_norm: number;
  stable_rank: number;
  matrix_rank: number;
  entropy: number;
  sv_max: number;
  sv_min: number;
  rank_loss: number;
  weak_rank_loss: number;
  /**
   * Extension column (not in the reference): the algorithm behind the row's spectrum — 'gram',
   * 'gram+lu', 'gram+qr' (svd_method 'fast'), 'gesdd' (accurate, or the fast method's fallback),
   * 'sgram', 'sgram+lu', 'sgram+qr', 'sgesdd' (precision 'float32'). See docs/numerics.md.
   */
  svd_route?: string;
  /** intra=true rows. */
  Xflag?: boolean;
  // randomize.
  max_rand_eval?: number;
  rand_distance?: number;
  ww_softrank?: number;
  ww_maxdist?: number;
  rand_num_spikes?: number;
  rand_sigma_mp?: number;
  rand_mp_softrank?: number;
  rand_W_scale?: number;
  rand_bulk_max?: number;
  rand_bulk_min?: number;
  // detX.
  detX_num?: number;
  detX_val?: number;
  detX_val_unrescaled?: number;
  // vectors.
  bulk_mean_vec_entropy?: number;
  bulk_var_vec_entropy?: number;
  bulk_mean_loc_ratio?: number;
  bulk_var_loc_ratio?: number;
  bulk_mean_part_ratio?: number;
  bulk_var_part_ratio?: number;
  tail_mean_vec_entropy?: number;
  tail_var_vec_entropy?: number;
  tail_mean_loc_ratio?: number;
  tail_var_loc_ratio?: number;
  tail_mean_part_ratio?: number;
  tail_var_part_ratio?: number;
}
