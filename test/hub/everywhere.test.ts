/**
 * Issue 19 item 1, "a model reference works wherever a model path works": one test per entry point,
 * each with a model given by name, against the local hub (test/helpers/hub-server.ts; the real
 * `@huggingface/hub` client, HF_ENDPOINT → 127.0.0.1, no mocks):
 *   analyze, describe, esd, compare (in cli.test.ts, the seed example), distances, smooth and sharpen inputs, sweep, --base-model, the
 *   base of --peft with-base, `new WeightWatcher(name, { revision, token, offline, cacheDir, stream })`,
 *   the library's sweep() with the same options (the resolved commit recorded in the results database,
 *   said by sweep-report), and the queue: `analyze NAME --queue` (a worker that sees the
 *   coordinator's snapshot downloads nothing) and a worker that does not see it (it resolves the
 *   job's commit through its own cache). The queue tests need redis-server (skipped without).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { gpt2Repo, gptSafetensors, gptTensors, openaiGptRepo, shardedRepo } from '../helpers/hub-models.js';
import { loraTensors } from '../helpers/lora.js';
import { safetensorsBytes } from '../helpers/safetensors-writer.js';
import { runCli } from '../helpers/run-cli.js';
import { haveRedis, redisSkipReason, startRedis, type RedisServer } from '../helpers/redis.js';
import { WeightWatcher } from '../../src/watcher.js';
import { sweep } from '../../src/sweep/sweep.js';
import { openResultsSync } from '../../src/sweep/results.js';
import { sweepReport } from '../../src/sweep/report.js';
import type { SweepWorker, WorkerEvent } from '../../src/sweep/worker.js';
import { WeightWatcherError } from '../../src/shared/errors.js';

let hub: HubServer;
const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-everywhere-'));
const saved = { ...process.env };
let cache: string;
/** The flags of a quiet analysis from this test's cache, as JSON on stdout. */
const jsonFromCache = () => ['--cache-dir', cache, '--min-evals', '1', '--json', '-', '-q'];
let n = 0;
const commitOf = (repo: string, ref = 'main') => hub.repos.get(repo)!.refs.get(ref)!;

beforeAll(async () => {
  hub = await startHubServer();
  hub.addCommit('openai-community/gpt2', gpt2Repo());
  hub.addCommit('openai-community/openai-gpt', openaiGptRepo());
  hub.addCommit('org/sharded-a', shardedRepo(2, 3));
  hub.addCommit('org/sharded-b', shardedRepo(2, 4));
  // A tag at a second commit (main stays at the first), and a gated repo.
  hub.addCommit('org/tagged', { 'model.safetensors': gptSafetensors(2, 32, 5) });
  hub.addCommit('org/tagged', { 'model.safetensors': gptSafetensors(2, 32, 6) }, 'v1');
  hub.addCommit('org/gated', { 'model.safetensors': gptSafetensors(2, 32, 7) });
  hub.switches.gated.set('org/gated', 'hf_everywhere');
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
  delete process.env.HUGGING_FACE_HUB_TOKEN;
});
afterAll(async () => {
  process.env = saved;
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  hub.reset();
  cache = join(tmp, `cache-${n++}`);
});

type Json = { details: { name: string; alpha: number }[]; meta: { notes?: string[]; source: string } };
const NOTE = (name: string, repo = name) => new RegExp(`${name} → ${repo}@main commit [0-9a-f]{40}: .*snapshots/`);

