/**
 * The 'weightwatcher/plots' entry: figures and reports. Importing it loads the plot stack (vega,
 * vega-lite, resvg); importing 'weightwatcher' does not.
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
  type VlSpec,
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
export { analyzeReportHtml, compareReportHtml, type AnalyzeReportData, type CompareReportData, type LayerSection } from './report/html.js';
