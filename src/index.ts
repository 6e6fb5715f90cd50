export { WeightWatcher, type ModelInput, type RunInfo } from './watcher.js';
export type { AnalyzeOptions, Progress, LayerFilter } from './engine/options.js';
export type { Row, Cell } from './engine/extensions.js';
export type { Summary } from './report/summary.js';
export type { TensorStore, TensorEntry, DType } from './formats/types.js';
export type { InMemoryTensor } from './formats/memory.js';
export { openModel } from './formats/open.js';
export { svdvals, svdvalsSync, fitPowerLaw, fitPowerLawSync, nativeInfo, setBlasThreads, type NativeFit, type NativeInfo } from './native/binding.js';
export { WeightWatcherError, type ErrorCode } from './util/errors.js';
