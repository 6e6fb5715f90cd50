/**
 * Layer spectra over the queue (issue 22): checkpoints split into layer-group jobs, worked on by two
 * worker processes of the built CLI on a real Redis, store the same float32 spectra as a local sweep,
 * byte for byte, beside the same rows; with --no-spectra the queued database has none (the workers
 * are not asked for them) and its rows are still the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { sweep } from '../../src/sweep/index.js';
import { haveRedis, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';
import { builtCliSkipReason, haveBuiltCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { writeTrainingRun } from '../helpers/checkpoints.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
const ready = haveRedis && haveBuiltCli;
if (!ready) console.warn(!haveRedis ? redisSkipReason : builtCliSkipReason);

const dir = mkdtempSync(join(tmpdir(), 'ww-queue-spectra-'));
let redis: RedisServer | undefined;
const procs: CliProcess[] = [];

beforeAll(async () => {
  if (!ready) return;
  redis = await startRedis();
  for (const name of ['A', 'B']) {
    const w = startCli(`worker-${name}`, ['worker', '--queue', redis.url, '--queue-name', 'ww-spectra']);
    procs.push(w);
    await w.waitFor(/ready on/);
  }
});
afterAll(async () => {
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** run_key → rows, and run_key → spectra (`<layer>:<slice> <count> <hex>`), and the runs' spectra flags. */
function content(file: string) {
  const db = new Sqlite(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT run_key, layer_id, slice, row_json FROM layer_rows ORDER BY run_key, layer_id, slice').all();
    const spectra = (
      db.prepare('SELECT run_key, layer_id, slice, count, hex(evals) AS h FROM layer_spectra ORDER BY run_key, layer_id, slice').all() as {
        run_key: string;
        layer_id: number;
        slice: number;
        count: number;
        h: string;
      }[]
    ).map((s) => `${s.run_key} ${s.layer_id}:${s.slice} ${s.count} ${s.h}`);
    const flags = (db.prepare('SELECT spectra FROM runs ORDER BY run_key').all() as { spectra: number | null }[]).map((r) => r.spectra);
    return { rows, spectra, flags };
  } finally {
    db.close();
  }
}

describe.skipIf(!ready)('layer spectra over a Redis queue', () => {
  const ckpts = writeTrainingRun(join(dir, 'run'), [0, 300, 900]);
  /** A coordinator sweeping the checkpoints into `db` over the queue, run to its end (exit 0). */
  const coordinate = async (name: string, db: string, extra: string[]) => {
    const c = startCli(name, [
      'sweep',
      ...ckpts,
      '--db',
      db,
      '--queue',
      redis!.url,
      '--queue-name',
      'ww-spectra',
      ...extra,
      '--poll-ms',
      '100',
      '-q',
    ]);
    procs.push(c);
    const exit = await c.exited;
    expect(exit.code, c.output()).toBe(0);
    return c;
  };

  it('layer-group jobs (2 layers each) over two workers store the local sweep’s spectra byte for byte', async () => {
    const local = join(dir, 'local.sqlite');
    await sweep(ckpts, { db: local });
    const queued = join(dir, 'queued.sqlite');
    const c = await coordinate('coordinator', queued, ['--layers-per-job', '2']);
    expect(c.output()).toMatch(/queued 6 jobs/); // 3 checkpoints × (4 layers / 2)
    const a = content(queued);
    const b = content(local);
    expect(a.rows).toEqual(b.rows);
    expect(a.spectra).toHaveLength(b.rows.length);
    expect(a.spectra).toEqual(b.spectra);
    expect(a.flags).toEqual([1, 1, 1]);
  });

  it('--no-spectra: the workers are not asked for them, none are stored, the rows are the same', async () => {
    const queued = join(dir, 'queued-off.sqlite');
    await coordinate('coordinator-off', queued, ['--no-spectra']);
    const a = content(queued);
    expect(a.rows).toEqual(content(join(dir, 'local.sqlite')).rows);
    expect(a.spectra).toEqual([]);
    expect(a.flags).toEqual([0, 0, 0]);
  });
});
