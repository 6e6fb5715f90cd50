/**
 * The 'weightwatcher/plots' entry: figures and reports. The plot stack (vega, vega-lite, resvg:
 * optional dependencies) loads on the first render, not at import, so that a missing package is an
 * E_MISSING_DEPENDENCY naming it; compileToVega, synchronous, needs `await loadPlotStack()` first.
 *
 *   import { WeightWatcher } from 'weightwatcher';
 *   import { renderLayerPlots, svgToPng } from 'weightwatcher/plots';
 *
 *   const ww = new WeightWatcher('model.safetensors');
 *   await ww.analyze({ keep_evals: true });
 *   const svgs = await renderLayerPlots(ww.getLayerResults()[0]!);   // { esd: '<svg…', … }
 *   const png = svgToPng(svgs.esd!);
 *
 * For a big model, render while analysing (ESDs are let go layer by layer) in worker threads:
 *
 *   const renderer = createPlotRenderer();                 // one worker per core
 *   const writer = await AnalyzePlotWriter.create({ renderer, dir: 'plots', formats: ['svg'] });
 *   try {
 *     await ww.analyze({ onLayer: writer.onLayer });
 *     await writer.finish(ww.getDetails()!);
 *   } finally {
 *     await renderer.close();
 *   }
 */
export {
  renderLayerPlots,
  renderModelPlots,
  svgToPng,
  svgToPngAsync,
  renderSvg,
  renderBoth,
  compileToVega,
  loadPlotStack,
  fontFiles,
  FONT_FAMILY,
  layerFigureSpecs,
  layerPlotId,
  layerTitleId,
  LAYER_FIGURES,
  modelFigureSpecs,
  alphaHistogramSpec,
  columnByDepthSpec,
  DEFAULT_DEPTH_COLUMNS,
  compareFigureSpec,
  compareFigurePanels,
  shortLayerNames,
  STATUS_COLORS,
  SERIES_COLORS,
  GUIDE_COLOR,
  type ComparePanels,
  type VlSpec,
  type VegaSpec,
  type PngOptions,
  type LayerFigure,
  type LayerPlotOptions,
  type ModelPlotOptions,
  type CompareSeries,
} from './report/plots/index.js';
export {
  createPlotRenderer,
  renderWorkerCount,
  MAX_RENDER_WORKERS,
  type PlotRenderer,
  type PlotRendererOptions,
  type RenderOptions,
  type RenderedFigure,
} from './report/plots/pool.js';
export { AnalyzePlotWriter, type PlotWriterOptions, type PlotWriterResult } from './report/plots/writer.js';
export {
  selectFigures,
  selectFormats,
  figureNamesHelp,
  DEFAULT_FIGURES,
  DEPTH_COLUMNS,
  PLOT_FORMATS,
  type FigureSelection,
  type PlotFormat,
} from './report/plots/figures.js';
export { AnalyzeReportWriter } from './report/html-writer.js';
export {
  analyzeReportHtml,
  compareReportHtml,
  sweepReportHtml,
  type AnalyzeReportData,
  type CompareReportData,
  type SweepReportData,
  type LayerSection,
} from './report/html.js';
export { interactiveSpecs } from './report/interactive.js';
