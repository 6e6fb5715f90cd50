/**
 * The queue coordinator (sweep --queue / analyze --queue): enqueue one BullMQ job per model or per
 * layer group, wait for the workers, and write each result to the database as it arrives.
 *
 * Restartable: job ids are deterministic (`<run key>-<part>`), so a restarted coordinator finds its
 * jobs again. Parts already in the database are not enqueued; completed jobs still in Redis are
 * harvested; waiting or active jobs are waited for; jobs left failed by an earlier run are removed
 * and queued afresh. A completed job is removed from Redis only after its rows are committed, so a
 * coordinator killed at any point loses nothing. Writes are keyed (db.ts), so harvesting a job twice
 * cannot duplicate rows.
 *
 * Waiting: QueueEvents wakes the loop when one of our jobs completes or fails; a periodic poll of the
 * outstanding jobs' states backs it up (events are not replayed to a coordinator that was down).
 *
 * Redis faults: results come through the mailbox (mailbox.ts), which a worker fills before it
 * completes its job and refills after Redis lost its data. A lost connection is reported at once
 * (ioredis' retry strategy, or a ping unanswered for 3 s) and retried with backoff (connection.ts);
 * a job Redis no longer knows (it restarted empty, or another coordinator removed it) is queued again
 * from what the coordinator holds, unless the database already has its result.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import { ConnectionMonitor, isConnectionError, type ConnectionEvent } from './connection.js';
import { IN_MAILBOX, Mailbox } from './mailbox.js';
import type { FingerprintMode } from './fingerprint.js';
import type { GroupPlan, JobAnalyzeOptions, PartResult } from './job.js';
import type { ResultsWriter, RunIdentity } from './db.js';
import { decodeJson } from './codec.js';
import { abortError } from '../engine/scheduler.js';
import {
  DEFAULT_QUEUE_NAME,
  JOB_ATTEMPTS,
  JOB_NAME,
  closeBounded,
  connectionFor,
  displayUrl,
  jobId,
  validateQueueName,
  waitReady,
  type SweepJobData,
} from './redis.js';

export interface QueueTask {
  readonly id: RunIdentity;
  readonly path: string;
  readonly fingerprintMode: FingerprintMode;
  readonly options: JobAnalyzeOptions;
  readonly plan: GroupPlan;
  /** Ask the workers for each row's eigenvalues (stored in layer_spectra; SweepOptions.spectra). */
  readonly spectra?: boolean;
  /** A folder model fingerprinted by these files only (SweepJobData.files). */
  readonly files?: readonly string[] | undefined;
  /** A model given by name: the repo and commit a worker that does not see `path` resolves (SweepJobData.hub). */
  readonly hub?: SweepJobData['hub'];
}

export interface CoordinatorOptions {
  readonly url: string;
  readonly queueName?: string;
  /** Safety-net poll of outstanding job states (default 2000 ms). */
  readonly pollMs?: number;
  /** Remove each completed job once written (default), or all at the end (in-memory databases). */
  readonly removeJobs?: 'after-write' | 'at-end';
  readonly onPartDone?: (task: QueueTask, part: string, info: { rows: number; attempts: number; worker?: string }) => void;
  /** Every part of the task is written or failed for good (`error` says which and why): close the run. */
  readonly onTaskSettled: (task: QueueTask, outcome: { status: 'done' | 'failed'; error?: string }) => void;
  /** After enqueueing: jobs added now, jobs found in the queue from an earlier coordinator, parts already in the database. */
  readonly onQueued?: (info: { added: number; found: number; stored: number }) => void;
  /** Called about every 30 s while jobs are outstanding and no worker is connected. */
  readonly onIdle?: (info: { outstanding: number; workers: number }) => void;
  /**
   * Who wants the results (the database file: stable across restarts of one sweep). Two coordinators
   * with different consumers on one queue both get every result they asked for. Default: random.
   */
  readonly consumer?: string | undefined;
  /** Redis connection lost, retried (one call per backoff step), restored. */
  readonly onConnection?: (e: ConnectionEvent) => void;
  /** Jobs queued again because Redis no longer had them. */
  readonly onRequeued?: (info: { jobs: number }) => void;
  /** A job taken back from a worker that stopped renewing its lock (dead or frozen). */
  readonly onStalled?: (info: { jobId: string; task: QueueTask; part: string }) => void;
  /**
   * Stops the coordinator: it stores nothing more and rejects with AbortedError (E_ABORTED). The
   * results already stored stay stored, and the jobs already queued stay in the queue (workers may
   * finish them into the mailbox), so running the same sweep again picks them up instead of
   * queueing the work twice.
   */
  readonly signal?: AbortSignal | undefined;
}

