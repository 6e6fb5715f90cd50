/**
 * A sweep worker: takes analysis jobs from the BullMQ queue on Redis and returns their rows. Run any
 * number of them, on any machines that see the models at the same absolute paths as the coordinator
 * (a shared filesystem; docs/sweeps.md). A worker checks that: a missing file, or a file whose
 * fingerprint differs from the coordinator's, fails the job with a message saying so. A model given
 * by name is the exception (docs/hub.md): its job also carries the repo and commit, so a worker that
 * does not see the coordinator's snapshot resolves that commit through its own Hugging Face cache
 * (downloading it there once per machine, with this machine's HF_TOKEN and HF_ENDPOINT), and one
 * that sees it (a shared cache) downloads nothing.
 *
 * Faults: BullMQ keeps a lock on each active job, renewed while the worker lives; a killed or frozen
 * worker's lock expires after `lockDurationMs` (default 10 s: the analysis never blocks the event
 * loop, so a live worker renews it every 5 s) and the stalled-job check of any live worker (every
 * `stalledIntervalMs`, default 5 s) puts the job back in the queue, and says so. A job that throws is
 * retried (3 attempts in all), then left failed with its error for the coordinator to report.
 *
 * Results are handed over through the mailbox (mailbox.ts) before the job is completed; the worker
 * keeps each one until a coordinator has taken it, and hands it over again when Redis lost it (a
 * restart without persistence). A lost connection is retried with backoff and reported once per
 * step (connection.ts), not as one `ECONNREFUSED` per connection and attempt.
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
import { analyzePart } from './job.js';
import { encodeJson } from './codec.js';
import { ConnectionMonitor, isConnectionError, type ConnectionEvent } from './connection.js';
import { IN_MAILBOX, Mailbox } from './mailbox.js';
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
  /** BullMQ lock duration (default 10000 ms): how long a dead worker's job stays claimed. */
  readonly lockDurationMs?: number;
  /** BullMQ stalled-job check interval (default 5000 ms). */
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
  /** A job whose worker stopped renewing its lock (killed, frozen) was taken back into the queue by this worker's check. */
  | { type: 'stalled'; jobId: string }
  /** A finished result could not be handed over yet (Redis lost it, or is unreachable): kept, handed over later. */
  | { type: 'kept'; jobId: string; reason: string }
  /** A result kept earlier was handed over, or dropped because another worker's result for the same job was stored. */
  | { type: 'handed-over'; jobId: string }
  | { type: 'dropped'; jobId: string; reason: string }
  | { type: 'connection'; event: ConnectionEvent; queue: string }
  /** Redis no longer holds this job for this worker (restarted empty, or its lock expired): BullMQ cannot complete it here. */
  | { type: 'lost-job'; jobId: string }
  | { type: 'error'; error: string };

/** Defaults of the stalled-job recovery: a dead worker's job is taken over within about 15 s. */
export const DEFAULT_LOCK_DURATION_MS = 10_000;
export const DEFAULT_STALLED_INTERVAL_MS = 5_000;
/** How long a result that nobody queued again is kept (then the coordinator analyses it again). */
const KEEP_ORPHAN_MS = 6 * 3600_000;

export interface SweepWorker {
  readonly id: string;
  /** Stop taking jobs, finish the ones in flight, disconnect. */
  close(): Promise<void>;
}

/**
 * The model's path on this worker, checked against the coordinator's fingerprint: the coordinator's
 * path when this machine sees those files (a shared filesystem or cache: nothing is downloaded), else,
 * for a model given by name, the job's commit through this worker's own cache — also when the path
 * exists here but holds other or fewer files (every machine's default cache has the same path, and
 * this one's copy of the snapshot may be partial): resolving completes it.
 */
