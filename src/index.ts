export { WeightWatcher, type ModelInput, type RunInfo, type RouteFallback } from './watcher.js';
export type { AnalyzeOptions, Progress, LayerFilter } from './shared/options.js';
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
export {
  svdvals, svdvalsSync, svdvalsDetailed, svdvalsDetailedSync, fitPowerLaw, fitPowerLawSync, nativeInfo, setBlasThreads,
  type NativeFit, type NativeInfo, type SvdOptions, type SvdMethod, type SvdRoute, type SpectrumOptions, type MatrixSpectrum, type MatrixData,
} from './native/binding.js';
export { WeightWatcherError, ERROR_CODES, type ErrorCode } from './shared/errors.js';
export { vectorMetrics, type VectorMetricsRow } from './metrics/vectors.js';
export { renderLayerPlots, renderModelPlots, svgToPng } from './report/plots/index.js';
export { sweep, openResults } from './sweep/lazy.js';
export type { SweepOptions, SweepResult, SweepRun, SweepProgress } from './sweep/sweep.js';
export type { SweepResults, StoredRun, SweepPoint, LayerSeries, SummaryPoint } from './sweep/results.js';
