/**
 * One big model as layer-group jobs over two workers (analyze --queue): the rows equal the
 * single-process analysis row for row, with seeded randomized columns too (per-layer random streams
 * are keyed by layer id, not by position in the job).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeightWatcher } from '../../src/index.js';
import { jsonSafe } from '../../src/report/output.js';
import { haveRedis, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';
import { builtCliSkipReason, haveBuiltCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { writeSafetensors } from '../helpers/safetensors-writer.js';
import { layerMatrix } from '../helpers/checkpoints.js';

const ready = haveRedis && haveBuiltCli;
if (!ready) console.warn(!haveRedis ? redisSkipReason : builtCliSkipReason);

const dir = mkdtempSync(join(tmpdir(), 'ww-bigmodel-'));
let redis: RedisServer | undefined;
const workers: CliProcess[] = [];

/** 14 weight matrices of several shapes, plus biases and a norm (which consume no layer id but are skipped). */
const SHAPES: [number, number][] = [
  [300, 96],
  [96, 96],
  [384, 96],
  [96, 384],
  [300, 96],
  [96, 96],
  [384, 96],
  [96, 384],
  [256, 128],
  [128, 128],
  [512, 128],
  [128, 512],
  [64, 8],
  [200, 150],
];
const model = join(dir, 'big.safetensors');
writeSafetensors(
  model,
  SHAPES.flatMap(([n, m], i) => [
    { name: `block${i}.weight`, shape: [n, m], data: layerMatrix(n, m, 100 + i, 1 + (i % 5)) },
    { name: `block${i}.bias`, shape: [n], data: new Float32Array(n).fill(0.01) },
    ...(i % 4 === 0 ? [{ name: `norm${i}.weight`, shape: [m], data: new Float32Array(m).fill(1) }] : []),
  ]),
);

beforeAll(async () => {
  if (!ready) return;
  redis = await startRedis();
  for (const name of ['A', 'B']) {
    const w = startCli(`worker-${name}`, ['worker', '--queue', redis.url, '--queue-name', 'ww-big']);
    workers.push(w);
    await w.waitFor(/ready on/);
  }
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function queued(
  layersPerJob: number,
  extra: string[],
): Promise<{ details: unknown[]; summary: unknown; out: string; seconds: number }> {
  const out = join(dir, `queued-${layersPerJob}.json`);
  const t0 = performance.now();
  const p = startCli('coordinator', [
    'analyze',
    model,
    '--queue',
    redis!.url,
    '--queue-name',
    'ww-big',
    '--layers-per-job',
    String(layersPerJob),
    '--poll-ms',
    '100',
    '--json',
    out,
    '-q',
    ...extra,
  ]);
  const exit = await p.exited;
  expect(exit.code, p.output()).toBe(0);
  const parsed = JSON.parse(readFileSync(out, 'utf8')) as { details: unknown[]; summary: unknown };
  return { ...parsed, out: p.output(), seconds: (performance.now() - t0) / 1000 };
}

describe.skipIf(!ready)('a big model split into layer-group jobs over two workers', () => {
  it('default options, 4 layers per job: row for row the single-process analysis', async () => {
    const ww = new WeightWatcher(model);
    const single = jsonSafe(await ww.analyze());
    const q = await queued(4, []);
    expect(q.out).toMatch(/queued 4 jobs/); // 14 layers → 4 + 4 + 4 + 2
    expect(q.details).toEqual(single);
    expect(q.summary).toEqual(jsonSafe(ww.getSummary()));
    const jobs = workers.map((w) => (w.output().match(/ done: /g) ?? []).length);
    console.log(
      `big model, default options: ${SHAPES.length} layers in 4 jobs, ${q.seconds.toFixed(1)} s; jobs per worker: ${jobs.join(', ')}`,
    );
  });

  it('randomize + mp_fit with a seed, 3 layers per job: identical too', async () => {
    const opts = { randomize: true, mp_fit: true, seed: 11 };
    const single = jsonSafe(await new WeightWatcher(model).analyze(opts));
    const q = await queued(3, ['--randomize', '--mp-fit', '--seed', '11']);
    expect(q.out).toMatch(/queued 5 jobs/);
    expect(q.details).toEqual(single);
    expect((q.details as Record<string, unknown>[]).every((r) => typeof r.rand_distance === 'number')).toBe(true);
    const jobs = workers.map((w) => (w.output().match(/ done: /g) ?? []).length);
    console.log(`big model, randomize + mp_fit (seed 11): 5 jobs, ${q.seconds.toFixed(1)} s; jobs per worker so far: ${jobs.join(', ')}`);
  });
});
