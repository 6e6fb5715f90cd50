/**
 * sweep(): analyse many models (checkpoints of a training run, a model zoo) into a results
 * database, skipping what is already there, locally or over a Redis queue.
 *
 *   1. models given by name (`org/name[@rev]`, `hf://…`, a cache folder `models--org--name`) become
 *      their cache snapshots, downloaded when missing, with the model-source options of
 *      `new WeightWatcher(model, …)`; then the arguments are expanded to models and each gets a step
 *      (parsed from its name, else its position);
 *   2. fingerprint each model; its run key is fingerprint + the options that change results;
 *   3. runs already stored as done are skipped (an interrupted sweep resumes where it stopped);
 *   4. the rest are analysed one model at a time in-process (one transaction per model), or, with
 *      `queue`, as BullMQ jobs — one per model, or per group of `layersPerJob` layers — worked on by
 *      `weightwatcher worker` processes on any machines (coordinator.ts);
 *   5. the runs come back in step order, from the database.
 */
import { createRequire } from 'node:module';
import { relative, resolve, sep } from 'node:path';
import type { AnalyzeOptions, Progress } from '../shared/options.js';
import type { Row } from '../shared/rows.js';
import type { SkippedLayer } from '../engine/plan.js';
import type { LayerFailure } from '../engine/analyze.js';
import { normalizeRows } from '../report/columns.js';
import { summarize, type Summary } from '../report/summary.js';
import { AbortedError, WeightWatcherError, errorMessage, isWeightWatcherError } from '../shared/errors.js';
import { diskFullError, openDatabase, ResultsWriter, type Database, type RunIdentity, type RunOrigin } from './db.js';
import type { ModelSourceOptions } from '../hub/resolve.js';
import { expandModels, type ModelInput } from './inputs.js';
import { modelDisplayNames } from './names.js';
import { assignSteps, compileStepRegex, DEFAULT_STEP_PATTERN } from './steps.js';
import { fingerprintModel, optionsHash, optionsKeyJson, runKey, type FingerprintMode } from './fingerprint.js';
import { abortError, cancellable, type CancelOptions } from '../engine/scheduler.js';
import { analyzePart, planGroups, type GroupPlan, type JobAnalyzeOptions } from './job.js';
import type { QueueTask } from './coordinator.js';
import type { ConnectionEvent } from './connection.js';
import { readRun } from './results.js';
import { importOptional } from '../shared/optional-import.js';

const toolVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/**
 * Where models given by name come from: the options of `new WeightWatcher(model, …)` (revision,
 * token, offline, cacheDir, file, endpoint, onDownload, retry). `stream` must stay off: a sweep keys
 * each run by the content of local files and its queue workers read them again, so names are
 * downloaded into the cache (once; later sweeps read them from there) rather than streamed.
 */
export type SweepModelSource = ModelSourceOptions;