export interface CoordinatorResult {
  /** Retries over all harvested jobs: attempts started beyond the first. */
  readonly retries: number;
  /** Times a job was recovered from a dead (stalled) worker. */
  readonly stalled: number;
  readonly jobs: number;
}

interface Outstanding {
  readonly task: QueueTask;
  readonly part: string;
  readonly layerIds: readonly number[] | null;
}

interface TaskState {
  remaining: Set<string>;
  failed: string[];
}

interface JobReturn extends PartResult {
  readonly worker?: string;
}

/** Everything one coordinator run works with. */
interface Coordination {
  readonly opts: CoordinatorOptions;
  readonly writer: ResultsWriter;
  readonly queue: Queue;
  readonly mailbox: Mailbox;
  readonly consumer: string;
  readonly monitor: ConnectionMonitor;
  readonly removeAfterWrite: boolean;
  readonly outstanding: Map<string, Outstanding>;
  readonly states: Map<QueueTask, TaskState>;
  readonly harvested: string[];
  readonly stats: { retries: number; stalled: number; jobs: number; requeued: number };
}

function jobData(task: QueueTask, part: string, layerIds: readonly number[] | null): SweepJobData {
  return {
    v: 1,
    runKey: task.id.runKey,
    part,
    path: task.path,
    label: task.id.label,
    fingerprint: task.id.fingerprint,
    fingerprintMode: task.fingerprintMode,
    options: task.options,
    layerIds: layerIds ? [...layerIds] : null,
    plannedLayers: task.plan.layers,
    coordinator: hostname(),
    ...(task.spectra !== undefined && { spectra: task.spectra }),
    ...(task.files && { files: [...task.files] }),
    ...(task.hub && { hub: task.hub }),
  };
}

/** Queue one job (an id already in the queue is left as it is: BullMQ ignores the duplicate). */
async function addJob(c: Coordination, id: string, o: Outstanding): Promise<void> {
  await c.mailbox.want(id, c.consumer);
  await c.queue.add(JOB_NAME, jobData(o.task, o.part, o.layerIds), {
    jobId: id,
    attempts: JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: false,
    removeOnFail: false,
  });
}

function settleIfDone(c: Coordination, task: QueueTask, state: TaskState): void {
  if (state.remaining.size) return;
  c.opts.onTaskSettled(task, state.failed.length ? { status: 'failed', error: state.failed.join('; ') } : { status: 'done' });
}

/** Plan: one job per part not yet in the database; jobs of an earlier coordinator are adopted. */
async function enqueue(c: Coordination, tasks: readonly QueueTask[]): Promise<void> {
  let added = 0;
  let found = 0;
  let stored = 0;
  for (const task of tasks) {
    const groups = task.plan.groups;
    c.writer.beginQueuedRun(
      task.id,
      groups.map((g) => g.id),
    );
    const done = c.writer.doneParts(task.id.runKey);
    const state: TaskState = { remaining: new Set(), failed: [] };
    c.states.set(task, state);
    for (const g of groups) {
      const id = jobId(task.id.runKey, g.id);
      const o: Outstanding = { task, part: g.id, layerIds: g.layerIds };
      if (done.has(g.id)) {
        stored++;
        // Left over by a coordinator stopped between commit and removal.
        if (c.removeAfterWrite && (await c.mailbox.release(id, c.consumer))) await c.queue.remove(id).catch(() => 0);
        continue;
      }
      state.remaining.add(g.id);
      c.outstanding.set(id, o);
      const existing = await c.queue.getJob(id);
      if (existing && (await existing.getState()) === 'failed') await existing.remove();
      else if (existing) {
        found++;
        await c.mailbox.want(id, c.consumer);
        continue;
      }
      await addJob(c, id, o);
      added++;
    }
    settleIfDone(c, task, state);
  }
  c.opts.onQueued?.({ added, found, stored });
}

