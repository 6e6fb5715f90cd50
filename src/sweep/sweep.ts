/**
 * sweep(): analyse many models (checkpoints of a training run, a model zoo) into a results
 * database, skipping what is already there, locally or over a Redis queue.
 *
 *   1. expand the arguments to models and give each a step (parsed from its name, else its position);
 *   2. fingerprint each model; its run key is fingerprint + the options that change results;
 *   3. runs already stored as done are skipped (an interrupted sweep resumes where it stopped);
 *   4. the rest are analysed one model at a time in-process (one transaction per model), or, with
 *      `queue`, as BullMQ jobs — one per model, or per group of `layersPerJob` layers — worked on by
 *      `weightwatcher worker` processes on any machines (coordinator.ts);
 *   5. the runs come back in step order, from the database.
 */
import { createRequire } from 'node:module';
import type { AnalyzeOptions, Progress } from '../shared/options.js';
import type { Row } from '../shared/rows.js';
import type { SkippedLayer } from '../engine/plan.js';
import type { LayerFailure } from '../engine/analyze.js';
import { normalizeRows } from '../report/columns.js';
import { defaultNames } from '../report/compare.js';
import { summarize, type Summary } from '../report/summary.js';
import { WeightWatcherError, errorMessage, isWeightWatcherError } from '../shared/errors.js';
import { openDatabase, ResultsWriter, type RunIdentity } from './db.js';
import { expandModels, type ModelInput } from './inputs.js';
import { assignSteps, compileStepRegex, DEFAULT_STEP_PATTERN } from './steps.js';
import { fingerprintModel, optionsHash, optionsKeyJson, runKey, type FingerprintMode } from './fingerprint.js';
import { analyzePart, planGroups, type GroupPlan, type JobAnalyzeOptions } from './job.js';
import { readRun } from './results.js';

const toolVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export interface SweepOptions extends Omit<AnalyzeOptions, 'onProgress' | 'keep_evals'> {
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
}

export type RunStatus = 'analysed' | 'cached' | 'failed';

export interface SweepProgress {
  /** Models finished so far (analysed, cached or failed), and in all. */
  readonly done: number;
  readonly total: number;
  readonly model: string;
  readonly step: number;
  readonly status: RunStatus;
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
  readonly status: RunStatus;
  readonly summary: Summary;
  /** Rows with every column, as analyze() returns them. */
  readonly details: Row[];
  readonly failures: LayerFailure[];
  readonly skipped: SkippedLayer[];
  /** Where and in which format the rows were read (null for a model that could not be opened). */
  readonly source: string | null;
  readonly format: string | null;
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
] as const;

/** The analysis options inside sweep options (JSON-safe, as they travel in jobs). */
export function analysisOptionsOf(o: SweepOptions): JobAnalyzeOptions {
  const rest: Record<string, unknown> = { ...o };
  for (const k of SWEEP_ONLY) delete rest[k];
  delete rest.threads;
  return rest;
}

