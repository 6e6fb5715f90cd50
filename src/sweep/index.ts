/**
 * `weightwatcher/sweep`: sweeps of many checkpoints and models into a results database (SQLite),
 * locally or over a Redis queue, and the queries and report over it. Loading this module loads
 * better-sqlite3; bullmq and ioredis load only when a queue is used (sweep({ queue }), startWorker).
 * `import 'weightwatcher'` loads none of them: its sweep() and openResults() import this module on
 * first call. `openResults` is asynchronous here as at the root (one name, one behaviour);
 * `openResultsSync` is the synchronous twin.
 */
import type { WorkerOptions, SweepWorker } from './worker.js';
import { importOptional } from '../shared/optional-import.js';

export {
  sweep,
  analysisOptionsOf,
  type SweepOptions,
  type SweepResult,
  type SweepRun,
  type SweepProgress,
  type SweepRunStatus,
} from './sweep.js';
export {
  openResults,
  openResultsSync,
  SweepResults,
  type StoredRun,
  type StoredRunWithDetails,
  type SweepInfo,
  type SweepPoint,
  type LayerSeries,
  type SummaryPoint,
  type SweepSelector,
  type StoredSpectrum,
  type SpectraState,
} from './results.js';
export { sweepReport, type SweepReportOptions, type SweepReport, type SweepIncomplete } from './report.js';
export { fingerprintModel, runKey, optionsKeyJson, type Fingerprint, type FingerprintMode } from './fingerprint.js';
export { parseStep, assignSteps, DEFAULT_STEP_PATTERN } from './steps.js';
export { expandModels, type ModelInput as SweepModelInput } from './inputs.js';
export { SCHEMA_VERSION, type RunOrigin } from './db.js';
export type { WorkerOptions, WorkerEvent, SweepWorker } from './worker.js';

/** Start a queue worker (loads bullmq). Runs until its close(). */
export async function startWorker(options: WorkerOptions): Promise<SweepWorker> {
  return (await importOptional('queue', () => import('./worker.js'))).startWorker(options);
}