/** Store a part's result (one transaction), then let go of it in Redis. */
async function storePart(c: Coordination, id: string, o: Outstanding, ret: JobReturn, job: Job | undefined): Promise<void> {
  const attempts = Math.max(1, job?.attemptsStarted || job?.attemptsMade || 1);
  c.writer.writePart(o.task.id.runKey, {
    id: o.part,
    layerIds: o.layerIds,
    rows: ret.rows,
    failures: ret.failures,
    attempts,
    elapsedMs: ret.elapsedMs,
    worker: ret.worker,
    // Only what was asked for: a worker of an earlier version sends none.
    spectra: o.task.spectra ? ret.spectra : undefined,
  });
  c.stats.retries += attempts - 1;
  c.stats.stalled += job?.stalledCounter ?? 0;
  c.stats.jobs++;
  c.outstanding.delete(id);
  // Only after the commit: a coordinator killed before this line finds the result again.
  if (c.removeAfterWrite) {
    if (await c.mailbox.release(id, c.consumer)) await c.queue.remove(id).catch(() => 0);
  } else c.harvested.push(id);
  c.opts.onPartDone?.(o.task, o.part, { rows: ret.rows.length, attempts, worker: ret.worker });
  const state = c.states.get(o.task)!;
  state.remaining.delete(o.part);
  settleIfDone(c, o.task, state);
}

/** Run: look at one outstanding job; store its result, record its failure, or queue it again. */
async function harvest(c: Coordination, id: string, o: Outstanding): Promise<'stored' | 'failed' | 'requeued' | 'waiting'> {
  const state = c.states.get(o.task)!;
  // State first, then the job and the mailbox: a worker fills the mailbox before it completes the
  // job, so a job seen completed has its result there (read in the other order, a result arriving
  // in between would look lost).
  const st = await c.queue.getJobState(id);
  const job = st === 'unknown' ? undefined : ((await c.queue.getJob(id)) as Job | undefined);
  const mailed = await c.mailbox.take(id);
  if (mailed !== null) {
    await storePart(c, id, o, decodeJson<JobReturn>(mailed), job);
    return 'stored';
  }
  if (job && st === 'completed' && typeof job.returnvalue === 'string' && job.returnvalue !== IN_MAILBOX) {
    // A worker of an earlier version: the result is the return value.
    await storePart(c, id, o, decodeJson<JobReturn>(job.returnvalue), job);
    return 'stored';
  }
  if (job && st === 'failed') {
    const attempts = Math.max(1, job.attemptsStarted || job.attemptsMade || 1);
    const error = `${job.failedReason || 'failed'} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`;
    c.writer.writeFailedPart(o.task.id.runKey, { id: o.part, layerIds: o.layerIds, error, attempts });
    c.stats.retries += attempts - 1;
    c.stats.stalled += job.stalledCounter ?? 0;
    c.stats.jobs++;
    c.outstanding.delete(id);
    state.remaining.delete(o.part);
    state.failed.push(o.part === 'all' ? error : `layers ${o.part}: ${error}`);
    settleIfDone(c, o.task, state);
    return 'failed';
  }
  if (job && st !== 'completed') return 'waiting';
  // Redis does not have it (restarted empty, or removed by another coordinator), or it completed
  // without a result for us: the database may have it (a coordinator sharing our database stored it);
  // else queue it again, from what this coordinator holds.
  if (c.writer.doneParts(o.task.id.runKey).has(o.part)) {
    c.outstanding.delete(id);
    state.remaining.delete(o.part);
    settleIfDone(c, o.task, state);
    return 'stored';
  }
  if (job) await job.remove().catch(() => {});
  await addJob(c, id, o);
  c.stats.requeued++;
  return 'requeued';
}

