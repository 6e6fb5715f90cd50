/**
 * Reading a results database: runs, rows (by run or by layer across steps), summary series.
 * `openResults(file)` (async) and `openResultsSync(file)` are the library entries; sweep() and sweep-report use the same queries.
 *
 * A database holds runs (one per model content × options) and sweeps (each `sweep` call: its
 * models, their steps and order). Queries that need steps take a sweep (default: the latest);
 * `sweep: 'all'` takes every done run, each with the step of the latest sweep that named it.
 */
import type { Row } from '../shared/rows.js';
import type { Summary } from '../report/summary.js';
import { normalizeRows } from '../report/columns.js';
import { OVER_TRAINED_ALPHA, UNDER_TRAINED_ALPHA } from '../metrics/powerlaw.js';
import { WeightWatcherError } from '../shared/errors.js';
import { openDatabase, type Database, type RunOrigin } from './db.js';
import { decodeJson, decodeRow } from './codec.js';
import { compareNatural } from './steps.js';
import { decodeEvals } from './spectra.js';

export interface StoredRun {
  readonly runKey: string;
  /** Absolute path the model was analysed at. */
  readonly path: string;
  readonly label: string;
  /** A model given by name: the repo, revision, commit and snapshot it was resolved to (else null). */
  readonly origin: RunOrigin | null;
  readonly status: 'pending' | 'done' | 'failed';
  readonly fingerprint: string;
  readonly optionsHash: string;
  readonly options: Record<string, unknown>;
  readonly summary: Summary;
  readonly layers: number;
  readonly source: string | null;
  readonly format: string | null;
  readonly skipped: unknown[];
  readonly failures: unknown[];
  readonly error: string | null;
  /** Analyses (or job attempts) spent on this run so far. */
  readonly attempts: number;
  readonly elapsedMs: number | null;
  readonly toolVersion: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface StoredRunWithDetails extends StoredRun {
  readonly details: Row[];
}

export interface SweepInfo {
  readonly sweepId: number;
  readonly optionsHash: string;
  readonly options: Record<string, unknown>;
  /** Steps parsed from the model names (else positions in the order given). */
  readonly stepsParsed: boolean;
  readonly queue: string | null;
  readonly status: string;
  readonly analysed: number;
  readonly cached: number;
  readonly failed: number;
  readonly models: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

/** A run as a point of a sweep. */
export interface SweepPoint extends StoredRun {
  readonly step: number;
  readonly position: number;
  /** Label in this sweep. */
  readonly model: string;
}

export interface LayerSeries {
  readonly layer_id: number;
  readonly name: string;
  /** slice_id for unpooled conv2d rows, else undefined. */
  readonly slice_id?: number;
  /** One value per run of the sweep that has this layer, in step order. */
  readonly values: { step: number; model: string; runKey: string; value: number | null }[];
}

export interface SummaryPoint {
  readonly step: number;
  readonly model: string;
  readonly runKey: string;
  readonly summary: Summary;
  readonly layers: number;
  /** Layers with 0 ≤ alpha < 2, alpha > 6, and failed fits (alpha < 0 / missing). */
  readonly below2: number;
  readonly above6: number;
  readonly failedFits: number;
}

export type SweepSelector = number | 'latest' | 'all';

/** The eigenvalues behind a stored row (table layer_spectra). */
export interface StoredSpectrum {
  readonly layer_id: number;
  readonly name: string;
  /** slice_id for unpooled conv2d rows, else undefined. */
  readonly slice_id?: number;
  /** float32, ascending. */
  readonly evals: Float32Array;
}

/**
 * Whether a run has its layers' spectra: 'stored'; 'off' when swept with spectra: false
 * (--no-spectra); 'older' when made by a weightwatcher that stored none (schema < 3).
 */
export type SpectraState = 'stored' | 'off' | 'older';

interface RunRow {
  run_key: string;
  fingerprint: string;
  options_hash: string;
  options_json: string;
  model: string;
  label: string;
  origin_json?: string | null;
  status: StoredRun['status'];
  source: string | null;
  format: string | null;
  layers: number | null;
  summary_json: string | null;
  skipped_json: string | null;
  failures_json: string | null;
  error: string | null;
  attempts: number;
  elapsed_ms: number | null;
  tool_version: string | null;
  created_at: string;
  updated_at: string;
}

function toRun(r: RunRow): StoredRun {
  return {
    runKey: r.run_key,
    path: r.model,
    label: r.label,
    origin: r.origin_json ? (JSON.parse(r.origin_json) as RunOrigin) : null,
    status: r.status,
    fingerprint: r.fingerprint,
    optionsHash: r.options_hash,
    options: JSON.parse(r.options_json) as Record<string, unknown>,
    summary: r.summary_json ? decodeJson<Summary>(r.summary_json) : {},
    layers: r.layers ?? 0,
    source: r.source,
    format: r.format,
    skipped: r.skipped_json ? decodeJson<unknown[]>(r.skipped_json) : [],
    failures: r.failures_json ? decodeJson<unknown[]>(r.failures_json) : [],
    error: r.error,
    attempts: r.attempts,
    elapsedMs: r.elapsed_ms,
    toolVersion: r.tool_version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Rows of a run in reference order, with every column (as analyze() returns them). */
export function readRows(db: Database, runKey: string): Row[] {
  const raw = (
    db.prepare('SELECT row_json FROM layer_rows WHERE run_key = ? ORDER BY layer_id, slice').all(runKey) as { row_json: string }[]
  ).map((r) => decodeRow(r.row_json));
  return normalizeRows(raw);
}

/** One run with its rows, or undefined. */
export function readRun(db: Database, runKey: string): StoredRunWithDetails | undefined {
  const r = db.prepare('SELECT * FROM runs WHERE run_key = ?').get(runKey) as RunRow | undefined;
  return r ? { ...toRun(r), details: readRows(db, runKey) } : undefined;
}

/** Query API over a results database. */
export class SweepResults {
  private constructor(
    private readonly db: Database,
    readonly file: string,
  ) {}

  /** Open an existing database (upgrading its schema if it is older). */
  static open(file: string): SweepResults {
    return new SweepResults(openDatabase(file, { mustExist: true }), file);
  }

  sweeps(): SweepInfo[] {
    const rows = this.db
      .prepare(`SELECT s.*, (SELECT count(*) FROM sweep_models m WHERE m.sweep_id = s.sweep_id) AS models FROM sweeps s ORDER BY sweep_id`)
      .all() as {
      sweep_id: number;
      options_hash: string;
      options_json: string;
      steps_parsed: number;
      queue: string | null;
      status: string;
      analysed: number;
      cached: number;
      failed: number;
      models: number;
      started_at: string;
      finished_at: string | null;
    }[];
    return rows.map((s) => ({
      sweepId: s.sweep_id,
      optionsHash: s.options_hash,
      options: JSON.parse(s.options_json) as Record<string, unknown>,
      stepsParsed: s.steps_parsed === 1,
      queue: s.queue,
      status: s.status,
      analysed: s.analysed,
      cached: s.cached,
      failed: s.failed,
      models: s.models,
      startedAt: s.started_at,
      finishedAt: s.finished_at,
    }));
  }

  private sweepId(sel: SweepSelector): number | 'all' {
    if (sel === 'all') return 'all';
    const all = this.sweeps();
    if (!all.length) throw new WeightWatcherError('E_EMPTY', `${this.file}: no sweep recorded yet`, { file: this.file });
    if (sel === 'latest') return all[all.length - 1]!.sweepId;
    if (!all.some((s) => s.sweepId === sel))
      throw new WeightWatcherError('E_NOT_FOUND', `${this.file}: no sweep ${sel} (sweeps: ${all.map((s) => s.sweepId).join(', ')})`, {
        file: this.file,
      });
    return sel;
  }

  /** Every run stored, whatever its sweep (newest first is not implied: ordered by creation). */
  allRuns(): StoredRun[] {
    return (this.db.prepare('SELECT * FROM runs ORDER BY created_at, run_key').all() as RunRow[]).map(toRun);
  }

  /**
   * The runs of a sweep (default the latest) in step order; `'all'`: every run that some sweep named,
   * at the step of the latest sweep naming it. Runs named twice in a sweep (same content) appear once.
   */
  runs(opts: { sweep?: SweepSelector; status?: StoredRun['status'] | 'any' } = {}): SweepPoint[] {
    const id = this.sweepId(opts.sweep ?? 'latest');
    const members = (
      id === 'all'
        ? this.db
            .prepare(
              `SELECT m.* FROM sweep_models m JOIN (SELECT run_key, max(sweep_id) AS sid FROM sweep_models GROUP BY run_key) last ON last.run_key = m.run_key AND last.sid = m.sweep_id ORDER BY m.step, m.sweep_id, m.position`,
            )
            .all()
        : this.db.prepare('SELECT * FROM sweep_models WHERE sweep_id = ? ORDER BY step, position').all(id)
    ) as { run_key: string; step: number; position: number; label: string }[];
    const get = this.db.prepare('SELECT * FROM runs WHERE run_key = ?');
    const seen = new Set<string>();
    const out: SweepPoint[] = [];
    const wanted = opts.status ?? 'done';
    for (const m of members) {
      if (seen.has(m.run_key)) continue;
      seen.add(m.run_key);
      const r = get.get(m.run_key) as RunRow | undefined;
      if (!r || (wanted !== 'any' && r.status !== wanted)) continue;
      out.push({ ...toRun(r), step: m.step, position: m.position, model: m.label });
    }
    return out;
  }

  /**
   * How far a sweep got: its distinct models (run keys) and how many are done, failed, or not
   * finished (pending, or never started: a sweep killed after 2 of 6 models has 4). `complete` is
   * true when the sweep command finished and every model has a result (done or failed).
   */
  progress(opts: { sweep?: number | 'latest' } = {}): {
    models: number;
    done: number;
    failed: number;
    unfinished: number;
    status: string;
    complete: boolean;
  } {
    const id = this.sweepId(opts.sweep ?? 'latest') as number;
    const info = this.sweeps().find((x) => x.sweepId === id)!;
    const r = this.db
      .prepare(
        `SELECT count(*) AS models, sum(r.status = 'done') AS done, sum(r.status = 'failed') AS failed
         FROM (SELECT DISTINCT run_key FROM sweep_models WHERE sweep_id = ?) m LEFT JOIN runs r USING (run_key)`,
      )
      .get(id) as { models: number; done: number | null; failed: number | null };
    const done = r.done ?? 0;
    const failed = r.failed ?? 0;
    const unfinished = r.models - done - failed;
    return { models: r.models, done, failed, unfinished, status: info.status, complete: info.status !== 'running' && unfinished === 0 };
  }

  /** A run's rows (reference order, every column). */
  rows(runKey: string): Row[] {
    return readRows(this.db, runKey);
  }

  /**
   * A run's layer spectra in reference order, each with its row's name. A value whose length does
   * not match its count (a damaged file) is left out: the ESD panel then lacks that layer.
   */
  spectra(runKey: string): StoredSpectrum[] {
    const rows = this.db
      .prepare(
        `SELECT s.layer_id, s.slice, s.count, s.evals, r.name FROM layer_spectra s
         JOIN layer_rows r ON r.run_key = s.run_key AND r.layer_id = s.layer_id AND r.slice = s.slice
         WHERE s.run_key = ? ORDER BY s.layer_id, s.slice`,
      )
      .all(runKey) as { layer_id: number; slice: number; count: number; evals: Buffer; name: string }[];
    const out: StoredSpectrum[] = [];
    for (const r of rows) {
      const evals = Buffer.isBuffer(r.evals) ? decodeEvals(r.evals) : undefined;
      if (!evals || evals.length !== r.count) continue;
      out.push({ layer_id: r.layer_id, name: r.name, ...(r.slice >= 0 ? { slice_id: r.slice } : {}), evals });
    }
    return out;
  }

  /** Whether a run has its spectra (SpectraState); undefined for a run not in the database. */
  spectraState(runKey: string): SpectraState | undefined {
    const r = this.db.prepare('SELECT spectra FROM runs WHERE run_key = ?').get(runKey) as { spectra: number | null } | undefined;
    if (!r) return undefined;
    return r.spectra === 1 ? 'stored' : r.spectra === 0 ? 'off' : 'older';
  }

  /** One run with its rows. */
  run(runKey: string): StoredRunWithDetails | undefined {
    return readRun(this.db, runKey);
  }

  /**
   * A column (default alpha) per layer across the sweep's steps. Layers are matched by name (and
   * slice) and listed in natural layer order: by layer id, then natural name order (h.2 before h.10).
   */
  rowsByLayer(opts: { sweep?: SweepSelector; column?: string } = {}): LayerSeries[] {
    const column = opts.column ?? 'alpha';
    const points = this.runs({ sweep: opts.sweep ?? 'latest' });
    const layers = new Map<string, { layer_id: number; name: string; slice_id?: number; values: LayerSeries['values'] }>();
    for (const p of points) {
      for (const r of this.rows(p.runKey)) {
        const slice = typeof r.slice_id === 'number' ? r.slice_id : undefined;
        const key = `${String(r.name)}\0${slice ?? ''}`;
        let l = layers.get(key);
        if (!l) {
          l = { layer_id: Number(r.layer_id), name: String(r.name), ...(slice !== undefined ? { slice_id: slice } : {}), values: [] };
          layers.set(key, l);
        }
        l.layer_id = Math.min(l.layer_id, Number(r.layer_id));
        const v = r[column];
        l.values.push({ step: p.step, model: p.model, runKey: p.runKey, value: typeof v === 'number' && Number.isFinite(v) ? v : null });
      }
    }
    return [...layers.values()].sort(
      (a, b) => a.layer_id - b.layer_id || compareNatural(a.name, b.name) || (a.slice_id ?? -1) - (b.slice_id ?? -1),
    );
  }

  /** The summary metrics and the α < 2 / α > 6 layer counts per step. */
  summarySeries(opts: { sweep?: SweepSelector } = {}): SummaryPoint[] {
    return this.runs({ sweep: opts.sweep ?? 'latest' }).map((p) => {
      const alphas = (this.db.prepare('SELECT alpha FROM layer_rows WHERE run_key = ?').all(p.runKey) as { alpha: number | null }[]).map(
        (r) => r.alpha,
      );
      return {
        step: p.step,
        model: p.model,
        runKey: p.runKey,
        summary: p.summary,
        layers: p.layers,
        below2: alphas.filter((a) => a !== null && a >= 0 && a < OVER_TRAINED_ALPHA).length,
        above6: alphas.filter((a) => a !== null && a > UNDER_TRAINED_ALPHA).length,
        failedFits: alphas.filter((a) => a === null || a < 0).length,
      };
    });
  }

  close(): void {
    this.db.close();
  }
}

/** Open a results database for queries (asynchronous, as the root module's `openResults`, which loads SQLite first). */
export async function openResults(file: string): Promise<SweepResults> {
  return SweepResults.open(file);
}

/** Open a results database for queries, synchronously (SQLite is already loaded by this module). */
export function openResultsSync(file: string): SweepResults {
  return SweepResults.open(file);
}
