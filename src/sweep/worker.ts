/**
 * A sweep worker: takes analysis jobs from the BullMQ queue on Redis and returns their rows. Run any
 * number of them, on any machines that see the models at the same absolute paths as the coordinator
 * (a shared filesystem; docs/sweeps.md). A worker checks that: a missing file, or a file whose
 * fingerprint differs from the coordinator's, fails the job with a message saying so.
 *
 * Faults: BullMQ keeps a lock on each active job, renewed while the worker lives; a killed worker's
 * lock expires after `lockDurationMs` and the stalled-job check of any live worker (every
 * `stalledIntervalMs`) puts the job back in the queue. A job that throws is retried (3 attempts in
 * all), then left failed with its error for the coordinator to report.
 *
 * Test hook: WEIGHTWATCHER_TEST_HOLD_JOB_MS=N makes the worker hold every job it takes for N ms
 * before working on it (announced as a 'holding' event), so a test can kill it while it
 * deterministically holds a job. It changes no result.
 */
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { availableParallelism, hostname } from 'node:os';
import { stat } from 'node:fs/promises';
import { WeightWatcherError, errorMessage, isWeightWatcherError } from '../shared/errors.js';
import { fingerprintModel } from './fingerprint.js';
import { analyzePart, jobThreads } from './job.js';
import { encodeJson } from './codec.js';
import {
  DEFAULT_QUEUE_NAME,
  closeBounded,
  connectionFor,
  displayUrl,
  validateJobData,
  validateQueueName,
  waitReady,
  type SweepJobData,
} from './redis.js';

export const TEST_HOLD_ENV = 'WEIGHTWATCHER_TEST_HOLD_JOB_MS';

export interface WorkerOptions {
  /** redis://HOST:PORT */
  readonly queue: string;
  readonly queueName?: string;
  /** Jobs worked on at once (default 1: each job already uses every core of its thread budget). */
  readonly concurrency?: number;
  /** Thread budget of this worker, split between its concurrent jobs (default: all cores). */
  readonly threads?: number;
  /** BullMQ lock duration (default 30000 ms): how long a dead worker's job stays claimed. */
  readonly lockDurationMs?: number;
  /** BullMQ stalled-job check interval (default 30000 ms). */
  readonly stalledIntervalMs?: number;
  /** How often a job may be recovered from a dead worker before it fails (default 2). */
  readonly maxStalledCount?: number;
  /** Give up connecting to Redis after this long (default 15000 ms). */
  readonly connectTimeoutMs?: number;
  readonly onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'ready'; worker: string; queue: string }
  | { type: 'holding'; jobId: string; label: string; part: string; ms: number }
  | { type: 'started'; jobId: string; label: string; part: string; attempt: number }
  | { type: 'done'; jobId: string; label: string; part: string; rows: number; elapsedMs: number }
  | { type: 'failed'; jobId: string; label: string; part: string; error: string; attempt: number }
  | { type: 'error'; error: string };

export interface SweepWorker {
  readonly id: string;
  /** Stop taking jobs, finish the ones in flight, disconnect. */
  close(): Promise<void>;
}

async function checkVisible(d: SweepJobData, me: string): Promise<void> {
  try {
    await stat(d.path);
  } catch {
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${d.path}: not visible on worker ${me}. Workers read the models from a filesystem shared with the coordinator (${d.coordinator}), mounted at the same absolute path; see docs/sweeps.md`,
      { file: d.path },
    );
  }
  const fp = await fingerprintModel(d.path, d.fingerprintMode);
  if (fp.hash !== d.fingerprint) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${d.path}: the files on worker ${me} differ from what the coordinator (${d.coordinator}) fingerprinted (${fp.hash.slice(0, 12)}… vs ${d.fingerprint.slice(0, 12)}…); the workers must see the same files (a shared filesystem), and the model must not change during a sweep`,
      { file: d.path },
    );
  }
}

/** Start a worker; it runs until close() (the CLI calls that on SIGINT/SIGTERM). */
export async function startWorker(opts: WorkerOptions): Promise<SweepWorker> {
  const me = `${hostname()}:${process.pid}`;
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new WeightWatcherError('E_USAGE', `concurrency must be a positive integer, got ${concurrency}`);
  const budget = opts.threads ?? availableParallelism();
  const threadsPerJob = Math.max(1, Math.floor(budget / concurrency));
  const hold = Number(process.env[TEST_HOLD_ENV] ?? 0);
  const emit = opts.onEvent ?? (() => {});
  const queueName = validateQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);

  const processor = async (job: Job): Promise<string> => {
    let data: SweepJobData;
    try {
      data = validateJobData(job.data);
    } catch (e) {
      throw new UnrecoverableError(errorMessage(e));
    }
    const base = { jobId: job.id ?? '?', label: data.label, part: data.part };
    if (hold > 0) {
      emit({ type: 'holding', ...base, ms: hold });
      await new Promise((r) => setTimeout(r, hold));
    }
    emit({ type: 'started', ...base, attempt: job.attemptsStarted });
    const started = performance.now();
    try {
      await checkVisible(data, me);
      const threads = data.layerIds ? jobThreads(threadsPerJob, data.plannedLayers, data.layerIds.length) : threadsPerJob;
      const result = await analyzePart(data.path, data.options, data.layerIds, { threads });
      emit({ type: 'done', ...base, rows: result.rows.length, elapsedMs: performance.now() - started });
      return encodeJson({ ...result, worker: me });
    } catch (e) {
      const message = isWeightWatcherError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
      emit({ type: 'failed', ...base, error: message, attempt: job.attemptsStarted });
      // A bad option can never succeed: do not retry it.
      if (isWeightWatcherError(e) && e.code === 'E_USAGE') throw new UnrecoverableError(message);
      throw new Error(message, { cause: e });
    }
  };

  const control = { closing: false };
  const worker = new Worker(queueName, processor, {
    connection: connectionFor(opts.queue, control),
    concurrency,
    name: me,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
    maxStalledCount: opts.maxStalledCount ?? 2,
    autorun: false,
  });
  worker.on('error', (e) => emit({ type: 'error', error: errorMessage(e) }));
  try {
    await waitReady(worker.waitUntilReady(), opts.queue, opts.connectTimeoutMs);
  } catch (e) {
    control.closing = true;
    await closeBounded({ close: () => worker.close(true), disconnect: () => worker.disconnect() });
    throw e;
  }
  void worker.run().catch((e: unknown) => emit({ type: 'error', error: errorMessage(e) }));
  emit({ type: 'ready', worker: me, queue: `${displayUrl(opts.queue)} (${queueName})` });
  return {
    id: me,
    close: async () => {
      await worker.close(); // waits for the jobs in hand
      control.closing = true;
      await closeBounded({ close: () => worker.close(true), disconnect: () => worker.disconnect() }, 1000);
    },
  };
}
