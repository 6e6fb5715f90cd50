/**
 * Every failure the package reports is a WeightWatcherError with a stable `code`, so callers can
 * branch on the kind of failure without parsing messages. ERROR_CODES is the one list of codes:
 * the native core's codeName() (native/core/status.h) maps onto it.
 */
import type { DetailsRow } from './rows.js';

export const ERROR_CODES = [
  'E_USAGE', // bad option or argument
  'E_NOT_FOUND', // path or layer does not exist
  'E_FORMAT', // file is not in the expected format / unknown format
  'E_CORRUPT', // header, offset or shape inconsistent with the file
  'E_UNSUPPORTED', // valid file but a feature we do not handle (dtype, pickle global, …)
  'E_UNSAFE', // refused because it would execute code (pickle globals) or read other files (HDF5 links)
  'E_IO', // read failure
  'E_SHAPE', // tensor shape not usable for this operation
  'E_NONFINITE', // NaN or Inf where finite numbers are required
  'E_EMPTY', // zero-size input
  'E_LAPACK', // LAPACK returned info != 0
  'E_FIT', // power-law / MP fit could not be made
  'E_NOMEM', // an allocation failed (native out of memory)
  'E_LAYERS_FAILED', // analyze(): layers failed (every layer, or any with throwOnFailure); see LayerFailuresError
  'E_NATIVE', // native addon missing or failed to load
  'E_MISSING_DEPENDENCY', // an optional package a feature needs is not installed (plots, SQLite, queue, Keras)
  'E_INTERNAL', // a bug: an unexpected exception
  'E_ABORTED', // the call was cancelled (its signal, or timeoutMs): AbortedError, whose name is 'AbortError'
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

export class WeightWatcherError extends Error {
  readonly code: ErrorCode;
  /** File the error is about, when there is one. */
  readonly file: string | undefined;
  /** Tensor or layer the error is about, when there is one. */
  readonly tensor: string | undefined;

  constructor(code: ErrorCode, message: string, details: { file?: string; tensor?: string; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WeightWatcherError';
    this.code = code;
    this.file = details.file;
    this.tensor = details.tensor;
  }
}

/** One layer whose analysis failed (bad data, unsupported dtype, LAPACK failure, …). */
export interface LayerFailure {
  readonly layer_id: number;
  readonly name: string;
  /** The ErrorCode of the layer's error (E_INTERNAL for anything unexpected). */
  readonly code: string;
  readonly message: string;
}

/**
 * analyze() when layers failed: every planned layer (by default), or any layer with
 * `throwOnFailure: true`. `failures` lists each with its error; `rows` holds the layers that did
 * produce a row.
 */
export class LayerFailuresError extends WeightWatcherError {
  readonly failures: readonly LayerFailure[];
  readonly rows: readonly DetailsRow[];

  constructor(message: string, failures: readonly LayerFailure[], rows: readonly DetailsRow[], file?: string) {
    super('E_LAYERS_FAILED', message, file === undefined ? {} : { file });
    this.name = 'WeightWatcherError';
    this.failures = failures;
    this.rows = rows;
  }
}

/**
 * A call cancelled by its `signal` or `timeoutMs` (engine/scheduler.ts): `name` is 'AbortError', as
 * fetch() and the DOM report cancellation, `code` is E_ABORTED; `done` of `total` layers had finished.
 */
export class AbortedError extends WeightWatcherError {
  readonly done: number | undefined;
  readonly total: number | undefined;
  /** True when timeoutMs ran out (not the caller's signal). */
  readonly timedOut: boolean;

  constructor(message: string, details: { done?: number; total?: number; timedOut?: boolean; cause?: unknown } = {}) {
    super('E_ABORTED', message, details.cause === undefined ? {} : { cause: details.cause });
    this.name = 'AbortError';
    this.done = details.done;
    this.total = details.total;
    this.timedOut = details.timedOut ?? false;
  }
}

export function isWeightWatcherError(e: unknown): e is WeightWatcherError {
  return e instanceof WeightWatcherError;
}

/** Message of any thrown value, for logs and per-layer failure notes. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Re-throw a WeightWatcherError raised by a shared decoder with the file and tensor it concerns
 * attached (decoders know neither). Other errors pass through unchanged.
 */
export function withContext(e: unknown, ctx: { file?: string; tensor?: string }): unknown {
  if (!(e instanceof WeightWatcherError) || (e.file !== undefined && e.tensor !== undefined)) return e;
  return new WeightWatcherError(e.code, e.message, { file: e.file ?? ctx.file, tensor: e.tensor ?? ctx.tensor, cause: e });
}