export interface SweepOptions extends Omit<AnalyzeOptions, 'onProgress' | 'keep_evals'>, CancelOptions, SweepModelSource {
  /** SQLite file for the results (created when missing); ':memory:' keeps nothing. */
  db: string;
  /** redis://HOST:PORT: run as a coordinator, the analyses done by `weightwatcher worker` processes. */
  queue?: string;
  /** BullMQ queue name (default 'weightwatcher'). */
  queueName?: string;
  /** With `queue`: split each model into jobs of this many layers (default: one job per model). */
  layersPerJob?: number;
  /** Pattern of the checkpoint step in model names (first capture group); default: checkpoint-N, step_N, ckptN, … */
  stepRegex?: string | RegExp;
  /** 'sampled' (default: size, header and sampled blocks of each file) or 'full' (every byte). */
  fingerprint?: FingerprintMode;
  /** Analyse again even when the database has the run. */
  force?: boolean;
  /**
   * Store each row's eigenvalues (float32, 4 bytes each; about 3.7 MB per checkpoint of a 7B model)
   * for sweep-report's ESD panel (default true). Changes no stored number and no run key.
   */
  spectra?: boolean;
  /** One call per model, when it is done (analysed, found in the database, or failed). */
  onProgress?: (p: SweepProgress) => void;
  /** Per-layer progress of local analyses (the analyze() onProgress). */
  onLayerProgress?: (p: Progress & { model: string }) => void;
  /** Notes about the inputs (e.g. a folder expanded to its checkpoints). */
  onNote?: (note: string) => void;
  /** Queue: poll interval of the coordinator's safety-net check (ms). */
  pollMs?: number;
  /** Queue: after enqueueing (jobs added, found from an earlier coordinator, parts already stored). */
  onQueued?: (info: { added: number; found: number; stored: number }) => void;
  /** Queue: called about every 30 s while jobs wait and no worker is connected. */
  onIdle?: (info: { outstanding: number }) => void;
  /** Queue: the connection to Redis was lost, is being retried (one call per backoff step), or is back. */
  onConnection?: (e: ConnectionEvent) => void;
  /** Queue: jobs put back in the queue because Redis lost them (it restarted empty) or another coordinator removed them. */
  onRequeued?: (info: { jobs: number }) => void;
  /** Queue: a job whose worker stopped renewing its lock (killed, frozen) was taken back into the queue. */
  onStalled?: (info: { jobId: string; model: string; part: string }) => void;
}

/** What this sweep call did with a model (not to be confused with analyze()'s `RunStatus`: ok, partial, failed, empty). */
export type SweepRunStatus = 'analysed' | 'cached' | 'failed';

export interface SweepProgress {
  /** Models finished so far (analysed, cached or failed), and in all. */
  readonly done: number;
  readonly total: number;
  readonly model: string;
  readonly step: number;
  readonly status: SweepRunStatus;
  readonly layers: number;
  /** This model's analysis time (0 when cached). */
  readonly elapsedMs: number;
  /** Since the sweep started. */
  readonly sweepElapsedMs: number;
  /** Estimated time left (mean analysis time × models left to analyse); undefined before the first one. */
  readonly etaMs: number | undefined;
  readonly error?: string;
  readonly failedLayers: number;
}

export interface SweepRun {
  /** Display name: the shortest part of the path that tells the sweep's models apart (init, checkpoint-500). */
  readonly model: string;
  readonly path: string;
  readonly step: number;
  readonly runKey: string;
  readonly status: SweepRunStatus;
  readonly summary: Summary;
  /** Rows with every column, as analyze() returns them. */
  readonly details: Row[];
  readonly failures: LayerFailure[];
  readonly skipped: SkippedLayer[];
  /** Where and in which format the rows were read (null for a model that could not be opened). */
  readonly source: string | null;
  readonly format: string | null;
  /** A model given by name: the repo, revision, commit and snapshot it was resolved to. */
  readonly origin?: RunOrigin;
  readonly error?: string;
}

export interface SweepResult {
  /** In step order (ties: the order given). */
  readonly runs: SweepRun[];
  readonly sweepId: number;
  /** Models analysed now, found in the database, failed. */
  readonly analysed: number;
  readonly cached: number;
  readonly failed: number;
  /** Queue runs: job attempts beyond the first (retries after errors or dead workers), and stalled recoveries. */
  readonly retries: number;
  readonly stalled: number;
  readonly elapsedMs: number;
  /** True when the steps were parsed from the names (else they are positions in the order given). */
  readonly stepsParsed: boolean;
}

interface Planned {
  readonly input: ModelInput;
  readonly step: number;
  readonly position: number;
  readonly id: RunIdentity;
  /** A model given by name: the files its folder is fingerprinted by, and what a remote worker resolves. */
  readonly named?: Named;
}

/** A model given by name, resolved (step 1). */
interface Named {
  readonly origin: RunOrigin;
  /** The snapshot folder is the model: fingerprint only its weight files. */
  readonly files?: readonly string[];
  /** The repo file opened (undefined: the snapshot folder). */
  readonly file?: string;
}

