/**
 * Sweeps without a queue (issue 11): the embedded default. Counters (analysed / from the database,
 * and the per-run analysis count stored in the database) prove that nothing is recomputed; the
 * stored rows equal `analyze --json` of each model.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweep, openResults, startWorker } from '../../src/sweep/index.js';
import { jsonSafe } from '../../src/report/output.js';
import { corpus, haveCorpus } from '../helpers/corpus.js';
import { writeCheckpointModel, writeTrainingRun } from '../helpers/checkpoints.js';
import { haveBuiltCli, startCli } from '../helpers/cli-process.js';
import { expectError } from '../helpers/errors.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;

const MINIGPT = ['init', 'small-data', 'big-data'].map((m) => corpus(`minigpt/${m}`));

describe.skipIf(!haveCorpus)('local sweep of the corpus minigpt models', () => {
  const db = join(dir, 'minigpt.sqlite');

  it('sweeps init, small-data, big-data; a second sweep recomputes nothing; an added model is the only one analysed', async () => {
    const first = await sweep(MINIGPT, { db });
    expect([first.analysed, first.cached, first.failed]).toEqual([3, 0, 0]);
    expect(first.runs.map((r) => [r.model, r.step, r.status, r.details.length])).toEqual([
      ['init', 0, 'analysed', 18],
      ['small-data', 1, 'analysed', 18],
      ['big-data', 2, 'analysed', 18],
    ]);
    expect(first.stepsParsed).toBe(false);

    const progress: string[] = [];
    const again = await sweep(MINIGPT, { db, onProgress: (p) => progress.push(`${p.done}/${p.total} ${p.model} ${p.status}`) });
    expect([again.analysed, again.cached, again.failed]).toEqual([0, 3, 0]);
    expect(progress).toEqual(['1/3 init cached', '2/3 small-data cached', '3/3 big-data cached']);
    expect(again.runs.map((r) => r.details)).toEqual(first.runs.map((r) => r.details));
    expect(again.runs.map((r) => r.summary)).toEqual(first.runs.map((r) => r.summary));

    const bf16 = corpus('minigpt/big-data/model.bf16.safetensors');
    const added = await sweep([...MINIGPT, bf16], { db });
    expect([added.analysed, added.cached, added.failed]).toEqual([1, 3, 0]);
    expect(added.runs.filter((r) => r.status === 'analysed').map((r) => r.path)).toEqual([bf16]);

    // The database's own counter: each run was analysed exactly once over the three sweeps.
    const results = await openResults(db);
    try {
      expect(results.allRuns().map((r) => r.attempts)).toEqual([1, 1, 1, 1]);
      expect(results.sweeps().map((s) => [s.analysed, s.cached, s.failed])).toEqual([
        [3, 0, 0],
        [0, 3, 0],
        [1, 3, 0],
      ]);
      const series = results.summarySeries();
      expect(series.map((p) => [p.model, p.below2, p.above6])).toEqual([
        ['init', 0, 15],
        ['small-data', 8, 0],
        ['big-data', 7, 0],
        ['big-data/model.bf16', expect.any(Number), 0],
      ]);
    } finally {
      results.close();
    }
  });

  it('stores rows equal to analyze --json of each model, and the same summary', async () => {
    const results = await openResults(db);
    try {
      const points = results.runs({ sweep: 1 });
      expect(points).toHaveLength(3);
      for (const p of points) {
        const json = join(dir, `${p.label}.analyze.json`);
        const r = await run('analyze', p.path, '--json', json, '-q');
        expect(r.code).toBe(0);
        const ref = JSON.parse(readFileSync(json, 'utf8')) as { details: unknown[]; summary: unknown };
        expect(jsonSafe(results.rows(p.runKey))).toEqual(ref.details);
        expect(jsonSafe(p.summary)).toEqual(ref.summary);
        // No duplicates: one row per (layer, slice).
        expect(new Set(results.rows(p.runKey).map((x) => `${x.layer_id}:${x.slice_id ?? ''}`)).size).toBe(ref.details.length);
      }
    } finally {
      results.close();
    }
  });

  it('sweep CLI: one progress line per model with an ETA, --json in step order, the table, exit 0', async () => {
    const out = join(dir, 'cli-sweep.json');
    const r = await run('sweep', ...MINIGPT, '--db', join(dir, 'cli.sqlite'), '--json', out);
    expect(r.code).toBe(0);
    const lines = r.err.split('\n').filter((l) => /^\[\d\/3\]/.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[1\/3\] init \(step 0\): analysed, 18 layers in [\d.]+ s; ETA [\d.]+ s$/);
    expect(lines[2]).toMatch(/^\[3\/3\] big-data \(step 2\): analysed, 18 layers in [\d.]+ s$/);
    expect(r.err).toMatch(/sweep: 3 models: 3 analysed, 0 from the database, 0 failed/);
    expect(r.out).toMatch(/step\s+model\s+status\s+layers\s+α<2\s+α>6\s+alpha/);
    expect(r.out).toMatch(/1\s+small-data\s+analysed\s+18\s+8\s+0\s+2\.17/);
    const parsed = JSON.parse(readFileSync(out, 'utf8')) as {
      runs: { model: string; step: number; summary: Record<string, number>; details: unknown[] }[];
    };
    expect(parsed.runs.map((x) => [x.model, x.step, x.details.length])).toEqual([
      ['init', 0, 18],
      ['small-data', 1, 18],
      ['big-data', 2, 18],
    ]);
    expect(Object.keys(parsed.runs[0]!).slice(0, 4)).toEqual(['model', 'step', 'summary', 'details']);
    const again = await run('sweep', ...MINIGPT, '--db', join(dir, 'cli.sqlite'), '-q');
    expect(again.code).toBe(0);
    expect(again.err).toMatch(/\[1\/3\] init \(step 0\): in the database already \(18 layers\)/);
    expect(again.err).toMatch(/0 analysed, 3 from the database/);
  });

  it('sweep-report: text, figures and the HTML report', async () => {
    const plots = join(dir, 'plots');
    const html = join(dir, 'sweep.html');
    const r = await run('sweep-report', '--db', db, '--sweep', '1', '--plot', plots, '--report', html);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/0\s+init\s+18\s+0\s+15\s+11\.659/);
    expect(r.out).toMatch(/1\s+small-data\s+18\s+8\s+0\s+2\.171/);
    expect(r.out).toMatch(/layers whose alpha moved most[^\n]*\n\s+23 h\.3\.mlp\.c_proj: α 50\.8\d* → 1\.9/);
    for (const f of ['alpha-heatmap', 'alpha-counts', 'summary', 'alpha-movers']) {
      const png = readFileSync(join(plots, `sweep.${f}.png`));
      expect(Array.from(png.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
      expect(readFileSync(join(plots, `sweep.${f}.svg`), 'utf8').startsWith('<svg')).toBe(true);
    }
    // Heatmap rows in natural layer order (layer ids ascending).
    const heat = readFileSync(join(plots, 'sweep.alpha-heatmap.svg'), 'utf8');
    const ids = [...heat.matchAll(/>(\d+) (h\.\d+\.[a-z_.]+|wte|wpe)</g)].map((m) => Number(m[1]));
    expect(ids.length).toBe(18);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const page = readFileSync(html, 'utf8');
    for (const s of ['id="summary"', 'id="heatmap"', 'id="movers"', 'data-figure="alpha-heatmap"', 'id="steps-table"', 'id="movers-table"'])
      expect(page).toContain(s);
    expect(page).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/);
  });

  it('sweep-report --plot-scale: the PNGs at the SVG size; without --plot it is a usage error', async () => {
    const plots = join(dir, 'plots-1x');
    expect((await run('sweep-report', '--db', db, '--sweep', '1', '--plot', plots, '--plot-scale', '1')).code).toBe(0);
    const png = readFileSync(join(plots, 'sweep.summary.png'));
    const size = /<svg[^>]* width="([\d.]+)" height="([\d.]+)"/.exec(readFileSync(join(plots, 'sweep.summary.svg'), 'utf8'))!;
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([Number(size[1]), Number(size[2])]);
    const bad = await run('sweep-report', '--db', db, '--plot-scale', '1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--plot-scale sets the size of the PNGs --plot writes/);
  });
});

describe('checkpoints of a training run', () => {
  const runDir = join(dir, 'run');
  writeTrainingRun(runDir, [100, 20, 3]);
  writeCheckpointModel(join(runDir, 'model.safetensors'), 200, undefined, 7); // the final model at the top level

  it('a trainer output folder is swept as its checkpoint-N folders, in step order', async () => {
    const notes: string[] = [];
    const res = await sweep([runDir], { db: join(dir, 'run.sqlite'), onNote: (n) => notes.push(n) });
    expect(res.stepsParsed).toBe(true);
    expect(res.runs.map((r) => [r.model, r.step])).toEqual([
      ['checkpoint-3', 3],
      ['checkpoint-20', 20],
      ['checkpoint-100', 100],
    ]);
    expect(notes.join('\n')).toMatch(/3 checkpoint folders and a model at its top level; sweeping the checkpoints/);
    // Alpha moves as the signal grows.
    expect(res.runs[0]!.summary.alpha).not.toBe(res.runs[2]!.summary.alpha);
  });

  it('globs, step names (checkpoint-N, step_N, ckptN) and --step-regex', async () => {
    const zoo = join(dir, 'zoo');
    mkdirSync(zoo);
    writeCheckpointModel(join(zoo, 'ckpt1200.safetensors'), 12);
    writeCheckpointModel(join(zoo, 'step_300.safetensors'), 3);
    writeCheckpointModel(join(zoo, 'run-e7.safetensors'), 7);
    const byGlob = await sweep([join(zoo, '[cs]*.safetensors')], { db: join(dir, 'zoo.sqlite') });
    expect(byGlob.runs.map((r) => [r.model, r.step])).toEqual([
      ['step_300', 300],
      ['ckpt1200', 1200],
    ]);
    // run-e7 has no default step: with it, the order given is used.
    const mixed = await sweep([zoo], { db: join(dir, 'zoo.sqlite') });
    expect(mixed.stepsParsed).toBe(false);
    expect(mixed.runs.map((r) => r.model)).toEqual(['ckpt1200', 'run-e7', 'step_300']);
    expect([mixed.analysed, mixed.cached]).toEqual([1, 2]);
    const custom = await sweep([zoo], { db: join(dir, 'zoo.sqlite'), stepRegex: '(?:ckpt|_|-e)(\\d+)' });
    expect(custom.runs.map((r) => [r.model, r.step])).toEqual([
      ['run-e7', 7],
      ['step_300', 300],
      ['ckpt1200', 1200],
    ]);
    expect([custom.analysed, custom.cached]).toEqual([0, 3]);
    await expectError(sweep([join(zoo, 'nothing*')], { db: join(dir, 'zoo.sqlite') }), 'E_NOT_FOUND', 'matches no file');
  });

  it.skipIf(!haveBuiltCli)('an interrupted sweep resumes where it stopped', async () => {
    const steps = [1, 2, 3, 4, 5, 6];
    const big = join(dir, 'big-run');
    writeTrainingRun(big, steps, [
      [400, 300],
      [300, 300],
      [500, 200],
      [400, 256],
    ]);
    const db = join(dir, 'resume.sqlite');
    const p = startCli('sweep', ['sweep', big, '--db', db, '--threads', '1']);
    await p.waitFor(/^\[1\/6\] checkpoint-1 \(step 1\): analysed/);
    p.kill('SIGKILL');
    await p.exited;
    const before = await openResults(db);
    const stored = before.allRuns().filter((r) => r.status === 'done').length;
    before.close();
    expect(stored).toBeGreaterThanOrEqual(1);
    const resumed = await sweep([big], { db });
    console.log(`interrupted after ${stored} of 6 checkpoints; the rerun analysed ${resumed.analysed}`);
    expect(resumed.cached).toBe(stored);
    expect(resumed.analysed).toBe(6 - stored);
    expect(resumed.runs.map((r) => r.step)).toEqual(steps);
    const after = await openResults(db);
    try {
      expect(after.allRuns().map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1, 1]);
    } finally {
      after.close();
    }
  });
});

describe('failures and bad input', () => {
  const good = writeCheckpointModel(join(dir, 'good.safetensors'), 1);
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": broken json')]));

  it('a model that cannot be read is listed with its error; exit 3; all failed: exit 1', async () => {
    const db = join(dir, 'fail.sqlite');
    const r = await run('sweep', good, bad, '--db', db, '-q');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/FAILED: E_\w+: .*bad\.safetensors/);
    expect(r.err).toMatch(/weightwatcher: model failed: bad: /);
    const res = await openResults(db);
    try {
      const failed = res.runs({ status: 'failed' });
      expect(failed.map((f) => f.label)).toEqual(['bad']);
      expect(failed[0]!.error).toMatch(/bad\.safetensors/);
    } finally {
      res.close();
    }
    const onlyBad = await run('sweep', bad, '--db', db, '-q');
    expect(onlyBad.code).toBe(1);
  });

  it('bad usage: exit 2', async () => {
    expect((await run('sweep', good)).code).toBe(2);
    expect((await run('sweep', good, '--db', join(dir, 'u.sqlite'), '--layers-per-job', '4')).code).toBe(2);
    expect((await run('sweep', good, '--db', join(dir, 'u.sqlite'), '--fit', 'TPL')).code).toBe(2);
    expect((await run('sweep', good, '--db', join(dir, 'u.sqlite'), '--queue', 'http://x')).code).toBe(2);
    expect((await run('sweep', good, '--db', join(dir, 'u.sqlite'), '--step-regex', '(')).code).toBe(2);
    expect((await run('sweep-report')).code).toBe(2);
    expect((await run('worker')).code).toBe(2);
    expect((await run('sweep-report', '--db', join(dir, 'missing.sqlite'))).code).toBe(1);
  });

  it.skipIf(!haveBuiltCli)('a coordinator that cannot reach Redis exits 1 with a clear message (and does not hang)', async () => {
    const p = startCli('coordinator', ['sweep', good, '--db', join(dir, 'unreachable.sqlite'), '--queue', 'redis://127.0.0.1:1']);
    const exit = await p.exited;
    expect(exit.code, p.output()).toBe(1);
    expect(p.output()).toMatch(/weightwatcher: error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    const res = await openResults(join(dir, 'unreachable.sqlite'));
    try {
      expect(res.sweeps().map((s) => s.status)).toEqual(['failed']);
    } finally {
      res.close();
    }
  });

  it('a worker that cannot reach Redis fails with a clear message', async () => {
    await expectError(
      startWorker({ queue: 'redis://127.0.0.1:1', connectTimeoutMs: 1500 }),
      'E_IO',
      'cannot reach Redis at redis://127.0.0.1:1',
    );
  });
});

describe('copies keep the run key', () => {
  it('the same content under another path is not analysed again', async () => {
    const a = writeCheckpointModel(join(dir, 'orig.safetensors'), 4);
    const copyDir = join(dir, 'copy');
    mkdirSync(copyDir);
    const b = join(copyDir, 'moved.safetensors');
    copyFileSync(a, b);
    const db = join(dir, 'copies.sqlite');
    const first = await sweep([a], { db });
    const second = await sweep([b], { db });
    expect(first.runs[0]!.runKey).toBe(second.runs[0]!.runKey);
    expect([second.analysed, second.cached]).toEqual([0, 1]);
    const other = await sweep([b], { db, randomize: true, seed: 1 });
    expect(other.runs[0]!.runKey).not.toBe(first.runs[0]!.runKey);
    expect(other.analysed).toBe(1);
    // Options that do not change numbers do not change the key.
    const threads = await sweep([b], { db, threads: 1 });
    expect(threads.cached).toBe(1);
  });
});
