/**
 * Plot library API (re-exported by the `weightwatcher/plots` entry, src/plots.ts): Vega-Lite specs
 * for the per-layer and model-level figures, rendered headless to SVG (vega View.toSVG, renderer
 * 'none') and to PNG (resvg).
 *
 *   const ww = new WeightWatcher(path);
 *   await ww.analyze({ keep_evals: true });
 *   const svgs = await renderLayerPlots(ww.getLayerResults()[0]);   // { esd: '<svg…', … }
 *   const png = svgToPng(svgs.esd);
 */
import type { LayerResult } from '../../engine/layer.js';
import type { Row } from '../../shared/rows.js';
import { layerFigureSpecs, type LayerPlotOptions } from './layer.js';
import { modelFigureSpecs, type ModelPlotOptions } from './model.js';
import { renderSvg, type VlSpec } from './render.js';

export { renderSvg, renderBoth, compileToVega, loadPlotStack, FONT_FAMILY, type VlSpec, type VegaSpec } from './render.js';
export { svgToPng, svgToPngAsync, fontFiles, type PngOptions } from './raster.js';
export { layerFigureSpecs, layerPlotId, layerTitleId, LAYER_FIGURES, type LayerFigure, type LayerPlotOptions } from './layer.js';
export { modelFigureSpecs, alphaHistogramSpec, columnByDepthSpec, DEFAULT_DEPTH_COLUMNS, type ModelPlotOptions } from './model.js';
export { compareFigureSpec, compareFigurePanels, shortLayerNames, type CompareSeries, type ComparePanels } from './compare.js';
export { STATUS_COLORS, SERIES_COLORS, GUIDE_COLOR, seriesColor, seriesDash, simulateDeuteranopia, deuteranopeDeltaE } from './palette.js';

async function renderAll(specs: Partial<Record<string, VlSpec>>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) if (spec) out[name] = await renderSvg(spec);
  return out;
}

/**
 * A layer's figures as SVG strings, keyed by figure name (esd, esd-linear, esd-loglin, ks-vs-xmin,
 * alpha-vs-xmin, and esd-random / mp-fit / mp-fit-random when randomize / mp_fit data is present).
 * Needs the layer's eigenvalues: run analyze({ keep_evals: true }). A layer without them gives {}.
 */
export async function renderLayerPlots(layer: LayerResult, opts: LayerPlotOptions = {}): Promise<Record<string, string>> {
  return renderAll(layerFigureSpecs(layer, opts));
}

/** Model-level figures as SVG: alpha-hist and `<column>-depth` (default columns alpha, log_spectral_norm). */
export async function renderModelPlots(rows: readonly Row[], opts: ModelPlotOptions = {}): Promise<Record<string, string>> {
  return renderAll(modelFigureSpecs(rows, opts));
}
