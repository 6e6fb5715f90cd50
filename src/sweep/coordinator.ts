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
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import type { FingerprintMode } from './fingerprint.js';
import type { GroupPlan, JobAnalyzeOptions, PartResult } from './job.js';
import type { ResultsWriter, RunIdentity } from './db.js';
import { decodeJson } from './codec.js';
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

/** Run the tasks on the queue; resolves when every part is written or failed for good. */
export async function runOnQueue(tasks: readonly QueueTask[], writer: ResultsWriter, opts: CoordinatorOptions): Promise<CoordinatorResult> {
  const queueName = validateQueueName(opts.queueName ?? DEFAULT_QUEUE_NAME);
  const control = { closing: false };
  const connection = connectionFor(opts.url, control);
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection, autorun: false });
  let lastError: unknown;
  queue.on('error', (e) => {
    lastError = e;
  });
  events.on('error', (e) => {
    lastError = e;
  });
  const removeAfterWrite = (opts.removeJobs ?? 'after-write') === 'after-write';
  const outstanding = new Map<string, Outstanding>();
  const states = new Map<QueueTask, TaskState>();
  const harvested: string[] = [];
  let retries = 0;
  let stalled = 0;
  let jobs = 0;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  try {
    await waitReady(queue.waitUntilReady(), opts.url).catch((e: unknown) => {
      throw lastError
        ? new WeightWatcherError('E_IO', `cannot reach Redis at ${displayUrl(opts.url)}: ${errorMessage(lastError)}`, { cause: e })
        : e;
    });
    void events.run().catch((e: unknown) => {
      lastError = e;
    });
    await waitReady(events.waitUntilReady(), opts.url);
    const onEvent = ({ jobId: id }: { jobId: string }) => {
      if (outstanding.has(id)) poke();
    };
    events.on('completed', onEvent);
    events.on('failed', onEvent);

    function settle(task: QueueTask, state: TaskState): void {
      opts.onTaskSettled(task, state.failed.length ? { status: 'failed', error: state.failed.join('; ') } : { status: 'done' });
    }

    const me = hostname();
    let added = 0;
    let found = 0;
    let stored = 0;
    for (const task of tasks) {
      const groups = task.plan.groups;
      writer.beginQueuedRun(
        task.id,
        groups.map((g) => g.id),
      );
      const done = writer.doneParts(task.id.runKey);
      const state: TaskState = { remaining: new Set(), failed: [] };
      states.set(task, state);
      for (const g of groups) {
        const id = jobId(task.id.runKey, g.id);
        if (done.has(g.id)) {
          stored++;
          if (removeAfterWrite) await queue.remove(id).catch(() => 0); // left over by a coordinator stopped between commit and removal
          continue;
        }
        state.remaining.add(g.id);
        const existing = await queue.getJob(id);
        if (existing && (await existing.getState()) === 'failed') await existing.remove();
        else if (existing) {
          found++;
          outstanding.set(id, { task, part: g.id, layerIds: g.layerIds });
          continue;
        }
        const data: SweepJobData = {
          v: 1,
          runKey: task.id.runKey,
          part: g.id,
          path: task.path,
          label: task.id.label,
          fingerprint: task.id.fingerprint,
          fingerprintMode: task.fingerprintMode,
          options: task.options,
          layerIds: g.layerIds ? [...g.layerIds] : null,
          plannedLayers: task.plan.layers,
          coordinator: me,
        };
        await queue.add(JOB_NAME, data, {
          jobId: id,
          attempts: JOB_ATTEMPTS,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        });
        added++;
        outstanding.set(id, { task, part: g.id, layerIds: g.layerIds });
      }
      if (!state.remaining.size) settle(task, state);
    }
    opts.onQueued?.({ added, found, stored });

    const check = async (id: string, o: Outstanding): Promise<void> => {
      const state = states.get(o.task)!;
      // State first, then the job: a job fetched before it completed would carry no return value.
      const st = await queue.getJobState(id);
      const job = st === 'unknown' ? undefined : ((await queue.getJob(id)) as Job | undefined);
      if (!job) {
        // Removed behind our back (e.g. by another coordinator's cleanup): report it; a rerun queues it again.
        outstanding.delete(id);
        state.remaining.delete(o.part);
        state.failed.push(`part ${o.part}: its job disappeared from the queue; run the sweep again`);
        if (!state.remaining.size) settle(o.task, state);
        return;
      }
      if (st === 'completed') {
        if (typeof job.returnvalue !== 'string')
          throw new WeightWatcherError('E_FORMAT', `job ${id} completed without a result (was it run by another program?)`);
        const ret = decodeJson<JobReturn>(job.returnvalue);
        const attempts = Math.max(1, job.attemptsStarted || job.attemptsMade || 1);
        writer.writePart(o.task.id.runKey, {
          id: o.part,
          layerIds: o.layerIds,
          rows: ret.rows,
          failures: ret.failures,
          attempts,
          elapsedMs: ret.elapsedMs,
          worker: ret.worker,
        });
        retries += attempts - 1;
        stalled += job.stalledCounter ?? 0;
        jobs++;
        outstanding.delete(id);
        if (removeAfterWrite) await job.remove().catch(() => {});
        else harvested.push(id);
        opts.onPartDone?.(o.task, o.part, { rows: ret.rows.length, attempts, worker: ret.worker });
        state.remaining.delete(o.part);
        if (!state.remaining.size) settle(o.task, state);
      } else if (st === 'failed') {
        const attempts = Math.max(1, job.attemptsStarted || job.attemptsMade || 1);
        const error = `${job.failedReason || 'failed'} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`;
        writer.writeFailedPart(o.task.id.runKey, { id: o.part, layerIds: o.layerIds, error, attempts });
        retries += attempts - 1;
        stalled += job.stalledCounter ?? 0;
        jobs++;
        outstanding.delete(id);
        state.remaining.delete(o.part);
        state.failed.push(o.part === 'all' ? error : `layers ${o.part}: ${error}`);
        if (!state.remaining.size) settle(o.task, state);
      }
    };

    const pollMs = opts.pollMs ?? 2000;
    let idleSince = Date.now();
    while (outstanding.size) {
      for (const [id, o] of [...outstanding]) await check(id, o);
      if (!outstanding.size) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      if (Date.now() - idleSince > 30_000) {
        idleSince = Date.now();
        const workers = await queue.getWorkersCount().catch(() => -1);
        if (workers === 0) opts.onIdle?.({ outstanding: outstanding.size, workers });
      }
    }
    if (!removeAfterWrite) for (const id of harvested) await queue.remove(id).catch(() => 0);
    return { retries, stalled, jobs };
  } finally {
    control.closing = true;
    await closeBounded(events);
    await closeBounded(queue);
  }
}
