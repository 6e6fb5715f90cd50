/**
 * The results database (SQLite through better-sqlite3): schema, migrations and writes.
 *
 * - The schema version lives in `PRAGMA user_version`; MIGRATIONS[i] takes version i to i + 1, each
 *   in its own transaction, so a database written by an older weightwatcher is upgraded on open and
 *   one written by a newer one is refused with a message instead of being misread.
 * - WAL journal: readers (sweep-report, openResults) never block the writer, and a crash loses at
 *   most the transaction in flight.
 * - One transaction per model (or per layer-group job result). Every write is keyed — runs by
 *   run_key, rows by (run_key, layer_id, slice), job parts by (run_key, part) — and replaces what is
 *   there, so a retried job or a restarted coordinator never duplicates rows.
 *
 * better-sqlite3 is synchronous by design; the statements here are small (one model's rows), and
 * the analysis they record takes orders of magnitude longer.
 */
import { existsSync, rmSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import type { Row } from '../shared/rows.js';
import type { Summary } from '../report/summary.js';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import { decodeJson, decodeRow, encodeJson, encodeRow } from './codec.js';
import { requireOptional } from '../shared/optional-import.js';
import type { Database } from './sqlite-types.js';
import { encodeEvals, type LayerSpectrum } from './spectra.js';

export type { Database } from './sqlite-types.js';

/** Columns copied out of each row into real SQL columns (for queries and indexes); the full row is in row_json. */
export const INDEXED_COLUMNS = ['alpha', 'alpha_weighted', 'log_norm', 'log_spectral_norm', 'stable_rank'] as const;

const MIGRATIONS: readonly string[] = [
  // 0 → 1: the initial schema.
  `
  CREATE TABLE runs (
    run_key       TEXT PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    options_hash  TEXT NOT NULL,
    options_json  TEXT NOT NULL,
    model         TEXT NOT NULL,
    label         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    source        TEXT,
    format        TEXT,
    layers        INTEGER,
    summary_json  TEXT,
    skipped_json  TEXT,
    failures_json TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    elapsed_ms    REAL,
    tool_version  TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );
  CREATE INDEX runs_by_options ON runs (options_hash, status);
  CREATE TABLE layer_rows (
    run_key           TEXT NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    layer_id          INTEGER NOT NULL,
    slice             INTEGER NOT NULL,  -- slice_id, or -1 for pooled rows
    name              TEXT NOT NULL,
    layer_type        TEXT,
    alpha             REAL,
    alpha_weighted    REAL,
    log_norm          REAL,
    log_spectral_norm REAL,
    stable_rank       REAL,
    warning           TEXT,
    row_json          TEXT NOT NULL,     -- the whole row; NaN/Infinity kept (codec.ts)
    PRIMARY KEY (run_key, layer_id, slice)
  ) WITHOUT ROWID;
  CREATE INDEX layer_rows_by_name ON layer_rows (name);
  CREATE TABLE run_parts (
    run_key       TEXT NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    part          TEXT NOT NULL,         -- 'all', or '<first layer id>-<last layer id>' of a layer group
    layer_ids     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    failures_json TEXT,
    error         TEXT,
    attempts      INTEGER NOT NULL DEFAULT 1,
    elapsed_ms    REAL,
    worker        TEXT,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (run_key, part)
  ) WITHOUT ROWID;
  CREATE TABLE sweeps (
    sweep_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    options_hash TEXT NOT NULL,
    options_json TEXT NOT NULL,
    steps_parsed INTEGER NOT NULL,
    queue        TEXT,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'partial')),
    analysed     INTEGER NOT NULL DEFAULT 0,
    cached       INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT NOT NULL,
    finished_at  TEXT
  );
  CREATE TABLE sweep_models (
    sweep_id INTEGER NOT NULL REFERENCES sweeps (sweep_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    model    TEXT NOT NULL,
    label    TEXT NOT NULL,
    step     INTEGER NOT NULL,
    run_key  TEXT NOT NULL,
    PRIMARY KEY (sweep_id, position)
  ) WITHOUT ROWID;
  CREATE INDEX sweep_models_by_run ON sweep_models (run_key);
  `,
  // 1 → 2: what a model given by name was resolved to (repo, revision, commit, snapshot; issue 19).
  `ALTER TABLE runs ADD COLUMN origin_json TEXT;`,
  // 2 → 3: each row's eigenvalues (spectra.ts), for sweep-report's ESD panel. runs.spectra: 1 stored,
  // 0 not asked for (spectra: false), NULL made before this version (sweep-report says so).
  // A rowid table: its rows are BLOBs of up to tens of KB, which WITHOUT ROWID tables handle badly.
  `
  CREATE TABLE layer_spectra (
    run_key  TEXT NOT NULL REFERENCES runs (run_key) ON DELETE CASCADE,
    layer_id INTEGER NOT NULL,
    slice    INTEGER NOT NULL,  -- as layer_rows.slice
    count    INTEGER NOT NULL,  -- number of eigenvalues
    evals    BLOB NOT NULL,     -- float32 little-endian, ascending: 4 × count bytes
    PRIMARY KEY (run_key, layer_id, slice)
  );
  ALTER TABLE runs ADD COLUMN spectra INTEGER;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

let sqlite: typeof BetterSqlite3 | undefined;

function loadSqlite(): typeof BetterSqlite3 {
  if (sqlite) return sqlite;
  try {
    sqlite = requireOptional<typeof BetterSqlite3>('database', 'better-sqlite3');
  } catch (e) {
    if (e instanceof WeightWatcherError) throw e; // not installed (E_MISSING_DEPENDENCY)
    throw new WeightWatcherError(
      'E_NATIVE',
      `the results database needs better-sqlite3, which could not be loaded (${errorMessage(e)}); reinstall with 'npm rebuild better-sqlite3'`,
      { cause: e },
    );
  }
  return sqlite;
}

function now(): string {
  return new Date().toISOString();
}

function realOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function textOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Apply the migrations a database is missing. */
export function migrate(db: Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${file}: results database schema version ${version} is newer than this weightwatcher supports (${SCHEMA_VERSION}); upgrade weightwatcher to read it`,
      { file },
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

export interface OpenDbOptions {
  /** Fail when the file does not exist (readers); writers create it. */
  mustExist?: boolean;
}

/** Open (and create or upgrade) a results database. `:memory:` gives a private in-memory one. */
export function openDatabase(file: string, opts: OpenDbOptions = {}): Database {
  if (opts.mustExist && file !== ':memory:' && !existsSync(file)) {
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${file}: no such results database (create one with 'weightwatcher sweep … --db ${file}')`,
      { file },
    );
  }
  const Sqlite = loadSqlite();
  // A database this call creates and cannot set up (a full disk) is removed again, with its WAL
  // files: a half-made file would be refused by the next run as "not a usable SQLite database".
  const created = file !== ':memory:' && !existsSync(file);
  let db: Database;
  try {
    db = new Sqlite(file, { timeout: 10_000 });
  } catch (e) {
    if (created) removeDatabaseFiles(file);
    throw (
      diskFullError(file, e) ??
      new WeightWatcherError('E_IO', `${file}: cannot open the results database (${errorMessage(e)})`, { file, cause: e })
    );
  }
  try {
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    const kind = db
      .prepare(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT IN ('runs','layer_rows','run_parts','sweeps','sweep_models','layer_spectra')",
      )
      .get() as { n: number };
    if ((db.pragma('user_version', { simple: true }) as number) === 0 && kind.n > 0) {
      throw new WeightWatcherError(
        'E_FORMAT',
        `${file}: an SQLite database, but not a weightwatcher results database (it has other tables)`,
        { file },
      );
    }
    migrate(db, file);
  } catch (e) {
    db.close();
    if (created) removeDatabaseFiles(file);
    if (e instanceof WeightWatcherError) throw e;
    throw (
      diskFullError(file, e) ??
      new WeightWatcherError('E_FORMAT', `${file}: not a usable SQLite database (${errorMessage(e)})`, { file, cause: e })
    );
  }
  return db;
}

function removeDatabaseFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) rmSync(f, { force: true });
}

/**
 * A write the disk refused (SQLITE_FULL: no space; SQLITE_IOERR_WRITE: a file size limit, a failing
 * disk) as an error that says so, or undefined for other errors. SQLite rolls the transaction back,
 * so what was stored before stays readable.
 */
export function diskFullError(file: string, e: unknown): WeightWatcherError | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL' || (e as NodeJS.ErrnoException | null)?.code === 'ENOSPC')
    return new WeightWatcherError(
      'E_IO',
      `${file}: no space left on the disk for the results database; free some space (or use another --db) and run again: what was stored is kept`,
      { file, cause: e },
    );
  if (typeof code === 'string' && code.startsWith('SQLITE_IOERR'))
    return new WeightWatcherError(
      'E_IO',
      `${file}: the results database could not be written (${code}: ${errorMessage(e)}); what was stored is kept`,
      {
        file,
        cause: e,
      },
    );
  return undefined;
}

export interface RunIdentity {
  readonly runKey: string;
  readonly fingerprint: string;
  readonly optionsHash: string;
  readonly optionsJson: string;
  readonly model: string;
  readonly label: string;
  /** A model given by name: what it was resolved to (kept when the same content is later named by path). */
  readonly origin?: RunOrigin | undefined;
}

/** What a model given by name (org/name@rev, hf://…) was resolved to: a sweep report says what was analysed. */
export interface RunOrigin {
  /** As given (org/name, org/name@rev, hf://…). */
  readonly input: string;
  readonly repo: string;
  readonly revision: string;
  readonly commit: string;
  /** The cache snapshot folder the files were read from (on the coordinator). */
  readonly snapshot: string;
  /** The repo files analysed. */
  readonly files?: readonly string[];
}

export interface RunOutcome {
  readonly source?: string;
  readonly format?: string;
  readonly skipped?: readonly unknown[];
  readonly failures?: readonly unknown[];
  readonly elapsedMs?: number;
  readonly toolVersion?: string;
  /** Queue runs (finishQueuedRun): the workers were asked for the layers' spectra (else none are kept). */
  readonly spectra?: boolean;
}

export interface StoredRunStatus {
  readonly status: 'pending' | 'done' | 'failed';
  readonly error: string | null;
}

/** Writes of the sweep runner; every method is one transaction. */
export class ResultsWriter {
  private readonly stmts;

  constructor(readonly db: Database) {
    this.stmts = {
      status: db.prepare('SELECT status, error FROM runs WHERE run_key = ?'),
      upsertRun:
        db.prepare(`INSERT INTO runs (run_key, fingerprint, options_hash, options_json, model, label, origin_json, status, source, format, layers, summary_json, skipped_json, failures_json, error, attempts, elapsed_ms, tool_version, created_at, updated_at)
        VALUES (@run_key, @fingerprint, @options_hash, @options_json, @model, @label, @origin_json, @status, @source, @format, @layers, @summary_json, @skipped_json, @failures_json, @error, @attempts, @elapsed_ms, @tool_version, @now, @now)
        ON CONFLICT (run_key) DO UPDATE SET model = excluded.model, label = excluded.label, origin_json = COALESCE(excluded.origin_json, runs.origin_json), status = excluded.status, source = excluded.source, format = excluded.format,
          layers = excluded.layers, summary_json = excluded.summary_json, skipped_json = excluded.skipped_json, failures_json = excluded.failures_json, error = excluded.error,
          attempts = runs.attempts + excluded.attempts, elapsed_ms = excluded.elapsed_ms, tool_version = excluded.tool_version, updated_at = excluded.updated_at`),
      pendingRun:
        db.prepare(`INSERT INTO runs (run_key, fingerprint, options_hash, options_json, model, label, origin_json, status, attempts, created_at, updated_at)
        VALUES (@run_key, @fingerprint, @options_hash, @options_json, @model, @label, @origin_json, 'pending', 0, @now, @now)
        ON CONFLICT (run_key) DO UPDATE SET model = excluded.model, label = excluded.label, origin_json = COALESCE(excluded.origin_json, runs.origin_json), status = CASE WHEN runs.status = 'done' THEN 'done' ELSE 'pending' END, error = NULL, updated_at = excluded.updated_at`),
      markFailed: db.prepare(
        "UPDATE runs SET status = 'failed', error = @error, attempts = attempts + @attempts, updated_at = @now WHERE run_key = @run_key",
      ),
      deleteRows: db.prepare('DELETE FROM layer_rows WHERE run_key = ?'),
      deleteParts: db.prepare('DELETE FROM run_parts WHERE run_key = ?'),
      deleteSpectra: db.prepare('DELETE FROM layer_spectra WHERE run_key = ?'),
      upsertSpectrum: db.prepare(`INSERT INTO layer_spectra (run_key, layer_id, slice, count, evals) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (run_key, layer_id, slice) DO UPDATE SET count = excluded.count, evals = excluded.evals`),
      spectraFlag: db.prepare('UPDATE runs SET spectra = ? WHERE run_key = ?'),
      upsertRow:
        db.prepare(`INSERT INTO layer_rows (run_key, layer_id, slice, name, layer_type, alpha, alpha_weighted, log_norm, log_spectral_norm, stable_rank, warning, row_json)
        VALUES (@run_key, @layer_id, @slice, @name, @layer_type, @alpha, @alpha_weighted, @log_norm, @log_spectral_norm, @stable_rank, @warning, @row_json)
        ON CONFLICT (run_key, layer_id, slice) DO UPDATE SET name = excluded.name, layer_type = excluded.layer_type, alpha = excluded.alpha, alpha_weighted = excluded.alpha_weighted,
          log_norm = excluded.log_norm, log_spectral_norm = excluded.log_spectral_norm, stable_rank = excluded.stable_rank, warning = excluded.warning, row_json = excluded.row_json`),
      upsertPart:
        db.prepare(`INSERT INTO run_parts (run_key, part, layer_ids, status, failures_json, error, attempts, elapsed_ms, worker, updated_at)
        VALUES (@run_key, @part, @layer_ids, @status, @failures_json, @error, @attempts, @elapsed_ms, @worker, @now)
        ON CONFLICT (run_key, part) DO UPDATE SET layer_ids = excluded.layer_ids, status = excluded.status, failures_json = excluded.failures_json, error = excluded.error,
          attempts = excluded.attempts, elapsed_ms = excluded.elapsed_ms, worker = excluded.worker, updated_at = excluded.updated_at`),
      parts: db.prepare('SELECT part, layer_ids, status, failures_json, error, attempts, elapsed_ms FROM run_parts WHERE run_key = ?'),
      rows: db.prepare('SELECT row_json FROM layer_rows WHERE run_key = ? ORDER BY layer_id, slice'),
      insertSweep: db.prepare(
        `INSERT INTO sweeps (options_hash, options_json, steps_parsed, queue, status, started_at) VALUES (?, ?, ?, ?, 'running', ?)`,
      ),
      insertSweepModel: db.prepare('INSERT INTO sweep_models (sweep_id, position, model, label, step, run_key) VALUES (?, ?, ?, ?, ?, ?)'),
      finishSweep: db.prepare('UPDATE sweeps SET status = ?, analysed = ?, cached = ?, failed = ?, finished_at = ? WHERE sweep_id = ?'),
    };
  }

  status(runKey: string): StoredRunStatus | undefined {
    return this.stmts.status.get(runKey) as StoredRunStatus | undefined;
  }

  private insertRows(runKey: string, rows: readonly Row[]): void {
    for (const r of rows) {
      const layerId = r.layer_id;
      if (typeof layerId !== 'number') throw new WeightWatcherError('E_INTERNAL', `row without a numeric layer_id in run ${runKey}`);
      this.stmts.upsertRow.run({
        run_key: runKey,
        layer_id: layerId,
        slice: typeof r.slice_id === 'number' ? r.slice_id : -1,
        name: String(r.name ?? ''),
        layer_type: textOrNull(r.layer_type),
        alpha: realOrNull(r.alpha),
        alpha_weighted: realOrNull(r.alpha_weighted),
        log_norm: realOrNull(r.log_norm),
        log_spectral_norm: realOrNull(r.log_spectral_norm),
        stable_rank: realOrNull(r.stable_rank),
        warning: textOrNull(r.warning),
        row_json: encodeRow(r),
      });
    }
  }

  private insertSpectra(runKey: string, spectra: readonly LayerSpectrum[]): void {
    for (const s of spectra) this.stmts.upsertSpectrum.run(runKey, s.layer_id, s.slice, s.evals.length, encodeEvals(s.evals));
  }

  private runParams(
    id: RunIdentity,
    status: 'done' | 'failed',
    fields: { layers: number | null; summary: Summary | null; outcome: RunOutcome; error: string | null; attempts: number },
  ) {
    const o = fields.outcome;
    return {
      ...identityColumns(id),
      status,
      source: o.source ?? null,
      format: o.format ?? null,
      layers: fields.layers,
      summary_json: fields.summary ? encodeJson(fields.summary) : null,
      skipped_json: o.skipped ? encodeJson(o.skipped) : null,
      failures_json: o.failures ? encodeJson(o.failures) : null,
      error: fields.error,
      attempts: fields.attempts,
      elapsed_ms: o.elapsedMs ?? null,
      tool_version: o.toolVersion ?? null,
      now: now(),
    };
  }

  /**
   * A whole model's result (local runs): the run, all its rows and its layers' spectra (null: not
   * asked for) replace whatever was stored.
   */
  writeRun(
    id: RunIdentity,
    rows: readonly Row[],
    summary: Summary,
    outcome: RunOutcome,
    spectra: readonly LayerSpectrum[] | null = null,
  ): void {
    this.db
      .transaction(() => {
        this.stmts.upsertRun.run(this.runParams(id, 'done', { layers: rows.length, summary, outcome, error: null, attempts: 1 }));
        this.stmts.deleteRows.run(id.runKey);
        this.stmts.deleteParts.run(id.runKey);
        this.stmts.deleteSpectra.run(id.runKey);
        this.insertRows(id.runKey, rows);
        if (spectra) this.insertSpectra(id.runKey, spectra);
        this.stmts.spectraFlag.run(spectra ? 1 : 0, id.runKey);
      })
      .immediate();
  }

  /** A model that could not be analysed: recorded with its error; its earlier rows are dropped. */
  writeFailedRun(id: RunIdentity, error: string, outcome: RunOutcome = {}, attempts = 1): void {
    this.db
      .transaction(() => {
        this.stmts.upsertRun.run(this.runParams(id, 'failed', { layers: null, summary: null, outcome, error, attempts }));
        this.stmts.deleteRows.run(id.runKey);
        this.stmts.deleteSpectra.run(id.runKey);
      })
      .immediate();
  }

  /** A queued run with a part that failed for good: the rows of its other parts are kept for the next try. */
  markRunFailed(runKey: string, error: string, attempts: number): void {
    this.stmts.markFailed.run({ run_key: runKey, error, attempts, now: now() });
  }

  /**
   * Queue runs: make sure the run exists as pending before its parts arrive. When the stored parts
   * belong to another split of the layers (a different --layers-per-job), they and their rows are
   * dropped so the run is rebuilt from parts of one plan.
   */
  beginQueuedRun(id: RunIdentity, partIds: readonly string[]): void {
    this.db
      .transaction(() => {
        this.stmts.pendingRun.run({ ...identityColumns(id), now: now() });
        const wanted = new Set(partIds);
        const stored = this.stmts.parts.all(id.runKey) as { part: string }[];
        if (stored.some((p) => !wanted.has(p.part))) {
          this.stmts.deleteParts.run(id.runKey);
          this.stmts.deleteRows.run(id.runKey);
          this.stmts.deleteSpectra.run(id.runKey);
        }
      })
      .immediate();
  }

  /** Parts of a queued run already stored as done (a restarted coordinator does not enqueue them again). */
  doneParts(runKey: string): Set<string> {
    return new Set(
      (this.stmts.parts.all(runKey) as { part: string; status: string }[]).filter((p) => p.status === 'done').map((p) => p.part),
    );
  }

  /** One layer-group job's result: its rows, their spectra (when the worker sent them) and its part record, in one transaction. */
  writePart(
    runKey: string,
    part: {
      id: string;
      layerIds: readonly number[] | null;
      rows: readonly Row[];
      failures: readonly unknown[];
      attempts: number;
      elapsedMs: number;
      worker?: string;
      spectra?: readonly LayerSpectrum[] | undefined;
    },
  ): void {
    this.db
      .transaction(() => {
        this.insertRows(runKey, part.rows);
        if (part.spectra) this.insertSpectra(runKey, part.spectra);
        this.stmts.upsertPart.run({
          run_key: runKey,
          part: part.id,
          layer_ids: part.layerIds ? part.layerIds.join(',') : 'all',
          status: 'done',
          failures_json: part.failures.length ? encodeJson(part.failures) : null,
          error: null,
          attempts: part.attempts,
          elapsed_ms: part.elapsedMs,
          worker: part.worker ?? null,
          now: now(),
        });
      })
      .immediate();
  }

  writeFailedPart(runKey: string, part: { id: string; layerIds: readonly number[] | null; error: string; attempts: number }): void {
    this.db
      .transaction(() => {
        this.stmts.upsertPart.run({
          run_key: runKey,
          part: part.id,
          layer_ids: part.layerIds ? part.layerIds.join(',') : 'all',
          status: 'failed',
          failures_json: null,
          error: part.error,
          attempts: part.attempts,
          elapsed_ms: null,
          worker: null,
          now: now(),
        });
      })
      .immediate();
  }

  /** Rows stored for a run, in reference order (layer id, then slice). */
  storedRows(runKey: string): Row[] {
    return (this.stmts.rows.all(runKey) as { row_json: string }[]).map((r) => decodeRow(r.row_json));
  }

  /** Layer failures recorded by the parts of a queued run. */
  partFailures(runKey: string): unknown[] {
    return (this.stmts.parts.all(runKey) as { failures_json: string | null }[]).flatMap((p) =>
      p.failures_json ? decodeJson<unknown[]>(p.failures_json) : [],
    );
  }

  partStats(runKey: string): { attempts: number; elapsedMs: number } {
    const parts = this.stmts.parts.all(runKey) as { attempts: number; elapsed_ms: number | null }[];
    return { attempts: parts.reduce((s, p) => s + p.attempts, 0), elapsedMs: parts.reduce((s, p) => s + (p.elapsed_ms ?? 0), 0) };
  }

  /** Close a queued run once every part is in: summary over all its rows, status done. */
  finishQueuedRun(id: RunIdentity, rows: readonly Row[], summary: Summary, outcome: RunOutcome): void {
    this.db
      .transaction(() => {
        this.stmts.upsertRun.run(this.runParams(id, 'done', { layers: rows.length, summary, outcome, error: null, attempts: 0 }));
        // Without spectra asked for, none from an earlier run of the same key stay beside the flag's 0.
        if (!outcome.spectra) this.stmts.deleteSpectra.run(id.runKey);
        this.stmts.spectraFlag.run(outcome.spectra ? 1 : 0, id.runKey);
      })
      .immediate();
  }

  startSweep(
    optionsHash: string,
    optionsJson: string,
    stepsParsed: boolean,
    queue: string | null,
    models: readonly { model: string; label: string; step: number; runKey: string }[],
  ): number {
    return this.db
      .transaction(() => {
        const id = Number(this.stmts.insertSweep.run(optionsHash, optionsJson, stepsParsed ? 1 : 0, queue, now()).lastInsertRowid);
        models.forEach((m, i) => this.stmts.insertSweepModel.run(id, i, m.model, m.label, m.step, m.runKey));
        return id;
      })
      .immediate();
  }

  finishSweep(id: number, counts: { analysed: number; cached: number; failed: number }, status: 'done' | 'failed' | 'partial'): void {
    this.stmts.finishSweep.run(status, counts.analysed, counts.cached, counts.failed, now(), id);
  }
}

/** The runs table's identity columns of a run. */
function identityColumns(id: RunIdentity) {
  return {
    run_key: id.runKey,
    fingerprint: id.fingerprint,
    options_hash: id.optionsHash,
    options_json: id.optionsJson,
    model: id.model,
    label: id.label,
    origin_json: id.origin ? JSON.stringify(id.origin) : null,
  };
}