async function localModel(d: SweepJobData, me: string): Promise<string> {
  const hashOf = (p: string) =>
    fingerprintModel(p, d.fingerprintMode, d.files).then(
      (f) => ({ hash: f.hash }),
      (e: unknown) => ({ error: e }),
    );
  let path = d.path;
  const visible = await stat(path).then(
    () => true,
    () => false,
  );
  let fp = visible ? await hashOf(path) : undefined;
  if (d.hub && (!fp || !('hash' in fp) || fp.hash !== d.fingerprint)) {
    const { resolveModel } = await import('../hub/resolve.js');
    const r = await resolveModel(`${d.hub.repo}@${d.hub.commit}`, {
      ...(d.hub.file !== undefined && { file: d.hub.file }),
      ...(d.options.peft ? { peft: true } : {}),
    });
    path = r.path;
    fp = await hashOf(path);
  }
  if (!fp)
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${d.path}: not visible on worker ${me}. Workers read the models from a filesystem shared with the coordinator (${d.coordinator}), mounted at the same absolute path; see docs/sweeps.md`,
      { file: d.path },
    );
  if ('error' in fp) throw fp.error;
  if (fp.hash !== d.fingerprint) {
    throw new WeightWatcherError(
      'E_CORRUPT',
      `${path}: the files on worker ${me} differ from what the coordinator (${d.coordinator}) fingerprinted (${fp.hash.slice(0, 12)}… vs ${d.fingerprint.slice(0, 12)}…); the workers must see the same files (a shared filesystem), and the model must not change during a sweep`,
      { file: path },
    );
  }
  return path;
}

/** A finished result on its way to a coordinator. */
interface Kept {
  readonly payload: string;
  /** Epoch it was delivered in ('' while Redis has lost it: deliver again once the job is back). */
  epoch: string;
  delivered: boolean;
  readonly since: number;
}

/** The worker's results not yet taken by a coordinator; retried on a timer. */
class Outbox {
  private readonly kept = new Map<string, Kept>();
  private busy = false;

  constructor(
    private readonly mailbox: Mailbox,
    private readonly monitor: ConnectionMonitor,
    private readonly emit: (e: WorkerEvent) => void,
  ) {}

  get(jobId: string): Kept | undefined {
    return this.kept.get(jobId);
  }

  /** Hand a result over (waits while Redis is unreachable: ioredis holds the command until it is back). */
  async put(jobId: string, payload: string, epoch: string): Promise<void> {
    const k: Kept = this.kept.get(jobId) ?? { payload, epoch, delivered: false, since: Date.now() };
    this.kept.set(jobId, k);
    await this.push(jobId, k, epoch);
  }

  private async push(jobId: string, k: Kept, epoch: string): Promise<void> {
    const r = await this.mailbox.deliver(jobId, k.payload, epoch);
    if (r.outcome === 'delivered') {
      if (!k.delivered && k.epoch === '') this.emit({ type: 'handed-over', jobId });
      k.delivered = true;
      k.epoch = r.epoch;
    } else if (r.outcome === 'taken') {
      this.kept.delete(jobId);
      this.emit({ type: 'dropped', jobId, reason: 'the job was finished by another worker and stored' });
    } else if (r.outcome === 'wiped' || (r.outcome === 'waiting' && k.delivered)) {
      if (k.delivered || k.epoch !== '')
        this.emit({ type: 'kept', jobId, reason: 'Redis lost its data; handed over if the job is queued again' });
      k.delivered = false;
      k.epoch = '';
    }
  }

  /** Check every kept result: taken (forget it), held (wait), or lost by Redis (hand it over again). */
  async sweep(): Promise<void> {
    if (this.busy || this.monitor.isDown || !this.kept.size) return;
    this.busy = true;
    try {
      for (const [jobId, k] of [...this.kept]) {
        if (k.delivered) {
          const st = await this.mailbox.state(jobId, k.epoch);
          if (st === 'taken') this.kept.delete(jobId);
          else if (st === 'wiped') {
            k.delivered = false;
            k.epoch = '';
            this.emit({ type: 'kept', jobId, reason: 'Redis lost its data; handed over if the job is queued again' });
            await this.push(jobId, k, '');
          }
        } else if (Date.now() - k.since > KEEP_ORPHAN_MS) {
          this.kept.delete(jobId);
          this.emit({ type: 'dropped', jobId, reason: `no coordinator queued it again within ${KEEP_ORPHAN_MS / 3600_000} h` });
        } else await this.push(jobId, k, k.epoch);
      }
    } catch {
      // Redis went away during the check: the next round retries.
    } finally {
      this.busy = false;
    }
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
  const where = `${displayUrl(opts.queue)} (${queueName})`;
  const monitor = new ConnectionMonitor((event) => emit({ type: 'connection', event, queue: where }));
  let outbox: Outbox | undefined;
  let mailbox: Mailbox | undefined;

  const processor = async (job: Job): Promise<string> => {
    let data: SweepJobData;
    try {
      data = validateJobData(job.data);
    } catch (e) {
      throw new UnrecoverableError(errorMessage(e));
    }
    const id = job.id ?? '?';
    const base = { jobId: id, label: data.label, part: data.part };
    const epoch = await mailbox!.epoch();
    // A result this worker finished before Redis lost the job, or one another worker handed over
    // before the job was queued again: hand it over instead of analysing again.
    const kept = outbox!.get(id);
    if (kept) {
      await outbox!.put(id, kept.payload, '');
      return IN_MAILBOX;
    }
    if (await mailbox!.take(id).then((r) => r !== null)) return IN_MAILBOX;
    if (hold > 0) {
      emit({ type: 'holding', ...base, ms: hold });
      await new Promise((r) => setTimeout(r, hold));
    }
    emit({ type: 'started', ...base, attempt: job.attemptsStarted });
    const started = performance.now();
    let payload: string;
    try {
      const path = await localModel(data, me);
      // A layer-group job gets each layer's thread count of the whole run from its place in it (job.ts).
      const result = await analyzePart(path, data.options, data.layerIds, { threads: threadsPerJob, spectra: data.spectra === true });
      emit({ type: 'done', ...base, rows: result.rows.length, elapsedMs: performance.now() - started });
      payload = encodeJson({ ...result, worker: me });
    } catch (e) {
      const message = isWeightWatcherError(e) ? `${e.code}: ${e.message}` : errorMessage(e);
      emit({ type: 'failed', ...base, error: message, attempt: job.attemptsStarted });
      // A bad option can never succeed: do not retry it.
      if (isWeightWatcherError(e) && e.code === 'E_USAGE') throw new UnrecoverableError(message);
      throw new Error(message, { cause: e });
    }
    // Into the mailbox before the job completes: if completing fails (Redis restarted empty, the
    // lock was lost), the result is still there, or kept here until it can be handed over.
    await outbox!.put(id, payload, epoch);
    return IN_MAILBOX;
  };

  const worker = new Worker(queueName, processor, {
    connection: connectionFor(opts.queue, monitor),
    concurrency,
    name: me,
    lockDuration: opts.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
    stalledInterval: opts.stalledIntervalMs ?? DEFAULT_STALLED_INTERVAL_MS,
    maxStalledCount: opts.maxStalledCount ?? 2,
    autorun: false,
  });
  const lostJobs = new Set<string>();
  worker.on('error', (e) => {
    // Connection errors are told by the monitor, once per backoff step.
    if (isConnectionError(e)) return monitor.noteError(e);
    // BullMQ's words for a job Redis no longer has for us (it restarted empty, or the lock expired
    // while this worker was frozen): said once per job; its result went to the mailbox.
    const lost = /(?:Missing key|Missing lock) for job (\S+?)\.? |could not renew lock for job (\S+)/.exec(errorMessage(e));
    const id = lost?.[1] ?? lost?.[2];
    if (id) {
      if (!lostJobs.has(id)) emit({ type: 'lost-job', jobId: id });
      lostJobs.add(id);
      return;
    }
    emit({ type: 'error', error: errorMessage(e) });
  });
  worker.on('stalled', (jobId) => emit({ type: 'stalled', jobId }));
  let timer: NodeJS.Timeout | undefined;
  try {
    await waitReady(worker.waitUntilReady(), opts.queue, opts.connectTimeoutMs);
    const client = await worker.getBackend().client;
    monitor.watch(client);
    monitor.ready();
    mailbox = new Mailbox(client, queueName);
    outbox = new Outbox(mailbox, monitor, emit);
    await mailbox.epoch();
  } catch (e) {
    monitor.closing = true;
    await closeBounded({ close: () => worker.close(true), disconnect: () => worker.disconnect() });
    throw e;
  }
  const box = outbox;
  timer = setInterval(() => void box.sweep(), 2000);
  timer.unref();
  void worker.run().catch((e: unknown) => emit({ type: 'error', error: errorMessage(e) }));
  emit({ type: 'ready', worker: me, queue: where });
  return {
    id: me,
    close: async () => {
      await worker.close(); // waits for the jobs in hand
      clearInterval(timer);
      timer = undefined;
      monitor.closing = true;
      await closeBounded({ close: () => worker.close(true), disconnect: () => worker.disconnect() }, 1000);
    },
  };
}