const SWEEP_ONLY = [
  'db',
  'queue',
  'queueName',
  'layersPerJob',
  'stepRegex',
  'fingerprint',
  'force',
  'onProgress',
  'onLayerProgress',
  'onNote',
  'pollMs',
  'onIdle',
  'onQueued',
  'onConnection',
  'onRequeued',
  'onStalled',
  'signal',
  'timeoutMs',
  'spectra',
  // Model source (names): how models are found, not how they are analysed.
  'revision',
  'token',
  'offline',
  'cacheDir',
  'stream',
  'file',
  'endpoint',
  'onDownload',
  'retry',
] as const;

/** The analysis options inside sweep options (JSON-safe, as they travel in jobs). */
export function analysisOptionsOf(o: SweepOptions): JobAnalyzeOptions {
  const rest: Record<string, unknown> = { ...o };
  for (const k of SWEEP_ONLY) delete rest[k];
  delete rest.threads;
  return rest;
}

/** The checked settings of one sweep call. */
interface SweepSettings {
  readonly analysis: JobAnalyzeOptions;
  readonly keyJson: string;
  readonly optHash: string;
  readonly fpMode: FingerprintMode;
  readonly layersPerJob: number;
  readonly stepPattern: RegExp;
  readonly queueModule: typeof import('./coordinator.js') | undefined;
}

/** Step 1 — validate: every option checked (E_USAGE) before any file is read or any database opened. */
async function validateSweep(models: readonly string[], options: SweepOptions): Promise<SweepSettings> {
  if (!options || typeof options.db !== 'string' || !options.db)
    throw new WeightWatcherError('E_USAGE', 'sweep needs a results database: { db: "runs.sqlite" }');
  if (!models.length) throw new WeightWatcherError('E_USAGE', 'sweep needs at least one model (file, folder or glob)');
  if (options.stream)
    throw new WeightWatcherError(
      'E_USAGE',
      'stream (--stream) does not go with a sweep: it reads local files (it fingerprints each model, and queue workers read it again); drop it: models given by name are downloaded into the Hugging Face cache once, and later sweeps read them from there',
    );
  const analysis = analysisOptionsOf(options);
  const keyJson = optionsKeyJson(analysis); // validates the options (E_USAGE) before any work
  const optHash = optionsHash(analysis);
  const fpMode: FingerprintMode = options.fingerprint ?? 'sampled';
  if (fpMode !== 'sampled' && fpMode !== 'full')
    throw new WeightWatcherError('E_USAGE', `fingerprint must be 'sampled' or 'full', got ${JSON.stringify(fpMode)}`);
  const layersPerJob = options.layersPerJob ?? 0;
  if (!Number.isInteger(layersPerJob) || layersPerJob < 0)
    throw new WeightWatcherError('E_USAGE', `layersPerJob must be a non-negative integer, got ${JSON.stringify(options.layersPerJob)}`);
  if (options.spectra !== undefined && typeof options.spectra !== 'boolean')
    throw new WeightWatcherError('E_USAGE', `spectra must be true or false, got ${JSON.stringify(options.spectra)}`);
  if (options.layersPerJob !== undefined && !options.queue)
    throw new WeightWatcherError('E_USAGE', 'layersPerJob splits models into queue jobs: it needs queue (redis://HOST:PORT)');
  const stepPattern =
    options.stepRegex === undefined
      ? DEFAULT_STEP_PATTERN
      : typeof options.stepRegex === 'string'
        ? compileStepRegex(options.stepRegex)
        : options.stepRegex;
  let queueModule: typeof import('./coordinator.js') | undefined;
  if (options.queue) {
    const { parseQueueUrl, validateQueueName } = await import('./redis.js');
    parseQueueUrl(options.queue);
    if (options.queueName !== undefined) validateQueueName(options.queueName);
    queueModule = await importOptional('queue', () => import('./coordinator.js'));
  }
  return { analysis, keyJson, optHash, fpMode, layersPerJob, stepPattern, queueModule };
}