/** Run: poll the outstanding jobs until none is left, woken early by queue events. */
async function waitForAll(c: Coordination, events: QueueEvents): Promise<void> {
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onEvent = ({ jobId: id }: { jobId: string }) => {
    if (c.outstanding.has(id)) poke();
  };
  events.on('completed', onEvent);
  events.on('failed', onEvent);
  const signal = c.opts.signal;
  signal?.addEventListener('abort', poke);
  events.on('stalled', ({ jobId: id }: { jobId: string }) => {
    const o = c.outstanding.get(id);
    if (o) c.opts.onStalled?.({ jobId: id, task: o.task, part: o.part });
  });
  // A connection that dies without closing (a lost host) is noticed by a ping left unanswered.
  let pinging = false;
  const watchdog = setInterval(() => {
    if (pinging) return;
    pinging = true;
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      c.mailbox.ping().then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), 3000);
      }),
    ])
      .then((answered) => {
        // An answer also ends an outage that no reconnection marks (a Redis that was frozen, not closed).
        if (answered) c.monitor.ready();
        else c.monitor.lost('no answer for 3 s');
      })
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        pinging = false;
      });
  }, 500);
  const pollMs = c.opts.pollMs ?? 2000;
  let idleSince = Date.now();
  try {
    while (c.outstanding.size) {
      if (signal?.aborted) throw abortError(signal);
      let requeued = 0;
      for (const [id, o] of [...c.outstanding]) if ((await harvest(c, id, o)) === 'requeued') requeued++;
      if (requeued) c.opts.onRequeued?.({ jobs: requeued });
      if (!c.outstanding.size) break;
      if (signal?.aborted) throw abortError(signal);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (Date.now() - idleSince > 30_000) {
        idleSince = Date.now();
        const workers = await c.queue.getWorkersCount().catch(() => -1);
        if (workers === 0) c.opts.onIdle?.({ outstanding: c.outstanding.size, workers });
      }
    }
  } finally {
    clearInterval(watchdog);
    signal?.removeEventListener('abort', poke);
  }
}

/** Run the tasks on the queue; resolves when every part is written or failed for good. */
export async function runOnQueue(tasks: readonly QueueTask[], writer: ResultsWriter, opts: CoordinatorOptions): Promise<CoordinatorResult> {
  // Validate.
  const queueName = validateQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  const monitor = new ConnectionMonitor(opts.onConnection);
  const connection = connectionFor(opts.url, monitor);
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection, autorun: false });
  let lastError: unknown;
  const onError = (e: unknown) => {
    if (isConnectionError(e)) monitor.noteError(e);
    lastError = e;
  };
  queue.on('error', onError);
  events.on('error', onError);
  try {
    // Connect (bounded: an unreachable Redis at the start is a usage problem, said at once).
    await waitReady(queue.waitUntilReady(), opts.url).catch((e: unknown) => {
      throw lastError
        ? new WeightWatcherError('E_IO', `cannot reach Redis at ${displayUrl(opts.url)}: ${errorMessage(lastError)}`, { cause: e })
        : e;
    });
    void events.run().catch(onError);
    await waitReady(events.waitUntilReady(), opts.url);
    const client = await queue.getBackend().client;
    monitor.watch(client);
    monitor.ready();
    monitor.watch(await events.getBackend().client);
    const c: Coordination = {
      opts,
      writer,
      queue,
      mailbox: new Mailbox(client, queueName),
      consumer: opts.consumer ? `${hostname()}:${resolve(opts.consumer)}` : randomUUID(),
      monitor,
      removeAfterWrite: (opts.removeJobs ?? 'after-write') === 'after-write',
      outstanding: new Map(),
      states: new Map(),
      harvested: [],
      stats: { retries: 0, stalled: 0, jobs: 0, requeued: 0 },
    };
    await c.mailbox.epoch();
    // Plan, run, then report.
    await enqueue(c, tasks);
    await waitForAll(c, events);
    if (!c.removeAfterWrite)
      for (const id of c.harvested) if (await c.mailbox.release(id, c.consumer)) await queue.remove(id).catch(() => 0);
    return { retries: c.stats.retries, stalled: c.stats.stalled, jobs: c.stats.jobs };
  } finally {
    monitor.closing = true;
    await closeBounded(events);
    await closeBounded(queue);
  }
}
