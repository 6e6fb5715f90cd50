/**
 * Scale-out on a real Redis (Debian's redis-server on a free port, no persistence): a coordinator
 * and worker processes of the built CLI. Faults: a worker SIGKILLed while it holds a job (its job is
 * recovered by stalled-job detection and retried), a job that fails three times (reported with its
 * error), a coordinator killed and restarted (it resumes from the queue and the database). The
 * results must equal a local sweep's: no duplicate rows, no missing model. Elapsed times and retry
 * counts are printed, not asserted against a clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { sweep } from '../../src/sweep/index.js';
import { corpus, haveCorpus, skipReason } from '../helpers/corpus.js';
import { haveRedis, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';
import { builtCliSkipReason, haveBuiltCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { writeCheckpointModel } from '../helpers/checkpoints.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const ready = haveRedis && haveBuiltCli && haveCorpus;
if (!ready) console.warn(!haveRedis ? redisSkipReason : !haveBuiltCli ? builtCliSkipReason : skipReason);

const dir = mkdtempSync(join(tmpdir(), 'ww-queue-'));
let redis: RedisServer | undefined;
const procs: CliProcess[] = [];
const cli = (name: string, args: string[], env?: Record<string, string>) => {
  const p = startCli(name, args, env ? { env } : {});
  procs.push(p);
  return p;
};
/** Short lock and stalled-check intervals (worker options) so a dead worker's job comes back within seconds. */
const FAST_STALL = ['--lock-duration', '1000', '--stalled-interval', '500'];

beforeAll(async () => {
  if (ready) redis = await startRedis();
});
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface DbContent {
  runs: Map<string, { status: string; summary: string | null; layers: number | null; label: string }>;
  rows: Map<string, string[]>;
  rowCount: number;
  /** The layers' spectra (issue 22): run_key → `<layer>:<slice> <count> <hex of the float32 bytes>`. */
  spectra: Map<string, string[]>;
}

/** Everything a sweep stored that must not depend on where it ran. */
function readDb(file: string): DbContent {
  const db = new Sqlite(file, { readonly: true });
  try {
    const runs = new Map(
      (
        db.prepare('SELECT run_key, status, summary_json, layers, label FROM runs').all() as {
          run_key: string;
          status: string;
          summary_json: string | null;
          layers: number | null;
          label: string;
        }[]
      ).map((r) => [r.run_key, { status: r.status, summary: r.summary_json, layers: r.layers, label: r.label }]),
    );
    const rows = new Map<string, string[]>();
    const all = db.prepare('SELECT run_key, layer_id, slice, row_json FROM layer_rows ORDER BY run_key, layer_id, slice').all() as {
      run_key: string;
      layer_id: number;
      slice: number;
      row_json: string;
    }[];
    for (const r of all) {
      if (!rows.has(r.run_key)) rows.set(r.run_key, []);
      rows.get(r.run_key)!.push(`${r.layer_id}:${r.slice} ${r.row_json}`);
    }
    const spectra = new Map<string, string[]>();
    for (const s of db
      .prepare('SELECT run_key, layer_id, slice, count, hex(evals) AS h FROM layer_spectra ORDER BY run_key, layer_id, slice')
      .all() as { run_key: string; layer_id: number; slice: number; count: number; h: string }[]) {
      if (!spectra.has(s.run_key)) spectra.set(s.run_key, []);
      spectra.get(s.run_key)!.push(`${s.layer_id}:${s.slice} ${s.count} ${s.h}`);
    }
    return { runs, rows, rowCount: all.length, spectra };
  } finally {
    db.close();
  }
}

function expectSameResults(queued: string, local: string): void {
  const a = readDb(queued);
  const b = readDb(local);
  expect([...a.runs.keys()].sort()).toEqual([...b.runs.keys()].sort()); // no missing or extra model
  for (const [key, run] of b.runs) {
    expect(a.runs.get(key)!.status).toBe('done');
    expect(run.status).toBe('done');
    expect(a.runs.get(key)!.layers).toBe(run.layers);
    expect(a.runs.get(key)!.summary).toBe(run.summary);
    expect(a.rows.get(key)).toEqual(b.rows.get(key));
    // The workers send the same float32 spectra the local run stores, one per row.
    expect(a.spectra.get(key)?.length).toBe(b.rows.get(key)!.length);
    expect(a.spectra.get(key)).toEqual(b.spectra.get(key));
  }
  expect(a.rowCount).toBe(b.rowCount); // no duplicate rows
}

function retries(out: string): { retries: number; stalled: number } {
  const m = /(\d+) job retries \((\d+) recovered from dead workers\)/.exec(out);
  if (!m) throw new Error(`no retry count in:\n${out}`);
  return { retries: Number(m[1]), stalled: Number(m[2]) };
}

const MINIGPT = ['init', 'small-data', 'big-data'].map((m) => corpus(`minigpt/${m}`));

