export {
  WeightWatcher,
  type ModelInput,
  type ModelInputs,
  type RunInfo,
  type RunStatus,
  type RouteFallback,
  type WatcherOptions,
} from './watcher.js';
export type { DistanceResult, DistanceRow, DistanceMethod, Pairing, UnmatchedLayer } from './engine/distances.js';
export type { TransformResult, TransformedLayer, SmoothMethod } from './engine/smoothing.js';
export type { SkippedLayer, SkipKind } from './engine/plan.js';
export type { AnalyzeOptions, Progress, LayerFilter, PeftMode } from './shared/options.js';
export type { DetailsRow, DescribeRow, Row, Cell } from './shared/rows.js';
export type { Summary } from './report/summary.js';
export type { TensorStore, TensorEntry, DType, StoredTensor } from './formats/types.js';
export type { InMemoryTensor } from './formats/memory.js';
export { openModel, type OpenOptions } from './formats/open.js';
export { SafetensorsFile, SafetensorsStore } from './formats/safetensors.js';
export { openPyTorch, openPyTorchShards } from './formats/pytorch.js';
export { openOnnx } from './formats/onnx.js';
export { openGguf, ggufReadableName } from './formats/gguf.js';
export { openTfjs } from './formats/tfjs.js';
export { openKeras } from './formats/keras.js';
export { openNpy, openNpz } from './formats/npy.js';
export { lowRankApprox, lowRankApproxSync, type LowRank } from './native/binding.js';
// One matrix: scheduled (engine/svdvals.ts); the sync twins are the addon's.
export { svdvals, svdvalsDetailed } from './engine/svdvals.js';
export {
  svdvalsSync,
  svdvalsDetailedSync,
  fitPowerLaw,
  fitPowerLawSync,
  nativeInfo,
  setBlasThreads,
  type NativeFit,
  type NativeInfo,
  type SvdOptions,
  type SvdMethod,
  type SvdRoute,
  type SpectrumOptions,
  type MatrixSpectrum,
  type MatrixData,
} from './native/binding.js';
export { WeightWatcherError, LayerFailuresError, AbortedError, ERROR_CODES, type ErrorCode, type LayerFailure } from './shared/errors.js';
// One scheduler per process (engine/scheduler.ts): its thread budget, and the cancellation options of every call.
export { setThreads, type CancelOptions } from './engine/scheduler.js';
export { vectorMetrics, type VectorMetricsRow } from './metrics/vectors.js';
export type { LayerResult } from './engine/layer.js';
export { RECIPE_NAMES, type RecipeName, type RecipeOptions, type RecipeResult } from './recipes/run.js';
export type { ModelSourceOptions, ModelResolution } from './hub/resolve.js';
// The plot stack (vega, vega-lite, resvg) is not loaded by importing the package: the plot API is
// the 'weightwatcher/plots' entry (src/plots.ts); these two load it on first call.
export { renderLayerPlots, renderModelPlots } from './lazy-plots.js';
export { sweep, openResults } from './sweep/lazy.js';
export type { SweepOptions, SweepResult, SweepRun, SweepProgress } from './sweep/sweep.js';
export type { SweepResults, StoredRun, SweepPoint, LayerSeries, SummaryPoint } from './sweep/results.js';