/**
 * Step 1½ — models by name: each argument that is not a glob is resolved (hub/resolve.ts): an
 * existing path stays as it is, a cache folder `models--org--name` becomes its snapshot, and a name
 * its cached snapshot, downloaded when missing. Keyed by the absolute path each became.
 */
async function resolveNames(models: readonly string[], options: SweepOptions): Promise<{ args: string[]; named: Map<string, Named> }> {
  const named = new Map<string, Named>();
  const args: string[] = [];
  let hub: typeof import('../hub/resolve.js') | undefined;
  for (const m of models) {
    if (/[*?[]/.test(m)) {
      args.push(m);
      continue;
    }
    hub ??= await import('../hub/resolve.js');
    const r = await hub.resolveModel(m, { ...sourceOf(options), ...(options.peft ? { peft: true } : {}) });
    if (r.from === 'local' || r.repo === undefined || r.commit === undefined || r.snapshot === undefined) {
      args.push(m);
      continue;
    }
    const said = hub.describeResolution(r);
    if (said !== undefined) options.onNote?.(said);
    const path = resolve(r.path);
    const folder = path === resolve(r.snapshot);
    named.set(path, {
      origin: {
        input: m,
        repo: r.repo,
        revision: r.revision ?? 'main',
        commit: r.commit,
        snapshot: r.snapshot,
        ...(r.files && { files: [...r.files] }),
      },
      ...(folder && r.files && { files: r.files }),
      ...(!folder && { file: relative(r.snapshot, r.path).split(sep).join('/') }),
    });
    args.push(path);
  }
  return { args, named };
}

/** The model-source options in sweep options (resolveModel's). */
function sourceOf(o: SweepOptions): ModelSourceOptions {
  const { revision, token, offline, cacheDir, file, endpoint, onDownload, retry } = o;
  return {
    ...(revision !== undefined && { revision }),
    ...(token !== undefined && { token }),
    ...(offline !== undefined && { offline }),
    ...(cacheDir !== undefined && { cacheDir }),
    ...(file !== undefined && { file }),
    ...(endpoint !== undefined && { endpoint }),
    ...(onDownload !== undefined && { onDownload }),
    ...(retry !== undefined && { retry }),
  };
}

/** Step 2 — plan: the models, their display names and steps, their run keys; in step order. */
async function planSweep(
  models: readonly string[],
  options: SweepOptions,
  s: SweepSettings,
): Promise<{ planned: Planned[]; ordered: Planned[]; parsed: boolean }> {
  const { args, named } = await resolveNames(models, options);
  const expanded = await expandModels(args, { stepPattern: s.stepPattern });
  // Display names: a model given by name keeps it (org/name@rev); the others get the shortest
  // distinguishing part of their paths (init, small-data; checkpoint-500, …).
  const local = expanded.models.filter((m) => !named.has(m.path));
  const localNames = new Map(modelDisplayNames(local.map((m) => m.path)).map((n, i) => [local[i]!.path, n]));
  const inputs: ModelInput[] = expanded.models.map((m) => ({
    path: m.path,
    label: named.get(m.path)?.origin.input ?? localNames.get(m.path)!,
  }));
  for (const n of expanded.notes) options.onNote?.(n);
  const { steps, parsed } = assignSteps(
    inputs.map((m) => m.path),
    s.stepPattern,
  );
  if (!parsed && inputs.length > 1) options.onNote?.('no checkpoint step in every model name: steps are the order given (0, 1, …)');
  const planned: Planned[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    const n = named.get(input.path);
    const fp = await fingerprintModel(input.path, s.fpMode, n?.files);
    planned.push({
      input,
      step: steps[i]!,
      position: i,
      id: {
        runKey: runKey(fp.hash, s.analysis),
        fingerprint: fp.hash,
        optionsHash: s.optHash,
        optionsJson: s.keyJson,
        model: input.path,
        label: input.label,
        ...(n && { origin: n.origin }),
      },
      ...(n && { named: n }),
    });
  }
  const ordered = [...planned].sort((a, b) => a.step - b.step || a.position - b.position);
  return { planned, ordered, parsed };
}

/** What the run steps record as they go, and the progress calls they make. */
class SweepTally {
  readonly statusOf = new Map<string, SweepRunStatus>();
  readonly errors = new Map<string, string>();
  private done = 0;
  private analysedCount = 0;
  workStart = performance.now();

  constructor(
    private readonly ordered: readonly Planned[],
    private readonly todo: ReadonlyMap<string, Planned>,
    private readonly total: number,
    private readonly started: number,
    private readonly onProgress: SweepOptions['onProgress'],
  ) {}

  /** One progress call per model entry with this run key (the same content may be named twice). */
  report(
    key: string,
    status: SweepRunStatus,
    elapsedMs: number,
    extra: { layers?: number; error?: string; failedLayers?: number } = {},
  ): void {
    if (status !== 'cached') this.statusOf.set(key, status);
    if (extra.error !== undefined) this.errors.set(key, extra.error);
    // ETA from throughput since the work began: the mean time per model locally, and the rate at
    // which results arrive from the workers with a queue.
    if (status !== 'cached') this.analysedCount++;
    const left = [...this.todo.keys()].filter((k) => !this.statusOf.has(k)).length;
    for (const p of this.ordered.filter((q) => q.id.runKey === key)) {
      this.done++;
      this.onProgress?.({
        done: this.done,
        total: this.total,
        model: p.input.label,
        step: p.step,
        status,
        layers: extra.layers ?? 0,
        elapsedMs,
        sweepElapsedMs: performance.now() - this.started,
        etaMs: this.analysedCount ? ((performance.now() - this.workStart) / this.analysedCount) * left : undefined,
        failedLayers: extra.failedLayers ?? 0,
        ...(extra.error !== undefined ? { error: extra.error } : {}),
      });
    }
  }
}

function describeError(e: unknown): string {
  return isWeightWatcherError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
}

/** A model that could not be analysed (or planned): recorded with its error; the sweep goes on. */
function failRun(writer: ResultsWriter, tally: SweepTally, p: Planned, message: string, elapsedMs: number): void {
  writer.writeFailedRun(p.id, message, { toolVersion });
  tally.report(p.id.runKey, 'failed', elapsedMs, { error: message });
}

/** Step 3a — run locally: one model at a time in-process, one transaction per model. */
async function runLocal(
  todo: Iterable<Planned>,
  options: SweepOptions,
  s: SweepSettings,
  writer: ResultsWriter,
  tally: SweepTally,
): Promise<void> {
  // signal / timeoutMs (engine/scheduler.ts): no model or layer starts after an abort, and the sweep
  // rejects with the AbortedError; the models already stored stay stored.
  await cancellable(options, (signal) => runLocalUntil(signal, todo, options, s, writer, tally));
}

async function runLocalUntil(
  signal: AbortSignal | undefined,
  todo: Iterable<Planned>,
  options: SweepOptions,
  s: SweepSettings,
  writer: ResultsWriter,
  tally: SweepTally,
): Promise<void> {
  for (const p of todo) {
    if (signal?.aborted) throw abortError(signal);
    const t0 = performance.now();
    try {
      const part = await analyzePart(p.input.path, s.analysis, null, {
        ...(signal ? { signal } : {}),
        threads: options.threads ?? null,
        onProgress: options.onLayerProgress ? (lp) => options.onLayerProgress!({ ...lp, model: p.input.label }) : undefined,
        spectra: options.spectra !== false,
      });
      const details = normalizeRows(part.rows);
      writer.writeRun(
        p.id,
        part.rows,
        summarize(details),
        {
          source: part.source,
          format: part.format,
          skipped: part.skipped,
          failures: part.failures,
          elapsedMs: part.elapsedMs,
          toolVersion,
        },
        part.spectra ?? null,
      );
      tally.report(p.id.runKey, 'analysed', performance.now() - t0, { layers: part.rows.length, failedLayers: part.failures.length });
    } catch (e) {
      if (e instanceof AbortedError) throw e; // cancelled, not failed: the model is left to a later sweep
      // The database cannot be written (a full disk): stop, rather than record every model as failed.
      const full = diskFullError(options.db, e);
      if (full) throw full;
      failRun(writer, tally, p, describeError(e), performance.now() - t0);
    }
  }
}

/** Step 3b — run on the queue: plan the jobs, hand them to the coordinator, close each run as its parts arrive. */
async function runQueued(
  todo: Iterable<Planned>,
  options: SweepOptions,
  s: SweepSettings,
  writer: ResultsWriter,
  tally: SweepTally,
): Promise<{ retries: number; stalled: number }> {
  const tasks: QueueTask[] = [];
  const plans = new Map<string, GroupPlan>();
  for (const p of todo) {
    try {
      const plan = await planGroups(p.input.path, s.analysis, s.layersPerJob);
      plans.set(p.id.runKey, plan);
      const n = p.named;
      tasks.push({
        id: p.id,
        path: p.input.path,
        fingerprintMode: s.fpMode,
        options: s.analysis,
        plan,
        spectra: options.spectra !== false,
        ...(n?.files && { files: n.files }),
        ...(n && { hub: { repo: n.origin.repo, commit: n.origin.commit, ...(n.file !== undefined && { file: n.file }) } }),
      });
    } catch (e) {
      failRun(writer, tally, p, describeError(e), 0);
    }
  }
  if (!tasks.length) return { retries: 0, stalled: 0 };
  // signal / timeoutMs: the coordinator stops waiting and rejects; what is stored stays stored, and
  // the queued jobs stay for the next run of the same sweep (CoordinatorOptions.signal).
  return cancellable(options, (signal) => runTasksOnQueue(tasks, plans, options, s, writer, tally, signal));
}

async function runTasksOnQueue(
  tasks: QueueTask[],
  plans: ReadonlyMap<string, GroupPlan>,
  options: SweepOptions,
  s: SweepSettings,
  writer: ResultsWriter,
  tally: SweepTally,
  signal: AbortSignal | undefined,
): Promise<{ retries: number; stalled: number }> {
  const outcome = await s.queueModule!.runOnQueue(tasks, writer, {
    signal,
    url: options.queue!,
    ...(options.queueName !== undefined ? { queueName: options.queueName } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    removeJobs: options.db === ':memory:' ? 'at-end' : 'after-write',
    consumer: options.db === ':memory:' ? undefined : options.db,
    ...(options.onIdle ? { onIdle: (i: { outstanding: number }) => options.onIdle!(i) } : {}),
    ...(options.onQueued ? { onQueued: options.onQueued } : {}),
    ...(options.onConnection ? { onConnection: options.onConnection } : {}),
    ...(options.onRequeued ? { onRequeued: options.onRequeued } : {}),
    ...(options.onStalled ? { onStalled: (i) => options.onStalled!({ jobId: i.jobId, model: i.task.id.label, part: i.part }) } : {}),
    onTaskSettled: (task, result) => {
      const stats = writer.partStats(task.id.runKey);
      if (result.status === 'failed') {
        writer.markRunFailed(task.id.runKey, result.error!, stats.attempts);
        tally.report(task.id.runKey, 'failed', stats.elapsedMs, { error: result.error! });
        return;
      }
      // Rows of every part, merged in reference order, normalised and summarised as one run.
      const raw = writer.storedRows(task.id.runKey);
      const details = normalizeRows(raw);
      const failures = writer.partFailures(task.id.runKey) as LayerFailure[];
      const plan = plans.get(task.id.runKey)!;
      writer.finishQueuedRun(task.id, raw, summarize(details), {
        source: plan.source,
        format: plan.format,
        skipped: plan.skipped,
        failures,
        elapsedMs: stats.elapsedMs,
        toolVersion,
        spectra: task.spectra === true,
      });
      tally.report(task.id.runKey, 'analysed', stats.elapsedMs, { layers: raw.length, failedLayers: failures.length });
    },
  });
  return { retries: outcome.retries, stalled: outcome.stalled };
}

/** Step 4 — report: the runs in step order, from the database (cached and new alike). */
function collectRuns(db: Database, ordered: readonly Planned[], tally: SweepTally): SweepRun[] {
  return ordered.map((p) => {
    const stored = readRun(db, p.id.runKey);
    const status: SweepRunStatus = tally.statusOf.get(p.id.runKey) ?? (stored?.status === 'done' ? 'cached' : 'failed');
    const error = tally.errors.get(p.id.runKey) ?? stored?.error ?? undefined;
    return {
      model: p.input.label,
      path: p.input.path,
      step: p.step,
      runKey: p.id.runKey,
      status,
      summary: stored?.summary ?? {},
      details: stored?.status === 'done' ? stored.details : [],
      failures: (stored?.failures ?? []) as LayerFailure[],
      skipped: (stored?.skipped ?? []) as SkippedLayer[],
      source: stored?.source ?? null,
      format: stored?.format ?? null,
      ...(stored?.origin ? { origin: stored.origin } : {}),
      ...(status === 'failed' && error ? { error } : {}),
    };
  });
}

/** Sweep `models` (files, folders, globs) into the results database `options.db`. */
export async function sweep(models: readonly string[], options: SweepOptions): Promise<SweepResult> {
  const started = performance.now();
  const settings = await validateSweep(models, options);
  const { planned, ordered, parsed } = await planSweep(models, options, settings);

  const db = openDatabase(options.db);
  try {
    const writer = new ResultsWriter(db);
    const sweepId = writer.startSweep(
      settings.optHash,
      settings.keyJson,
      parsed,
      options.queue ?? null,
      planned.map((p) => ({ model: p.input.path, label: p.input.label, step: p.step, runKey: p.id.runKey })),
    );
    // Work: each run key once (the same content named twice is analysed once).
    const todo = new Map<string, Planned>();
    for (const p of ordered) {
      if (todo.has(p.id.runKey)) continue;
      if (!options.force && writer.status(p.id.runKey)?.status === 'done') continue;
      todo.set(p.id.runKey, p);
    }
    const tally = new SweepTally(ordered, todo, planned.length, started, options.onProgress);
    // Cached runs first, so the progress lines say at once what will not be redone.
    for (const key of new Set(ordered.map((p) => p.id.runKey))) {
      if (!todo.has(key)) tally.report(key, 'cached', 0, { layers: readRun(db, key)?.details.length ?? 0 });
    }

    let queueStats = { retries: 0, stalled: 0 };
    tally.workStart = performance.now();
    try {
      if (!settings.queueModule) await runLocal(todo.values(), options, settings, writer, tally);
      else if (todo.size) queueStats = await runQueued(todo.values(), options, settings, writer, tally);
    } catch (e) {
      // Redis unreachable, the database gone…: the sweep record says it did not finish (when it can
      // still be written: on a full disk it stays 'running', which sweep-report also calls incomplete).
      const statuses = [...tally.statusOf.values()];
      try {
        writer.finishSweep(
          sweepId,
          { analysed: statuses.filter((v) => v === 'analysed').length, cached: 0, failed: tally.errors.size },
          'failed',
        );
      } catch {
        // the error below says why
      }
      throw diskFullError(options.db, e) ?? e;
    }

    const runs = collectRuns(db, ordered, tally);
    const counts = {
      analysed: runs.filter((r) => r.status === 'analysed').length,
      cached: runs.filter((r) => r.status === 'cached').length,
      failed: runs.filter((r) => r.status === 'failed').length,
    };
    writer.finishSweep(sweepId, counts, counts.failed === 0 ? 'done' : counts.failed === runs.length ? 'failed' : 'partial');
    return { runs, sweepId, ...counts, ...queueStats, elapsedMs: performance.now() - started, stepsParsed: parsed };
  } catch (e) {
    throw diskFullError(options.db, e) ?? e;
  } finally {
    db.close();
  }
}