describe.skipIf(!ready)('sweeps over a Redis queue (BullMQ)', () => {
  it('a coordinator and two workers; one worker is SIGKILLed while it holds a job; the database equals the local sweep', async () => {
    const local = join(dir, 'local.sqlite');
    await sweep(MINIGPT, { db: local });
    const queued = join(dir, 'queued.sqlite');
    const started = performance.now();
    const coordinator = cli('coordinator', ['sweep', ...MINIGPT, '--db', queued, '--queue', redis!.url, '--poll-ms', '100', '-q']);
    await coordinator.waitFor(/sweep: queued 3 jobs/);
    // Worker A holds every job it takes (test hook) and is killed while it holds its first one.
    const a = cli('worker-A', ['worker', '--queue', redis!.url, ...FAST_STALL], { WEIGHTWATCHER_TEST_HOLD_JOB_MS: '600000' });
    const held = await a.waitFor(/holding job (\S+)/);
    const heldJob = /holding job (\S+)/.exec(held)![1]!;
    const b = cli('worker-B', ['worker', '--queue', redis!.url, ...FAST_STALL]);
    await b.waitFor(/ready on/);
    a.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const exit = await coordinator.exited;
    const elapsed = (performance.now() - started) / 1000;
    expect(exit.code, coordinator.output()).toBe(0);
    const r = retries(coordinator.output());
    console.log(
      `queue sweep of 3 models, 2 workers (one SIGKILLed holding job ${heldJob}): ${elapsed.toFixed(1)} s, ${r.retries} job retries, ${r.stalled} recovered from the dead worker`,
    );
    expect(r.stalled).toBeGreaterThanOrEqual(1);
    expect(r.retries).toBeGreaterThanOrEqual(1);
    // The held job was finished by worker B on a later attempt.
    expect(b.output()).toMatch(new RegExp(`job ${heldJob} started: .*attempt [2-9]`));
    expect(b.output()).toMatch(new RegExp(`job ${heldJob} done`));
    expectSameResults(queued, local);
    b.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
    expect(b.output()).toMatch(/worker: stopped/);
  });

  it('a job that fails three times is reported with its error, not lost', async () => {
    const good = writeCheckpointModel(join(dir, 'good.safetensors'), 2);
    const changing = writeCheckpointModel(join(dir, 'changing.safetensors'), 3);
    const db = join(dir, 'failing.sqlite');
    const coordinator = cli('coordinator-fail', [
      'sweep',
      good,
      changing,
      '--db',
      db,
      '--queue',
      redis!.url,
      '--queue-name',
      'ww-fail',
      '--poll-ms',
      '100',
      '-q',
    ]);
    await coordinator.waitFor(/sweep: queued 2 jobs/);
    // The file changes after the coordinator fingerprinted it: every attempt must refuse it.
    appendFileSync(changing, Buffer.alloc(16));
    const w = cli('worker-fail', ['worker', '--queue', redis!.url, '--queue-name', 'ww-fail', ...FAST_STALL]);
    const exit = await coordinator.exited;
    expect(exit.code, coordinator.output()).toBe(3);
    const out = coordinator.output();
    expect(out).toMatch(/weightwatcher: model failed: changing: .*differ from what the coordinator .* fingerprinted.*\(after 3 attempts\)/);
    expect(out).toMatch(/1 analysed, 0 from the database, 1 failed/);
    expect(w.output().match(/failed \(attempt \d\): E_CORRUPT/g)).toHaveLength(3);
    const db2 = new Sqlite(db, { readonly: true });
    const runs = db2.prepare('SELECT label, status, error FROM runs ORDER BY label').all() as {
      label: string;
      status: string;
      error: string;
    }[];
    db2.close();
    expect(runs.map((r) => [r.label, r.status])).toEqual([
      ['changing', 'failed'],
      ['good', 'done'],
    ]);
    expect(runs[0]!.error).toMatch(/after 3 attempts/);
    w.kill('SIGTERM');
    await w.exited;
  });

  it('a coordinator killed after queueing is restarted and resumes from the queue, then from the database', async () => {
    const models = [writeCheckpointModel(join(dir, 'r1.safetensors'), 5), writeCheckpointModel(join(dir, 'r2.safetensors'), 9)];
    const local = join(dir, 'restart-local.sqlite');
    await sweep(models, { db: local });
    const db = join(dir, 'restart.sqlite');
    const args = ['sweep', ...models, '--db', db, '--queue', redis!.url, '--queue-name', 'ww-restart', '--poll-ms', '100', '-q'];
    const first = cli('coordinator-1', args);
    await first.waitFor(/sweep: queued 2 jobs/);
    first.kill('SIGKILL');
    await first.exited;
    // The workers finish the jobs while no coordinator is running.
    const w = cli('worker-restart', ['worker', '--queue', redis!.url, '--queue-name', 'ww-restart', ...FAST_STALL]);
    await w.waitFor(/job \S+ done/);
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if ((w.output().match(/ done: /g) ?? []).length >= 2) {
          clearInterval(t);
          resolve();
        }
      }, 50);
    });
    const second = cli('coordinator-2', args);
    expect((await second.exited).code, second.output()).toBe(0);
    expect(second.output()).toMatch(/queued 0 jobs, 2 found in the queue from an earlier coordinator/);
    expect(second.output()).toMatch(/2 analysed, 0 from the database, 0 failed/);
    expectSameResults(db, local);
    const third = cli('coordinator-3', args);
    expect((await third.exited).code).toBe(0);
    expect(third.output()).toMatch(/0 analysed, 2 from the database, 0 failed/);
    // Completed jobs were removed once written: nothing is left in Redis for this queue.
    const { Queue } = await import('bullmq');
    const q = new Queue('ww-restart', { connection: { url: redis!.url } });
    const counts = await q.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
    await q.close();
    expect(counts).toEqual({ completed: 0, failed: 0, wait: 0, active: 0, delayed: 0 });
    w.kill('SIGTERM');
    await w.exited;
  });
});