/** Sweep `models` (files, folders, globs) into the results database `options.db`. */
export async function sweep(models: readonly string[], options: SweepOptions): Promise<SweepResult> {
  const started = performance.now();
  if (!options || typeof options.db !== 'string' || !options.db)
    throw new WeightWatcherError('E_USAGE', 'sweep needs a results database: { db: "runs.sqlite" }');
  if (!models.length) throw new WeightWatcherError('E_USAGE', 'sweep needs at least one model (file, folder or glob)');
  const analysis = analysisOptionsOf(options);
  const keyJson = optionsKeyJson(analysis); // validates the options (E_USAGE) before any work
  const optHash = optionsHash(analysis);
  const fpMode: FingerprintMode = options.fingerprint ?? 'sampled';
  if (fpMode !== 'sampled' && fpMode !== 'full')
    throw new WeightWatcherError('E_USAGE', `fingerprint must be 'sampled' or 'full', got ${JSON.stringify(fpMode)}`);
  const layersPerJob = options.layersPerJob ?? 0;
  if (!Number.isInteger(layersPerJob) || layersPerJob < 0)
    throw new WeightWatcherError('E_USAGE', `layersPerJob must be a non-negative integer, got ${JSON.stringify(options.layersPerJob)}`);
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
    queueModule = await import('./coordinator.js');
  }

  const expanded = await expandModels(models, { stepPattern });
  const notes = expanded.notes;
  // Display names: the shortest distinguishing part of the paths (init, small-data; checkpoint-500, …).
  const names = defaultNames(expanded.models.map((m) => m.path));
  const inputs: ModelInput[] = expanded.models.map((m, i) => ({ path: m.path, label: names[i]! }));
  for (const n of notes) options.onNote?.(n);
  const { steps, parsed } = assignSteps(
    inputs.map((m) => m.path),
    stepPattern,
  );
  if (!parsed && inputs.length > 1) options.onNote?.('no checkpoint step in every model name: steps are the order given (0, 1, …)');

  const db = openDatabase(options.db);
  try {
    const writer = new ResultsWriter(db);
    const planned: Planned[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      const fp = await fingerprintModel(input.path, fpMode);
      planned.push({
        input,
        step: steps[i]!,
        position: i,
        id: {
          runKey: runKey(fp.hash, analysis),
          fingerprint: fp.hash,
          optionsHash: optHash,
          optionsJson: keyJson,
          model: input.path,
          label: input.label,
        },
      });
    }
    const ordered = [...planned].sort((a, b) => a.step - b.step || a.position - b.position);
    const sweepId = writer.startSweep(
      optHash,
      keyJson,
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

    const statusOf = new Map<string, RunStatus>();
    const errors = new Map<string, string>();
    let done = 0;
    let analysedCount = 0;
    let workStart = performance.now();
    /** One progress call per model entry with this run key (the same content may be named twice). */
    const report = (
      key: string,
      status: RunStatus,
      elapsedMs: number,
      extra: { layers?: number; error?: string; failedLayers?: number } = {},
    ) => {
      // ETA from throughput since the work began: the mean time per model locally, and the
      // rate at which results arrive from the workers with a queue.
      if (status !== 'cached') analysedCount++;
      const left = [...todo.keys()].filter((k) => !statusOf.has(k)).length;
      for (const p of ordered.filter((q) => q.id.runKey === key)) {
        done++;
        options.onProgress?.({
          done,
          total: planned.length,
          model: p.input.label,
          step: p.step,
          status,
          layers: extra.layers ?? 0,
          elapsedMs,
          sweepElapsedMs: performance.now() - started,
          etaMs: analysedCount ? ((performance.now() - workStart) / analysedCount) * left : undefined,
          failedLayers: extra.failedLayers ?? 0,
          ...(extra.error !== undefined ? { error: extra.error } : {}),
        });
      }
    };

    const describe = (e: unknown) => (isWeightWatcherError(e) ? `${e.code}: ${e.message}` : errorMessage(e));
    /** A model that could not be analysed (or planned): recorded with its error; the sweep goes on. */
    const fail = (p: Planned, message: string, elapsedMs: number) => {
      writer.writeFailedRun(p.id, message, { toolVersion });
      statusOf.set(p.id.runKey, 'failed');
      errors.set(p.id.runKey, message);
      report(p.id.runKey, 'failed', elapsedMs, { error: message });
    };

    // Cached runs first, so the progress lines say at once what will not be redone.
    for (const key of new Set(ordered.map((p) => p.id.runKey))) {
      if (!todo.has(key)) report(key, 'cached', 0, { layers: readRun(db, key)?.details.length ?? 0 });
    }

    let retries = 0;
    let stalled = 0;
    workStart = performance.now();
    try {
      if (!queueModule) {
        for (const p of todo.values()) {
          const t0 = performance.now();
          try {
            const part = await analyzePart(p.input.path, analysis, null, {
              threads: options.threads ?? null,
              onProgress: options.onLayerProgress ? (lp) => options.onLayerProgress!({ ...lp, model: p.input.label }) : undefined,
            });
            const details = normalizeRows(part.rows);
            writer.writeRun(p.id, part.rows, summarize(details), {
              source: part.source,
              format: part.format,
              skipped: part.skipped,
              failures: part.failures,
              elapsedMs: part.elapsedMs,
              toolVersion,
            });
            statusOf.set(p.id.runKey, 'analysed');
            report(p.id.runKey, 'analysed', performance.now() - t0, { layers: part.rows.length, failedLayers: part.failures.length });
          } catch (e) {
            fail(p, describe(e), performance.now() - t0);
          }
        }
      } else if (todo.size) {
        const tasks = [];
        const plans = new Map<string, GroupPlan>();
        for (const p of todo.values()) {
          try {
            const plan = await planGroups(p.input.path, analysis, layersPerJob);
            plans.set(p.id.runKey, plan);
            tasks.push({ id: p.id, path: p.input.path, fingerprintMode: fpMode, options: analysis, plan });
          } catch (e) {
            fail(p, describe(e), 0);
          }
        }
        const outcome = await queueModule.runOnQueue(tasks, writer, {
          url: options.queue!,
          ...(options.queueName !== undefined ? { queueName: options.queueName } : {}),
          ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
          removeJobs: options.db === ':memory:' ? 'at-end' : 'after-write',
          ...(options.onIdle ? { onIdle: (i: { outstanding: number }) => options.onIdle!(i) } : {}),
          ...(options.onQueued ? { onQueued: options.onQueued } : {}),
          onTaskSettled: (task, result) => {
            const stats = writer.partStats(task.id.runKey);
            if (result.status === 'failed') {
              writer.markRunFailed(task.id.runKey, result.error!, stats.attempts);
              statusOf.set(task.id.runKey, 'failed');
              errors.set(task.id.runKey, result.error!);
              report(task.id.runKey, 'failed', stats.elapsedMs, { error: result.error! });
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
            });
            statusOf.set(task.id.runKey, 'analysed');
            report(task.id.runKey, 'analysed', stats.elapsedMs, { layers: raw.length, failedLayers: failures.length });
          },
        });
        retries = outcome.retries;
        stalled = outcome.stalled;
      }
    } catch (e) {
      // Redis unreachable, the database gone…: the sweep record says it did not finish.
      writer.finishSweep(
        sweepId,
        { analysed: [...statusOf.values()].filter((v) => v === 'analysed').length, cached: 0, failed: errors.size },
        'failed',
      );
      throw e;
    }

    // Results, in step order, from the database (cached and new alike).
    const runs: SweepRun[] = ordered.map((p) => {
      const stored = readRun(db, p.id.runKey);
      const status: RunStatus = statusOf.get(p.id.runKey) ?? (stored?.status === 'done' ? 'cached' : 'failed');
      const error = errors.get(p.id.runKey) ?? stored?.error ?? undefined;
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
        ...(status === 'failed' && error ? { error } : {}),
      };
    });
    const counts = {
      analysed: runs.filter((r) => r.status === 'analysed').length,
      cached: runs.filter((r) => r.status === 'cached').length,
      failed: runs.filter((r) => r.status === 'failed').length,
    };
    writer.finishSweep(sweepId, counts, counts.failed === 0 ? 'done' : counts.failed === runs.length ? 'failed' : 'partial');
    return { runs, sweepId, ...counts, retries, stalled, elapsedMs: performance.now() - started, stepsParsed: parsed };
  } finally {
    db.close();
  }
}
