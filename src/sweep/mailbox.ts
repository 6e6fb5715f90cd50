/**
 * The results mailbox: how a worker hands a finished result to the coordinators, in a way that
 * survives Redis losing its data.
 *
 * BullMQ keeps a job's return value in the job itself, so a result is lost when the job is (Redis
 * restarted empty: `Missing key for job … moveToFinished`), and a worker that cannot move its job to
 * completed drops it. Here a result goes into a hash beside the queue (`bull:<queue>:ww:results`,
 * field = job id) before the job is completed; the job's return value only says so.
 *
 * - Epoch: `bull:<queue>:ww:epoch` holds a random value, set by whoever finds it missing. A worker
 *   notes it when it takes a job; if it has changed when the result is handed over, Redis lost its
 *   data in between, and the worker keeps the result until the coordinator queues the job again.
 * - Interest: each coordinator adds itself to `bull:<queue>:ww:want:<job id>`; a result (and its job)
 *   is removed only when the last coordinator that wants it has stored it, so two coordinators on one
 *   queue (sweeps sharing models) both get it, from one analysis.
 * - A worker keeps each result it delivered until it is taken (field gone, same epoch); when the
 *   epoch changed, it delivers it again once the job is back in the queue.
 *
 * Everything is keyed by job id (`<run key>-<part>`, the same content and options give the same
 * result), so delivering a result twice, or a late result of a worker that was frozen past its lock,
 * changes nothing.
 */
import { randomUUID } from 'node:crypto';

/** The two calls of BullMQ's Redis client interface used here (scripts: works with every adapter). */
export interface MailboxClient {
  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void;
  runCommand(name: string, args: (string | number)[]): Promise<unknown>;
}

const SCRIPTS = {
  wwPing: { numberOfKeys: 0, lua: 'return 1' },
  wwEpoch: {
    numberOfKeys: 1,
    lua: `if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
          return redis.call('GET', KEYS[1])`,
  },
  // KEYS: job hash, results, epoch, completed set; ARGV: job id, payload, epoch ('' = any), a new epoch (used when none is set).
  // A job already completed (by another worker, while this one was frozen past its lock) is 'taken'.
  wwDeliver: {
    numberOfKeys: 4,
    lua: `local e = redis.call('GET', KEYS[3])
          if not e then e = ARGV[4]; redis.call('SET', KEYS[3], e) end
          if ARGV[3] ~= '' and e ~= ARGV[3] then return {-1, e} end
          if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('ZSCORE', KEYS[4], ARGV[1]) then return {0, e} end
          redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
          return {1, e}`,
  },
  // KEYS: results, epoch; ARGV: job id, epoch
  wwState: {
    numberOfKeys: 2,
    lua: `if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
          return redis.call('HEXISTS', KEYS[1], ARGV[1])`,
  },
  // KEYS: results; ARGV: job id
  wwTake: { numberOfKeys: 1, lua: `return redis.call('HGET', KEYS[1], ARGV[1])` },
  // KEYS: want set; ARGV: consumer
  wwWant: { numberOfKeys: 1, lua: `return redis.call('SADD', KEYS[1], ARGV[1])` },
  // KEYS: want set, results; ARGV: consumer, job id
  wwRelease: {
    numberOfKeys: 2,
    lua: `redis.call('SREM', KEYS[1], ARGV[1])
          if redis.call('SCARD', KEYS[1]) == 0 then redis.call('HDEL', KEYS[2], ARGV[2]) return 1 end
          return 0`,
  },
} as const;

export class Mailbox {
  readonly results: string;
  readonly epochKey: string;
  private readonly prefix: string;

  constructor(
    private readonly client: MailboxClient,
    queueName: string,
    prefix = 'bull',
  ) {
    this.prefix = `${prefix}:${queueName}`;
    this.results = `${this.prefix}:ww:results`;
    this.epochKey = `${this.prefix}:ww:epoch`;
    for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
  }

  private jobKey(jobId: string): string {
    return `${this.prefix}:${jobId}`;
  }

  private wantKey(jobId: string): string {
    return `${this.prefix}:ww:want:${jobId}`;
  }

  private run(name: keyof typeof SCRIPTS, args: (string | number)[]): Promise<unknown> {
    return this.client.runCommand(name, args);
  }

  /** A round trip (the connection watchdog). */
  async ping(): Promise<void> {
    await this.run('wwPing', []);
  }

  /** The current epoch (created when missing: a new or emptied Redis). */
  async epoch(): Promise<string> {
    return String(await this.run('wwEpoch', [this.epochKey, randomUUID()]));
  }

  /**
   * Hand a result over. 'delivered'; 'taken': the job is gone in the same epoch (another worker's
   * result was stored and removed: drop this one); 'wiped': Redis lost its data since `epoch` (keep
   * the result; deliver it with `epoch` '' once the job is queued again, which gives 'waiting' while
   * it is not). `epoch` '' accepts any epoch.
   */
  async deliver(
    jobId: string,
    payload: string,
    epoch: string,
  ): Promise<{ outcome: 'delivered' | 'taken' | 'wiped' | 'waiting'; epoch: string }> {
    const r = (await this.run('wwDeliver', [
      this.jobKey(jobId),
      this.results,
      this.epochKey,
      `${this.prefix}:completed`,
      jobId,
      payload,
      epoch,
      randomUUID(),
    ])) as [number, string];
    const outcome = r[0] === 1 ? 'delivered' : r[0] === -1 ? 'wiped' : epoch === '' ? 'waiting' : 'taken';
    return { outcome, epoch: String(r[1]) };
  }

  /** A delivered result: 'held' (not taken yet), 'taken', or 'wiped' (Redis lost it: deliver again). */
  async state(jobId: string, epoch: string): Promise<'held' | 'taken' | 'wiped'> {
    const r = Number(await this.run('wwState', [this.results, this.epochKey, jobId, epoch]));
    return r === 1 ? 'held' : r === 0 ? 'taken' : 'wiped';
  }

  async take(jobId: string): Promise<string | null> {
    const r = await this.run('wwTake', [this.results, jobId]);
    return typeof r === 'string' ? r : Buffer.isBuffer(r) ? r.toString() : null;
  }

  /** A coordinator (`consumer`: stable across its restarts) wants this job's result. */
  async want(jobId: string, consumer: string): Promise<void> {
    await this.run('wwWant', [this.wantKey(jobId), consumer]);
  }

  /** `consumer` has stored the result; true when no one else wants it (it was removed from the mailbox). */
  async release(jobId: string, consumer: string): Promise<boolean> {
    return Number(await this.run('wwRelease', [this.wantKey(jobId), this.results, consumer, jobId])) === 1;
  }
}

/** A job's return value when its result is in the mailbox. */
export const IN_MAILBOX = '{"mailbox":1}';
