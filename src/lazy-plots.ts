/**
 * The two plot functions the package root has always exported, kept there for compatibility but
 * loading the plot stack (vega, vega-lite, resvg: ≈ 0.4 s and 35 MB) on first call instead of at
 * import. Everything else of the plot API — svgToPng, the spec builders, the parallel renderer —
 * is in 'weightwatcher/plots' (src/plots.ts).
 */
import type { LayerResult } from './engine/layer.js';
import type { Row } from './shared/rows.js';
// The option types from their own modules, not from report/plots/index.js: this file's declarations
// are part of the root's, which must compile without vega's types (an optional dependency).
import type { LayerPlotOptions } from './report/plots/layer.js';
import type { ModelPlotOptions } from './report/plots/model.js';

/** A layer's figures as SVG strings by figure name (see 'weightwatcher/plots'). Needs analyze({ keep_evals: true }). */
export async function renderLayerPlots(layer: LayerResult, opts: LayerPlotOptions = {}): Promise<Record<string, string>> {
  return (await import('./report/plots/index.js')).renderLayerPlots(layer, opts);
}

/** Model-level figures as SVG: alpha-hist and `<column>-depth` (see 'weightwatcher/plots'). */
export async function renderModelPlots(rows: readonly Row[], opts: ModelPlotOptions = {}): Promise<Record<string, string>> {
  return (await import('./report/plots/index.js')).renderModelPlots(rows, opts);
}