describe('every command takes a model by name', () => {
  it('analyze NAME: downloads the weights, says what was resolved, and a second run offline makes no request', async () => {
    const r = await runCli('analyze', 'openai-community/gpt2', '--cache-dir', cache, '--min-evals', '5', '--json', '-', '-q');
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as Json;
    expect(out.details.length).toBe(14);
    expect(out.meta.notes?.[0]).toMatch(NOTE('openai-community/gpt2'));
    expect(out.meta.source).toContain(join(cache, 'models--openai-community--gpt2', 'snapshots', commitOf('openai-community/gpt2')));
    hub.reset();
    const again = await runCli('analyze', 'openai-community/gpt2', '--cache-dir', cache, '--offline', '--min-evals', '5', '-q');
    expect(again.code, again.err).toBe(0);
    expect(hub.requests).toEqual([]);
  });

  it('describe NAME@REV (a tag): the tag’s commit, not main’s', async () => {
    const r = await runCli('describe', 'org/tagged@v1', '--cache-dir', cache, '--json', '-', '-q');
    expect(r.code, r.err).toBe(0);
    const meta = (JSON.parse(r.out) as Json).meta;
    expect(meta.notes?.[0]).toContain(`org/tagged@v1 → org/tagged@v1 commit ${commitOf('org/tagged', 'v1')}`);
    expect(commitOf('org/tagged', 'v1')).not.toBe(commitOf('org/tagged'));
  });

  it('esd NAME --layer', async () => {
    const r = await runCli('esd', 'hf://openai-community/gpt2', '--cache-dir', cache, '--layer', 'h.0.attn.c_attn', '--json', '-');
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { count: number }).count).toBe(32);
    expect(
      existsSync(join(cache, 'models--openai-community--gpt2', 'snapshots', commitOf('openai-community/gpt2'), 'model.safetensors')),
    ).toBe(true);
  });

  // compare NAME NAME (the seed example): test/hub/cli.test.ts, with the downloads and the offline rerun.

  it('distances NAME NAME', async () => {
    const r = await runCli('distances', 'openai-community/gpt2', 'org/sharded-a', '--cache-dir', cache, '-q', '--json', '-');
    expect(r.code, r.err).toBe(0);
    // Both were downloaded into the cache (the sharded one: its index and shards).
    expect(readdirSync(join(cache, 'models--org--sharded-a', 'snapshots', commitOf('org/sharded-a'))).sort()).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
  });

  it('smooth NAME OUT and sharpen NAME OUT: the input by name, the cache untouched', async () => {
    const sm = await runCli('smooth', 'openai-community/gpt2', join(tmp, `sm-${n}.safetensors`), '--cache-dir', cache, '-q');
    expect(sm.code, sm.err).toBe(0);
    expect(existsSync(join(tmp, `sm-${n}.safetensors`))).toBe(true);
    const sh = await runCli(
      'sharpen',
      'openai-community/gpt2',
      join(tmp, `sh-${n}.safetensors`),
      '--cache-dir',
      cache,
      '--seed',
      '1',
      '-q',
    );
    expect(sh.code, sh.err).toBe(0);
    expect(sh.err).toMatch(/from the cache, 1 requests/);
    expect(existsSync(join(tmp, `sh-${n}.safetensors`))).toBe(true);
  });

  it('sweep NAME NAME --db: labels are the names, each run records its commit, sweep-report says it', async () => {
    const db = join(tmp, `cli-sweep-${n}.sqlite`);
    const r = await runCli(
      'sweep',
      'openai-community/openai-gpt',
      'openai-community/gpt2',
      '--db',
      db,
      '--cache-dir',
      cache,
      '--min-evals',
      '5',
      '-q',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/sweep: note: openai-community\/gpt2 → openai-community\/gpt2@main commit/);
    const results = openResultsSync(db);
    try {
      const runs = results.runs();
      expect(runs.map((x) => [x.model, x.status, x.origin?.commit])).toEqual([
        ['openai-community/openai-gpt', 'done', commitOf('openai-community/openai-gpt')],
        ['openai-community/gpt2', 'done', commitOf('openai-community/gpt2')],
      ]);
      expect(runs[1]!.origin).toMatchObject({
        input: 'openai-community/gpt2',
        repo: 'openai-community/gpt2',
        revision: 'main',
        files: ['model.safetensors'],
      });
    } finally {
      results.close();
    }
    const report = await sweepReport({ db });
    expect(report.text).toContain(
      `note: openai-community/gpt2: openai-community/gpt2@main commit ${commitOf('openai-community/gpt2')} (model.safetensors)`,
    );
    // --stream has no meaning for a sweep (runs are keyed by local files): a usage error.
    const streamed = await runCli('sweep', 'openai-community/gpt2', '--db', db, '--cache-dir', cache, '--stream');
    expect(streamed.code).toBe(2);
    expect(streamed.err).toContain('stream (--stream) does not go with a sweep');
  });

  it('analyze FILE --base-model NAME: the base by name', async () => {
    const ft = join(tmp, `ft-${n}.safetensors`);
    writeFileSync(ft, gptSafetensors(3, 32, 9));
    const r = await runCli('analyze', ft, '--base-model', 'openai-community/gpt2', ...jsonFromCache());
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as Json;
    expect(out.details.length).toBe(14);
    expect(out.meta.notes?.some((x) => NOTE('openai-community/gpt2').test(x))).toBe(true);
  });

  it('analyze ADAPTER --peft with-base --base-model NAME: the base by name', async () => {
    const base = new Map(gptTensors(3, 32, 2).map((t) => [t.name, { name: t.name, shape: t.shape, data: t.data! }]));
    const lora = loraTensors(base, { rank: 4, modules: ['h.0.attn.c_attn', 'h.1.mlp.c_fc'], layout: 'conv1d' });
    const adapter = join(tmp, `adapter-${n}`);
    mkdirSync(adapter);
    writeFileSync(join(adapter, 'adapter_config.json'), JSON.stringify({ r: 4, fan_in_fan_out: true }));
    writeFileSync(join(adapter, 'adapter_model.safetensors'), safetensorsBytes(lora));
    const r = await runCli('analyze', adapter, '--peft', 'with-base', '--base-model', 'openai-community/gpt2', ...jsonFromCache());
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as Json;
    expect(out.details.length).toBeGreaterThan(2);
    expect(out.meta.notes?.some((x) => NOTE('openai-community/gpt2').test(x))).toBe(true);
  });
});

