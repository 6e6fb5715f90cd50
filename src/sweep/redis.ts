/**
 * Redis connection settings shared by the coordinator and the workers, the job payload they
 * exchange, and its validation. Loaded only with --queue (bullmq and ioredis never load otherwise).
 */
import type { ConnectionOptions } from 'bullmq';
import { hostname } from 'node:os';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import type { FingerprintMode } from './fingerprint.js';
import type { JobAnalyzeOptions } from './job.js';
import type { ConnectionMonitor } from './connection.js';

export const DEFAULT_QUEUE_NAME = 'weightwatcher';
/** Attempts per job before it is reported as failed. */
export const JOB_ATTEMPTS = 3;
export const JOB_NAME = 'analyze';

/** Validate a --queue URL (redis://HOST:PORT[/DB], rediss:// for TLS). */
export function parseQueueUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new WeightWatcherError('E_USAGE', `--queue ${JSON.stringify(url)} is not a URL; expected redis://HOST:PORT`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new WeightWatcherError('E_USAGE', `--queue ${url}: expected a redis:// or rediss:// URL`);
  if (!u.hostname) throw new WeightWatcherError('E_USAGE', `--queue ${url}: no host`);
  return u;
}

export function validateQueueName(name: string): string {
  if (!name || name.includes(':'))
    throw new WeightWatcherError('E_USAGE', `queue name ${JSON.stringify(name)} must be non-empty and contain no ':'`);
  return name;
}

/**
 * ioredis options for BullMQ: blocking commands need maxRetriesPerRequest null. While running, a
 * lost connection is retried forever with backoff (connection.ts: Redis may be restarting; one
 * message per backoff step); once `monitor.closing` is set, reconnecting stops, so a connection to
 * an unreachable Redis does not keep the process alive.
 */
export function connectionFor(url: string, monitor: ConnectionMonitor): ConnectionOptions {
  parseQueueUrl(url);
  return {
    url,
    maxRetriesPerRequest: null,
    connectionName: `weightwatcher@${hostname()}`,
    // A half-open connection (a lost node) is noticed by the keep-alive probes, not after minutes.
    keepAlive: 1000,
    retryStrategy: monitor.retryStrategy,
  };
}

/**
 * Close a BullMQ object, and force it shut when that does not finish in time (a connection that
 * never came up keeps a graceful close waiting).
 */
export async function closeBounded(c: { close(): Promise<void>; disconnect(): Promise<void> }, ms = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    c.close().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms);
    }),
  ]);
  clearTimeout(timer);
  if (!closed)
    await Promise.race([
      c.disconnect().catch(() => {}),
      new Promise((r) => {
        timer = setTimeout(r, ms);
      }),
    ]);
  clearTimeout(timer);
}

/** Redact a password in a URL for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** What a job carries: everything a worker needs to analyse its part, and to check it sees the same file. */
export interface SweepJobData {
  readonly v: 1;
  readonly runKey: string;
  readonly part: string;
  /** Absolute path on the shared filesystem. */
  readonly path: string;
  readonly label: string;
  readonly fingerprint: string;
  readonly fingerprintMode: FingerprintMode;
  readonly options: JobAnalyzeOptions;
  /** null: the whole model. */
  readonly layerIds: number[] | null;
  /** Layers of the whole run (kept in the payload for older workers; a job now finds its layers' places itself, job.ts). */
  readonly plannedLayers: number;
  /** Host of the coordinator (for the message when a worker cannot see the file). */
  readonly coordinator: string;
  /** Return each row's eigenvalues with the rows (PartResult.spectra); absent: no. */
  readonly spectra?: boolean;
  /** A folder model fingerprinted by these files only (a model given by name: its weight files). */
  readonly files?: string[];
  /**
   * A model given by name: the repo and commit it was resolved to, and the repo file opened (none:
   * the snapshot folder). A worker that does not see `path` resolves this through its own cache
   * (worker.ts); the token never travels in the job.
   */
  readonly hub?: { readonly repo: string; readonly commit: string; readonly file?: string };
}

export function jobId(runKey: string, part: string): string {
  return `${runKey}-${part}`;
}

/** Check a job payload from Redis (it may come from another version of weightwatcher). */
export function validateJobData(d: unknown): SweepJobData {
  const o = d as Partial<SweepJobData> | null;
  const bad = (what: string) =>
    new WeightWatcherError('E_FORMAT', `invalid job payload: ${what} (was it queued by another version of weightwatcher?)`);
  if (!o || typeof o !== 'object') throw bad('not an object');
  if (o.v !== 1) throw bad(`version ${JSON.stringify(o.v)}, expected 1`);
  for (const k of ['runKey', 'part', 'path', 'label', 'fingerprint', 'coordinator'] as const)
    if (typeof o[k] !== 'string') throw bad(`${k} is not a string`);
  if (o.fingerprintMode !== 'sampled' && o.fingerprintMode !== 'full') throw bad('fingerprintMode');
  if (!o.options || typeof o.options !== 'object') throw bad('options');
  if (o.layerIds !== null && !(Array.isArray(o.layerIds) && o.layerIds.every((x) => Number.isInteger(x)))) throw bad('layerIds');
  if (!Number.isInteger(o.plannedLayers) || o.plannedLayers! < 0) throw bad('plannedLayers');
  if (o.spectra !== undefined && typeof o.spectra !== 'boolean') throw bad('spectra');
  if (o.files !== undefined && !(Array.isArray(o.files) && o.files.every((f) => typeof f === 'string'))) throw bad('files');
  const h = o.hub;
  if (
    h !== undefined &&
    (!h ||
      typeof h.repo !== 'string' ||
      typeof h.commit !== 'string' ||
      !/^[0-9a-f]{40}$/.test(h.commit) ||
      (h.file !== undefined && typeof h.file !== 'string'))
  )
    throw bad('hub');
  return o as SweepJobData;
}

/** Connection readiness with a bounded wait and a clear error (ioredis would retry silently forever). */
export async function waitReady<T>(ready: Promise<T>, url: string, timeoutMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WeightWatcherError(
            'E_IO',
            `cannot reach Redis at ${displayUrl(url)} within ${timeoutMs / 1000} s; is redis-server running there and reachable from this machine?`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([ready, timeout]);
  } catch (e) {
    if (e instanceof WeightWatcherError) throw e;
    throw new WeightWatcherError('E_IO', `cannot reach Redis at ${displayUrl(url)}: ${errorMessage(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}
