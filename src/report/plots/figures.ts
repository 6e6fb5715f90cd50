/**
 * Figure names and output formats as users choose them (`--plot-figures`, `--plot-format`, the
 * `figures` option of the plot writer): the per-layer figures of layer.ts and the model figures of
 * model.ts (`alpha-hist` and `<column>-depth`). Names are checked up front, with the valid ones in
 * the message, so a typo fails before the analysis rather than after it.
 */
import { WeightWatcherError } from '../../shared/errors.js';
import { LAYER_FIGURES, type LayerFigure } from './layer.js';
import { DEFAULT_DEPTH_COLUMNS } from './model.js';

/**
 * Numeric columns that `<column>-depth` can plot: the reference's per-layer metrics and the
 * optional column groups (mp_fit, randomize, detX, vectors, TPL, clip_xmax).
 */
export const DEPTH_COLUMNS = [
  'alpha',
  'alpha_weighted',
  'log_alpha_norm',
  'log_norm',
  'log_spectral_norm',
  'stable_rank',
  'entropy',
  'spectral_norm',
  'norm',
  'D',
  'sigma',
  'xmin',
  'xmax',
  'num_pl_spikes',
  'lambda_max',
  'sv_max',
  'sv_min',
  'matrix_rank',
  'rank_loss',
  'weak_rank_loss',
  'num_evals',
  'N',
  'M',
  'Q',
  'Lambda',
  'raw_alpha',
  'num_fingers',
  'num_spikes',
  'sigma_mp',
  'mp_softrank',
  'W_scale',
  'bulk_max',
  'bulk_min',
  'max_rand_eval',
  'rand_distance',
  'ww_softrank',
  'ww_maxdist',
  'rand_num_spikes',
  'rand_sigma_mp',
  'rand_mp_softrank',
  'detX_num',
  'detX_val',
  'detX_val_unrescaled',
  'bulk_mean_vec_entropy',
  'bulk_mean_loc_ratio',
  'bulk_mean_part_ratio',
  'tail_mean_vec_entropy',
  'tail_mean_loc_ratio',
  'tail_mean_part_ratio',
] as const;

export const ALPHA_HISTOGRAM = 'alpha-hist';

/** The figures of one run: per-layer figure names, and the model figures. */
export interface FigureSelection {
  readonly layer: readonly LayerFigure[];
  /** Draw the alpha histogram. */
  readonly histogram: boolean;
  /** Columns drawn by depth (`<column>-depth`). */
  readonly depthColumns: readonly string[];
}

/** Today's default: every layer figure the data allows, alpha-hist, alpha-depth and log_spectral_norm-depth. */
export const DEFAULT_FIGURES: FigureSelection = { layer: LAYER_FIGURES, histogram: true, depthColumns: DEFAULT_DEPTH_COLUMNS };

export function figureNamesHelp(): string {
  return `layer figures: ${LAYER_FIGURES.join(', ')}; model figures: ${ALPHA_HISTOGRAM}, <column>-depth for a numeric column (${DEPTH_COLUMNS.join(', ')})`;
}

/** `['esd', 'alpha-depth', …]` → the selection; unknown names throw E_USAGE listing the valid ones. */
export function selectFigures(names: readonly string[]): FigureSelection {
  const layer = new Set<LayerFigure>();
  const depth: string[] = [];
  let histogram = false;
  const bad: string[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (!name) continue;
    if ((LAYER_FIGURES as readonly string[]).includes(name)) layer.add(name as LayerFigure);
    else if (name === ALPHA_HISTOGRAM) histogram = true;
    else if (name.endsWith('-depth') && (DEPTH_COLUMNS as readonly string[]).includes(name.slice(0, -'-depth'.length))) {
      const col = name.slice(0, -'-depth'.length);
      if (!depth.includes(col)) depth.push(col);
    } else bad.push(name);
  }
  if (bad.length)
    throw new WeightWatcherError(
      'E_USAGE',
      `unknown figure${bad.length > 1 ? 's' : ''} ${bad.map((b) => `'${b}'`).join(', ')}; valid: ${figureNamesHelp()}`,
    );
  if (!layer.size && !histogram && !depth.length) throw new WeightWatcherError('E_USAGE', `no figures named; valid: ${figureNamesHelp()}`);
  // Layer figures in their canonical order, whatever order they were named in.
  return { layer: LAYER_FIGURES.filter((f) => layer.has(f)), histogram, depthColumns: depth };
}

export const PLOT_FORMATS = ['svg', 'png'] as const;
export type PlotFormat = (typeof PLOT_FORMATS)[number];

/** `svg` | `png` | `both` → the formats to write. */
export function selectFormats(value: string): PlotFormat[] {
  const v = value.trim().toLowerCase();
  if (v === 'both') return ['svg', 'png'];
  if (v === 'svg' || v === 'png') return [v];
  throw new WeightWatcherError('E_USAGE', `unknown plot format '${value}'; valid: svg, png, both`);
}