describe('the library takes a model by name', () => {
  it('new WeightWatcher(name, { revision, token, offline, cacheDir, stream })', async () => {
    // token: a gated repo needs it; revision: a tag; cacheDir: where it lands.
    await expect(new WeightWatcher('org/gated', { cacheDir: cache }).describe()).rejects.toThrow(/access denied/);
    const gated = new WeightWatcher('org/gated', { cacheDir: cache, token: 'hf_everywhere' });
    expect((await gated.analyze({ min_evals: 1 })).length).toBe(10);
    expect(gated.lastRun!.resolved![0]).toMatchObject({ from: 'download', repo: 'org/gated', commit: commitOf('org/gated') });
    const tagged = new WeightWatcher('org/tagged', { cacheDir: cache, revision: 'v1' });
    await tagged.describe();
    expect(tagged.lastRun!.resolved![0]).toMatchObject({ revision: 'v1', commit: commitOf('org/tagged', 'v1') });
    // offline: the cache only, no request.
    hub.reset();
    const offline = new WeightWatcher('org/tagged@v1', { cacheDir: cache, offline: true });
    await offline.describe();
    expect(offline.lastRun!.resolved![0]).toMatchObject({ from: 'cache', commit: commitOf('org/tagged', 'v1') });
    expect(hub.requests).toEqual([]);
    // stream: range requests, nothing written to the cache.
    const fresh = join(tmp, `stream-cache-${n}`);
    const streamed = new WeightWatcher('openai-community/gpt2', { cacheDir: fresh, stream: true });
    expect((await streamed.analyze({ min_evals: 5 })).length).toBe(14);
    expect(streamed.lastRun!.resolved![0]).toMatchObject({ from: 'stream', commit: commitOf('openai-community/gpt2') });
    expect(existsSync(fresh)).toBe(false);
  });

  it('sweep([names], { db, revision, token, offline, cacheDir }): resolved, recorded, resumable offline; stream refused', async () => {
    const db = join(tmp, `lib-sweep-${n}.sqlite`);
    const notes: string[] = [];
    const first = await sweep(['org/tagged', 'org/gated'], {
      db,
      cacheDir: cache,
      revision: 'v1',
      token: 'hf_everywhere',
      min_evals: 1,
      onNote: (x) => notes.push(x),
    }).catch((e: unknown) => e);
    // revision applies to every name: org/gated has no v1.
    expect(first).toBeInstanceOf(WeightWatcherError);
    expect((first as WeightWatcherError).message).toMatch(/revision v1 not found/);

    notes.length = 0;
    const res = await sweep(['org/tagged@v1', 'org/gated'], {
      db,
      cacheDir: cache,
      token: 'hf_everywhere',
      min_evals: 1,
      onNote: (x) => notes.push(x),
    });
    expect(res.runs.map((r) => [r.model, r.status, r.origin?.commit])).toEqual([
      ['org/tagged@v1', 'analysed', commitOf('org/tagged', 'v1')],
      ['org/gated', 'analysed', commitOf('org/gated')],
    ]);
    expect(res.runs[0]!.path).toBe(join(cache, 'models--org--tagged', 'snapshots', commitOf('org/tagged', 'v1'), 'model.safetensors'));
    expect(notes.filter((x) => x.includes(' → ')).length).toBe(2);
    // Again offline: the database has both runs and the cache the files; not one request.
    hub.reset();
    const again = await sweep(['org/tagged@v1', 'org/gated'], { db, cacheDir: cache, offline: true, min_evals: 1 });
    expect(again.runs.map((r) => r.status)).toEqual(['cached', 'cached']);
    expect(hub.requests).toEqual([]);
    const stream = await sweep(['org/gated'], { db, cacheDir: cache, stream: true }).catch((e: unknown) => e);
    expect((stream as WeightWatcherError).code).toBe('E_USAGE');
  });

  it('sweep of sharded repos: each snapshot folder is fingerprinted by its weight files (the links to blobs)', async () => {
    const db = join(tmp, `sharded-${n}.sqlite`);
    const res = await sweep(['org/sharded-a', 'org/sharded-b'], { db, cacheDir: cache, min_evals: 1 });
    expect(res.runs.map((r) => r.status)).toEqual(['analysed', 'analysed']);
    expect(res.runs[0]!.runKey).not.toBe(res.runs[1]!.runKey);
    expect(res.runs[0]!.path).toBe(join(cache, 'models--org--sharded-a', 'snapshots', commitOf('org/sharded-a')));
    expect(res.runs[0]!.origin!.files).toEqual([
      'model.safetensors.index.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
    // Another tool adds its files to the snapshot (transformers: the tokenizer): same run key.
    writeFileSync(join(res.runs[0]!.path, 'tokenizer.json'), '{}');
    const again = await sweep(['org/sharded-a'], { db, cacheDir: cache, offline: true, min_evals: 1 });
    expect(again.runs.map((r) => [r.status, r.runKey])).toEqual([['cached', res.runs[0]!.runKey]]);
    // The cache folder itself (models--org--name) is the same model, and hf://org/name too.
    const folder = await sweep([join(cache, 'models--org--sharded-a'), 'hf://org/sharded-b'], {
      db,
      cacheDir: cache,
      offline: true,
      min_evals: 1,
    });
    expect(folder.runs.map((r) => [r.status, r.runKey, r.origin?.commit])).toEqual([
      ['cached', res.runs[0]!.runKey, commitOf('org/sharded-a')],
      ['cached', res.runs[1]!.runKey, commitOf('org/sharded-b')],
    ]);
  });
});

describe.skipIf(!haveRedis)(`the queue takes a model by name${haveRedis ? '' : ` (${redisSkipReason})`}`, () => {
  let redis: RedisServer;
  const workers: SweepWorker[] = [];
  const startWorker = async (queueName: string, events: WorkerEvent[] = []) => {
    const w = await (
      await import('../../src/sweep/worker.js')
    ).startWorker({ queue: redis.url, queueName, threads: 1, onEvent: (e) => events.push(e) });
    workers.push(w);
    return w;
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const w of workers) await w.close();
    await redis?.stop();
  });

  it('analyze NAME --queue: the coordinator resolves the name; a worker that sees its snapshot downloads nothing', async () => {
    const local = await runCli('analyze', 'openai-community/gpt2', '--cache-dir', cache, '--min-evals', '5', '--json', '-', '-q');
    expect(local.code, local.err).toBe(0);
    hub.reset();
    await startWorker('everywhere-analyze');
    const r = await runCli(
      'analyze',
      'openai-community/gpt2',
      '--queue',
      redis.url,
      '--queue-name',
      'everywhere-analyze',
      '--layers-per-job',
      '8',
      '--cache-dir',
      cache,
      '--min-evals',
      '5',
      '--json',
      '-',
      '-q',
    );
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as Json).meta.notes?.[0]).toMatch(NOTE('openai-community/gpt2'));
    const alphas = (j: string) => (JSON.parse(j) as Json).details.map((d) => [d.name, d.alpha]);
    expect(alphas(r.out)).toEqual(alphas(local.out));
    // One small request (main's commit) by the coordinator; no bytes, from either side.
    expect(hub.bytesServed).toBe(0);
    expect(hub.requests.length).toBe(1);
    expect(hub.requests[0]!.path).toMatch(/^\/api\/models\/openai-community\/gpt2\/revision\//);
  });

  it('sweep of names on a queue: a worker that does not see the coordinator’s cache resolves the commit through its own', async () => {
    const localDb = join(tmp, `queue-local-${n}.sqlite`);
    const reference = await sweep(['org/sharded-a', 'openai-community/gpt2'], {
      db: localDb,
      cacheDir: join(tmp, `ref-cache-${n}`),
      min_evals: 1,
    });
    hub.reset();
    const workerCache = join(tmp, `worker-cache-${n}`);
    process.env.HF_HUB_CACHE = workerCache; // the worker's own cache (its machine's HF_HUB_CACHE)
    const events: WorkerEvent[] = [];
    let worker: Promise<SweepWorker> | undefined;
    let coordinatorBytes = 0;
    try {
      const res = await sweep(['org/sharded-a', 'openai-community/gpt2'], {
        db: join(tmp, `queue-${n}.sqlite`),
        cacheDir: cache,
        min_evals: 1,
        queue: redis.url,
        queueName: 'everywhere-sweep',
        layersPerJob: 4,
        onQueued: () => {
          // The coordinator's cache is on its own machine: the worker cannot see it.
          renameSync(cache, `${cache}-away`);
          coordinatorBytes = hub.bytesServed;
          worker = startWorker('everywhere-sweep', events);
        },
      });
      await worker;
      expect(res.runs.map((r) => [r.model, r.status, r.runKey, r.origin?.commit])).toEqual(
        reference.runs.map((r) => [r.model, 'analysed', r.runKey, r.origin?.commit]),
      );
      for (let i = 0; i < 2; i++) expect(res.runs[i]!.details).toEqual(reference.runs[i]!.details);
      expect(events.filter((e) => e.type === 'failed')).toEqual([]);
      // The worker downloaded each model once, into its own cache, at the coordinator's commit.
      expect(readdirSync(join(workerCache, 'models--org--sharded-a', 'snapshots'))).toEqual([commitOf('org/sharded-a')]);
      expect(readdirSync(join(workerCache, 'models--openai-community--gpt2', 'snapshots', commitOf('openai-community/gpt2')))).toEqual([
        'model.safetensors',
      ]);
      // The models went over the wire twice: to the coordinator, then once to the worker (not once per job).
      const weights = Object.entries(shardedRepo(2, 3))
        .filter(([k]) => k.startsWith('model'))
        .reduce((t, [, b]) => t + b.length, 0);
      expect(coordinatorBytes).toBeGreaterThanOrEqual(weights + gpt2Repo()['model.safetensors']!.length);
      expect(hub.bytesServed).toBe(2 * coordinatorBytes);
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  });

  it('a worker whose own cache has the snapshot at the same path, but partly: it completes it rather than failing', async () => {
    const commit = commitOf('org/sharded-b');
    const shard = join(cache, 'models--org--sharded-b', 'snapshots', commit, 'model-00002-of-00002.safetensors');
    process.env.HF_HUB_CACHE = cache; // every machine's default cache has the same path
    const events: WorkerEvent[] = [];
    let worker: Promise<SweepWorker> | undefined;
    try {
      const res = await sweep(['org/sharded-b'], {
        db: join(tmp, `queue-partial-${n}.sqlite`),
        cacheDir: cache,
        min_evals: 1,
        queue: redis.url,
        queueName: 'everywhere-partial',
        onQueued: () => {
          rmSync(shard); // this machine's copy lacks a shard
          worker = startWorker('everywhere-partial', events);
        },
      });
      await worker;
      expect(events.filter((e) => e.type === 'failed')).toEqual([]);
      expect(existsSync(shard)).toBe(true);
      const local = await sweep(['org/sharded-b'], {
        db: join(tmp, `partial-local-${n}.sqlite`),
        cacheDir: cache,
        offline: true,
        min_evals: 1,
      });
      expect(res.runs.map((r) => [r.status, r.runKey])).toEqual([['analysed', local.runs[0]!.runKey]]);
      expect(res.runs[0]!.details).toEqual(local.runs[0]!.details);
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  });
});
