/**
 * A queued sweep honours `signal` / `timeoutMs`: the coordinator stops waiting at once and rejects
 * with AbortedError, the queued jobs stay in the queue for the next run, and the database is usable.
 * Against a real redis-server (skipped without one); no worker runs, so the jobs would wait forever.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { sweep } from '../../src/sweep/sweep.js';
import { openResultsSync } from '../../src/sweep/results.js';
import { AbortedError } from '../../src/shared/errors.js';
import { corpus, haveCorpus, skipReason } from '../helpers/corpus.js';
import { haveRedis, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-queue-cancel-'));
let redis: RedisServer;

describe.skipIf(!haveRedis || !haveCorpus)(
  `a queued sweep cancelled (${!haveRedis ? redisSkipReason : haveCorpus ? 'redis-server' : skipReason})`,
  () => {
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('abort() rejects within a poll, the jobs stay queued, and timeoutMs does the same', async () => {
      const models = ['init', 'small-data'].map((m) => corpus(`minigpt/${m}`));
      const controller = new AbortController();
      const db = join(dir, 'runs.sqlite');
      const t0 = performance.now();
      const run = sweep(models, {
        db,
        queue: redis.url,
        queueName: 'cancel-test',
        pollMs: 10_000,
        signal: controller.signal,
        onQueued: () => setTimeout(() => controller.abort(), 100),
      });
      const e = await run.catch((x: unknown) => x);
      const ms = performance.now() - t0;
      expect(e).toBeInstanceOf(AbortedError);
      expect((e as AbortedError).code).toBe('E_ABORTED');
      expect((e as AbortedError).name).toBe('AbortError');
      console.log(`queued sweep: rejected ${ms.toFixed(0)} ms after the call (abort 100 ms after queueing; poll 10 s)`);
      expect(ms).toBeLessThan(8000); // far below the 10 s poll: the abort wakes the wait

      const queue = new Queue('cancel-test', { connection: { url: redis.url } });
      try {
        expect(await queue.getJobCountByTypes('waiting', 'prioritized', 'delayed')).toBeGreaterThan(0);
      } finally {
        await queue.close();
      }
      const results = openResultsSync(db);
      expect(results.runs().length).toBe(0);
      results.close();

      const t1 = performance.now();
      const timed = await sweep(models, { db, queue: redis.url, queueName: 'cancel-test', pollMs: 10_000, timeoutMs: 500 }).catch(
        (x: unknown) => x,
      );
      expect(timed).toBeInstanceOf(AbortedError);
      expect((timed as AbortedError).timedOut).toBe(true);
      expect(performance.now() - t1).toBeLessThan(8000);
    });
  },
);
