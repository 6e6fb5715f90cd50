/**
 * Downloads through the real @huggingface/hub client from a local hub (test/helpers/hub-server.ts,
 * 127.0.0.1 only): only the needed files, the Python cache layout, zero requests on a second run
 * for a commit, resume after a cut, concurrent processes, checks, and the errors of issue 19 item 6.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadFileToCacheDir, scanCacheDir } from '@huggingface/hub';
import { resolveModel, type ResolveOptions } from '../../src/hub/resolve.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { gpt2Repo, openaiGptRepo, shardedRepo } from '../helpers/hub-models.js';
import { expectError } from '../helpers/errors.js';

let hub: HubServer;
const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-dl-'));
let n = 0;
/** A fresh cache per test. */
const freshCache = () => join(tmp, `cache-${n++}`);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
let GPT2: string;
let OPENAI: string;

beforeAll(async () => {
  hub = await startHubServer();
  GPT2 = hub.addCommit('openai-community/gpt2', gpt2Repo());
  OPENAI = hub.addCommit('openai-community/openai-gpt', openaiGptRepo());
  hub.addCommit('org/sharded', shardedRepo(3));
  hub.addCommit('org/no-weights', { 'README.md': new TextEncoder().encode('hi'), 'config.json': new TextEncoder().encode('{}') });
  hub.addCommit('org/gated', { 'model.safetensors': gpt2Repo()['model.safetensors']! });
  hub.switches.gated.set('org/gated', 'hf_good_token');
  const big = new Uint8Array(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  hub.addCommit('org/big', { 'model.gguf': big });
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => hub.reset());

const opts = (cacheDir: string, extra: ResolveOptions = {}): ResolveOptions => ({
  cacheDir,
  env: { HOME: tmp, HF_ENDPOINT: hub.url },
  retry: { baseDelayMs: 10 },
  ...extra,
});

describe('download into the cache', () => {
  it('fetches only the weights, in the Python layout; a second run makes zero requests for a commit, one for a branch', async () => {
    const cache = freshCache();
    const r = await resolveModel('openai-community/gpt2', opts(cache));
    const repoDir = join(cache, 'models--openai-community--gpt2');
    expect(r).toMatchObject({ from: 'download', commit: GPT2, revision: 'main', files: ['model.safetensors'] });
    expect(r.path).toBe(join(repoDir, 'snapshots', GPT2, 'model.safetensors'));
    // Only model.safetensors went over the wire (not pytorch_model.bin, tf_model.h5, …), plus the
    // one byte of the client's resolve probe (Range: bytes=0-0).
    const weights = gpt2Repo()['model.safetensors']!;
    expect(hub.bytesServed).toBe(weights.length + 1);
    expect(readdirSync(join(repoDir, 'snapshots', GPT2))).toEqual(['model.safetensors']);
    // blobs/<sha256>, a relative symlink, refs/main.
    expect(readFileSync(join(repoDir, 'blobs', sha256(weights)))).toEqual(Buffer.from(weights));
    expect(readlinkSync(r.path)).toBe(join('..', '..', 'blobs', sha256(weights)));
    expect(readFileSync(join(repoDir, 'refs', 'main'), 'utf8')).toBe(GPT2);
    expect(readdirSync(join(repoDir, 'blobs')).filter((f) => f.endsWith('.incomplete'))).toEqual([]);

    hub.reset();
    const again = await resolveModel(`openai-community/gpt2@${GPT2}`, opts(cache));
    expect(again).toMatchObject({ from: 'cache', requests: 0 });
    expect(hub.requests).toEqual([]);
    const branch = await resolveModel('openai-community/gpt2', opts(cache));
    expect(branch).toMatchObject({ from: 'cache', requests: 1, commit: GPT2 });
    expect(hub.requests.length).toBe(1);
    expect(hub.bytesServed).toBe(0);
  });

  it('a moved branch: the new commit is fetched and refs/main follows', async () => {
    const cache = freshCache();
    hub.addCommit('org/moving', { 'model.safetensors': gpt2Repo()['model.safetensors']! });
    await resolveModel('org/moving', opts(cache));
    const next = hub.addCommit('org/moving', { 'model.safetensors': openaiGptRepo()['model.safetensors']! });
    const r = await resolveModel('org/moving', opts(cache));
    expect(r.commit).toBe(next);
    expect(readFileSync(join(cache, 'models--org--moving', 'refs', 'main'), 'utf8')).toBe(next);
  });

  it('sharded: the index first, then every shard it names', async () => {
    const cache = freshCache();
    const r = await resolveModel('org/sharded', opts(cache));
    expect(r.files).toEqual([
      'model.safetensors.index.json',
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
    ]);
    expect(r.path).toBe(join(cache, 'models--org--sharded', 'snapshots', r.commit!));
    expect(readdirSync(r.path).sort()).toEqual([...r.files!].sort()); // no config.json
  });

  it('the client scanCacheDir lists the cache we wrote', async () => {
    const cache = freshCache();
    await resolveModel('openai-community/gpt2', opts(cache));
    await resolveModel('org/sharded', opts(cache));
    const scan = await scanCacheDir(cache);
    expect(scan.warnings).toEqual([]);
    const gpt2 = scan.repos.find((x) => x.id.name === 'openai-community/gpt2')!;
    expect(gpt2.revisions.map((v) => ({ commit: v.commitOid, refs: v.refs, files: v.files.length }))).toEqual([
      { commit: GPT2, refs: ['main'], files: 1 },
    ]);
    expect(gpt2.size).toBe(gpt2Repo()['model.safetensors']!.length);
    expect(scan.repos.map((x) => x.id.name).sort()).toEqual(['openai-community/gpt2', 'org/sharded']);
  });

  it("a cache written by the client's own downloadFileToCacheDir resolves with our reader", async () => {
    const cache = freshCache();
    await downloadFileToCacheDir({ repo: 'openai-community/openai-gpt', path: 'model.safetensors', cacheDir: cache, hubUrl: hub.url });
    hub.reset();
    // No refs/ (the client writes none): a commit, or the only snapshot for the default branch, offline.
    const r = await resolveModel('openai-community/openai-gpt', opts(cache, { offline: true }));
    expect(r).toMatchObject({ from: 'cache', commit: OPENAI, requests: 0 });
    expect(readFileSync(r.path)).toEqual(Buffer.from(openaiGptRepo()['model.safetensors']!));
    expect((await resolveModel(`openai-community/openai-gpt@${OPENAI}`, opts(cache))).requests).toBe(0);
    expect(hub.requests).toEqual([]);
  });

  it('a cut connection resumes from where it stopped; a failed run leaves only the .incomplete file', async () => {
    const cache = freshCache();
    const size = 3 << 20;
    hub.switches.cut = { file: 'model.gguf', afterBytes: 2 << 20, times: 1 };
    // One attempt per run: the first run fails at 2 MiB …
    await expectError(resolveModel('org/big', opts(cache, { retry: { attempts: 1, baseDelayMs: 1 } })), 'E_IO', 'run again to resume');
    const repoDir = join(cache, 'models--org--big');
    const blobs = readdirSync(join(repoDir, 'blobs'));
    expect(blobs.length).toBe(1);
    expect(blobs[0]).toMatch(/\.incomplete$/);
    const partial = statSync(join(repoDir, 'blobs', blobs[0]!)).size;
    expect(partial).toBe(2 << 20);
    expect(existsSync(join(repoDir, 'snapshots'))).toBe(false);
    // … and the second continues from there: only the rest goes over the wire.
    hub.reset();
    const r = await resolveModel('org/big', opts(cache));
    expect(hub.bytesServed).toBe(size - partial + 1);
    expect(statSync(r.path).size).toBe(size);
    expect(r.path.endsWith('model.gguf')).toBe(true);
  });

  it('within one run, a cut is retried from the byte it reached', async () => {
    const cache = freshCache();
    hub.switches.cut = { file: 'model.gguf', afterBytes: 1 << 20, times: 1 };
    const r = await resolveModel('org/big', opts(cache));
    expect(statSync(r.path).size).toBe(3 << 20);
    expect(hub.bytesServed).toBe((3 << 20) + 1);
  });

  it('5xx and 429 with Retry-After are retried', async () => {
    const cache = freshCache();
    hub.switches.fail = { status: 503, times: 2 };
    await resolveModel('openai-community/gpt2', opts(cache));
    expect(hub.switches.fail.times).toBe(0);
    hub.switches.fail = { status: 429, times: 1, retryAfter: '0' };
    const r = await resolveModel('org/sharded', opts(cache));
    expect(r.from).toBe('download');
    expect(hub.switches.fail.times).toBe(0);
    // Exhausted retries: the status is reported.
    hub.switches.fail = { status: 500, times: 10 };
    await expectError(resolveModel('org/sharded@main', opts(freshCache(), { retry: { attempts: 2, baseDelayMs: 1 } })), 'E_IO', 'HTTP 500');
  });

  it('a range answer of the wrong length is an error, and nothing is linked', async () => {
    const cache = freshCache();
    hub.switches.cut = { file: 'model.gguf', afterBytes: 1 << 20, times: 1 };
    await expectError(resolveModel('org/big', opts(cache, { retry: { attempts: 1, baseDelayMs: 1 } })), 'E_IO');
    hub.reset();
    hub.switches.wrongRange = true;
    await expectError(resolveModel('org/big', opts(cache)), 'E_IO', 'wrong range answer');
    expect(existsSync(join(cache, 'models--org--big', 'snapshots'))).toBe(false);
  });

  it('bytes that do not match the listed hash are refused and not kept (E_CORRUPT)', async () => {
    const cache = freshCache();
    hub.switches.corrupt = 'model.safetensors';
    await expectError(resolveModel('openai-community/openai-gpt', opts(cache)), 'E_CORRUPT', 'do not match');
    const repoDir = join(cache, 'models--openai-community--openai-gpt');
    expect(readdirSync(join(repoDir, 'blobs'))).toEqual([]);
    expect(existsSync(join(repoDir, 'snapshots'))).toBe(false);
    hub.reset();
    expect((await resolveModel('openai-community/openai-gpt', opts(cache))).from).toBe('download');
  });

  it('two processes downloading the same model end with one intact copy', async () => {
    const cache = freshCache();
    // A slow link (48 chunks × 40 ms ≈ 2 s), so that the two runs overlap.
    hub.switches.chunkDelayMs = 40;
    const script = `
      import { resolveModel } from ${JSON.stringify(join(process.cwd(), 'src/hub/resolve.ts'))};
      let waited = false;
      const r = await resolveModel('org/big', { cacheDir: ${JSON.stringify(cache)}, env: { HOME: ${JSON.stringify(tmp)}, HF_ENDPOINT: ${JSON.stringify(hub.url)} }, onDownload: (p) => { waited ||= p.waiting === true; } });
      console.log(JSON.stringify({ ...r, waited }));
    `;
    const file = join(tmp, 'concurrent.mts');
    writeFileSync(file, script);
    const run = () =>
      new Promise<string>((ok, fail) =>
        execFile(join(process.cwd(), 'node_modules', '.bin', 'vite-node'), [file], { cwd: process.cwd() }, (err, out, errOut) =>
          err ? fail(new Error(`${err.message}\n${errOut}`)) : ok(out.trim().split('\n').pop()!),
        ),
      );
    const [a, b] = await Promise.all([run(), run()]);
    const ra = JSON.parse(a) as { path: string; waited: boolean; downloadedBytes: number };
    const rb = JSON.parse(b) as { path: string; waited: boolean; downloadedBytes: number };
    // One fetched the file, the other waited for it and fetched nothing.
    expect([ra.downloadedBytes, rb.downloadedBytes].sort()).toEqual([0, 3 << 20]);
    expect(ra.path).toBe(rb.path);
    const repoDir = join(cache, 'models--org--big');
    expect(readdirSync(join(repoDir, 'blobs'))).toHaveLength(1);
    expect(statSync(ra.path).size).toBe(3 << 20);
    expect(lstatSync(ra.path).isSymbolicLink()).toBe(true);
    // One copy went over the wire (the waiting process found the blob).
    expect(hub.bytesServed).toBe((3 << 20) + 1);
  });
});

describe('what is fetched', () => {
  it('a partly cached snapshot (config only) gets just the weights', async () => {
    const cache = freshCache();
    await resolveModel('hf://openai-community/gpt2/config.json', opts(cache));
    hub.reset();
    const r = await resolveModel('openai-community/gpt2', opts(cache));
    expect(r.files).toEqual(['model.safetensors']);
    expect(hub.bytesServed).toBe(gpt2Repo()['model.safetensors']!.length + 1);
    expect(readdirSync(join(cache, 'models--openai-community--gpt2', 'snapshots', GPT2)).sort()).toEqual([
      'config.json',
      'model.safetensors',
    ]);
  });

  it('--peft: the adapter files; GGUF repos: --file, or the only one', async () => {
    const enc = new TextEncoder();
    hub.addCommit('org/lora', {
      'adapter_config.json': enc.encode('{"r":4}'),
      'adapter_model.safetensors': gpt2Repo()['model.safetensors']!,
      'README.md': enc.encode('x'),
    });
    hub.addCommit('org/ggufs', { 'a.Q4_K.gguf': new Uint8Array(100).fill(1), 'b.Q8_0.gguf': new Uint8Array(100).fill(2) });
    const cache = freshCache();
    const lora = await resolveModel('org/lora', opts(cache, { peft: true }));
    expect(lora.files).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    await expectError(resolveModel('org/ggufs', opts(cache)), 'E_USAGE', 'choose one with --file', 'a.Q4_K.gguf, b.Q8_0.gguf');
    const one = await resolveModel('org/ggufs', opts(cache, { file: 'b.Q8_0.gguf' }));
    expect(one.files).toEqual(['b.Q8_0.gguf']);
    expect(one.path.endsWith('b.Q8_0.gguf')).toBe(true);
    await expectError(resolveModel('org/ggufs', opts(cache, { file: 'c.gguf' })), 'E_NOT_FOUND', 'no file c.gguf');
  });

  it('no space left: the cause, the fix, and the partial file kept for the next run', async () => {
    const cache = freshCache();
    const { ensureFile } = await import('../../src/hub/download.js');
    const bytes = new Uint8Array(1000).fill(9);
    const etag = sha256(bytes);
    const repoDir = join(cache, 'models--org--full');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(join(repoDir, 'blobs'), { recursive: true });
    // Writes to /dev/full fail with ENOSPC, as a full disk does.
    symlinkSync('/dev/full', join(repoDir, 'blobs', `${etag}.incomplete`));
    async function* chunks() {
      yield bytes;
    }
    await expectError(
      ensureFile(repoDir, 'c'.repeat(40), { path: 'model.safetensors', size: bytes.length, etag, hash: 'sha256' }, async () => chunks()),
      'E_IO',
      'no space left on the device',
      'HF_HUB_CACHE',
      'resumes',
    );
    expect(existsSync(join(repoDir, 'blobs', etag))).toBe(false);
    expect(existsSync(join(repoDir, 'snapshots'))).toBe(false);
  });
});

describe('clear errors', () => {
  it('repo not found, with near names from the cache', async () => {
    const cache = freshCache();
    await resolveModel('openai-community/gpt2', opts(cache));
    await expectError(resolveModel('openai-community/gtp2', opts(cache)), 'E_NOT_FOUND', 'repository not found', 'openai-community/gpt2');
  });
  it('gated: names the licence and HF_TOKEN; the token makes it work', async () => {
    const cache = freshCache();
    await expectError(resolveModel('org/gated', opts(cache)), 'E_NOT_FOUND', 'accept the licence on the model page', 'HF_TOKEN');
    await expectError(resolveModel('org/gated', opts(cache, { token: 'hf_wrong' })), 'E_NOT_FOUND', 'HF_TOKEN');
    expect((await resolveModel('org/gated', opts(cache, { token: 'hf_good_token' }))).from).toBe('download');
    const viaEnv = await resolveModel('org/gated', {
      ...opts(freshCache()),
      env: { HOME: tmp, HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_good_token' },
    });
    expect(viaEnv.from).toBe('download');
  });
  it('revision not found', async () => {
    await expectError(resolveModel('openai-community/gpt2@v9', opts(freshCache())), 'E_NOT_FOUND', 'revision v9 not found');
  });
  it('a repo without weight files lists what it has', async () => {
    await expectError(resolveModel('org/no-weights', opts(freshCache())), 'E_NOT_FOUND', 'no weight files', 'README.md, config.json');
  });
  it('an unreachable hub says so and how to work offline', async () => {
    await expectError(
      resolveModel('org/x', { cacheDir: freshCache(), env: { HOME: tmp, HF_ENDPOINT: 'http://127.0.0.1:9' }, retry: { attempts: 1 } }),
      'E_IO',
      'cannot reach http://127.0.0.1:9',
      'HF_HUB_OFFLINE',
    );
  });
});
