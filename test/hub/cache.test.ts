/** Model references and offline resolution from the standard cache (issue 19, items 1 and 2): no network. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseModelRef } from '../../src/hub/ref.js';
import { cacheLocations } from '../../src/hub/cache.js';
import { resolveModel } from '../../src/hub/resolve.js';
import { listCachedModels } from '../../src/hub/models.js';
import { WeightWatcher } from '../../src/watcher.js';
import { gpt2Repo, shardedRepo, writePythonCache } from '../helpers/hub-models.js';
import { expectError } from '../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
/** No variable of the real environment leaks in, and nothing can go online. */
const env = (e: Record<string, string>) => ({ HOME: join(tmp, 'home'), HF_ENDPOINT: 'http://127.0.0.1:9', ...e });

describe('model references', () => {
  it('parses every form', () => {
    expect(parseModelRef('gpt2')).toEqual({ kind: 'repo', repo: 'gpt2', input: 'gpt2' });
    expect(parseModelRef('openai-community/gpt2')).toMatchObject({ repo: 'openai-community/gpt2' });
    expect(parseModelRef('org/name@v1.0')).toMatchObject({ repo: 'org/name', revision: 'v1.0' });
    expect(parseModelRef(`org/name@${C1}`)).toMatchObject({ revision: C1 });
    expect(parseModelRef('hf://org/name@dev/sub/model.gguf')).toMatchObject({ repo: 'org/name', revision: 'dev', file: 'sub/model.gguf' });
    expect(parseModelRef('hf://gpt2')).toMatchObject({ repo: 'gpt2' });
    expect(parseModelRef('models--org--name')).toMatchObject({ repo: 'org/name' });
    expect(parseModelRef('/x/models--org--name/')).toMatchObject({ repo: 'org/name' });
    expect(parseModelRef('https://example.org/m.safetensors')).toMatchObject({ kind: 'url' });
  });
  it('leaves paths alone: file names, relative and absolute paths, deeper paths', () => {
    for (const p of ['model.safetensors', './org/name', '/abs/org/name', 'a/b/c', 'weights.gguf', '~/m', 'a\\b', 'out.json'])
      expect(parseModelRef(p), p).toBeUndefined();
  });
  it('refuses malformed hf:// references and revisions', async () => {
    await expectError(
      Promise.resolve().then(() => parseModelRef('hf://')),
      'E_USAGE',
    );
    await expectError(
      Promise.resolve().then(() => parseModelRef('hf://org/name/../../etc')),
      'E_UNSAFE',
    );
    await expectError(
      Promise.resolve().then(() => parseModelRef('org/name@a..b')),
      'E_USAGE',
    );
  });
});

describe('cache locations', () => {
  it('in the issue order, each once; --cache-dir alone', () => {
    expect(
      cacheLocations(undefined, { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/h', XDG_CACHE_HOME: '/x', HOME: '/home/u' }),
    ).toEqual(['/a', '/b', '/h/hub', '/x/huggingface/hub', '/home/u/.cache/huggingface/hub']);
    expect(cacheLocations(undefined, { HOME: '/home/u' })).toEqual(['/home/u/.cache/huggingface/hub']);
    expect(cacheLocations('/mine', { HF_HUB_CACHE: '/a' })).toEqual(['/mine']);
  });
});

describe('offline resolution', () => {
  const hfHome = join(tmp, 'hf-home');
  const cache = join(hfHome, 'hub');
  const repoDir = writePythonCache(cache, 'openai-community/gpt2', C1, gpt2Repo(), { main: C1, 'v1.0': C1 });
  writePythonCache(cache, 'org/sharded', C2, shardedRepo(2));

  it('org/name via $HF_HOME/hub: refs/main → snapshots/<commit>, zero requests (the endpoint is a dead port)', async () => {
    const r = await resolveModel('openai-community/gpt2', { env: env({ HF_HOME: hfHome, HF_HUB_OFFLINE: '1' }) });
    expect(r).toMatchObject({ from: 'cache', repo: 'openai-community/gpt2', commit: C1, requests: 0 });
    expect(r.path).toBe(join(repoDir, 'snapshots', C1, 'model.safetensors'));
  });

  it('a tag, a commit, and the models--org--name folder itself', async () => {
    const e = env({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
    expect((await resolveModel('openai-community/gpt2@v1.0', { env: e })).commit).toBe(C1);
    expect((await resolveModel(`openai-community/gpt2@${C1}`, { env: e })).commit).toBe(C1);
    expect((await resolveModel('hf://openai-community/gpt2/config.json', { env: e })).path).toBe(
      join(repoDir, 'snapshots', C1, 'config.json'),
    );
    expect((await resolveModel(repoDir, { env: e })).path).toBe(join(repoDir, 'snapshots', C1, 'model.safetensors'));
    // The folder name alone, looked up in the cache.
    expect((await resolveModel('models--openai-community--gpt2', { env: e })).commit).toBe(C1);
  });

  it('every location is searched in order: XDG and ~/.cache too', async () => {
    const xdg = join(tmp, 'xdg');
    writePythonCache(join(xdg, 'huggingface', 'hub'), 'org/only-xdg', C1, { 'model.safetensors': gpt2Repo()['model.safetensors']! });
    const r = await resolveModel('org/only-xdg', { env: env({ HF_HOME: hfHome, XDG_CACHE_HOME: xdg, HF_HUB_OFFLINE: '1' }) });
    expect(r.snapshot).toBe(join(xdg, 'huggingface', 'hub', 'models--org--only-xdg', 'snapshots', C1));
    writePythonCache(join(tmp, 'home', '.cache', 'huggingface', 'hub'), 'org/in-home', C1, {
      'model.safetensors': gpt2Repo()['model.safetensors']!,
    });
    expect((await resolveModel('org/in-home', { env: env({ HF_HUB_OFFLINE: '1' }) })).commit).toBe(C1);
  });

  it('a sharded snapshot resolves to the folder (index + every shard present)', async () => {
    const r = await resolveModel('org/sharded', { cacheDir: cache, offline: true, env: env({}) });
    expect(r.path).toBe(join(cache, 'models--org--sharded', 'snapshots', C2));
    expect(r.files).toEqual(['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });

  it('a local path always wins', async () => {
    const local = join(tmp, 'openai-community', 'gpt2');
    mkdirSync(local, { recursive: true });
    writeFileSync(join(local, 'model.safetensors'), gpt2Repo()['model.safetensors']!);
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      expect(await resolveModel('openai-community/gpt2', { env: env({ HF_HUB_CACHE: cache }) })).toEqual({
        input: 'openai-community/gpt2',
        from: 'local',
        path: 'openai-community/gpt2',
      });
    } finally {
      process.chdir(cwd);
    }
  });

  it('offline and not cached: E_NOT_FOUND naming where it looked and near names, never a request', async () => {
    const err = await expectError(
      resolveModel('openai-community/gpt-2', { env: env({ HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' }) }),
      'E_NOT_FOUND',
    );
    expect(err.message).toContain(join(cache, 'models--openai-community--gpt-2'));
    expect(err.message).toContain('HF_HUB_OFFLINE');
    expect(err.message).toContain('openai-community/gpt2');
    await expectError(resolveModel('openai-community/gpt2@nope', { cacheDir: cache, offline: true, env: env({}) }), 'E_NOT_FOUND');
  });

  it('new WeightWatcher(org/name, { cacheDir, offline }): analyze and describe say what was resolved', async () => {
    const ww = new WeightWatcher('openai-community/gpt2', { cacheDir: cache, offline: true });
    const rows = await ww.describe();
    expect(rows.length).toBeGreaterThan(0);
    expect(ww.lastRun!.resolved).toEqual([expect.objectContaining({ repo: 'openai-community/gpt2', commit: C1, from: 'cache' })]);
    expect(ww.lastRun!.notes[0]).toContain(`commit ${C1}`);
    const details = await ww.analyze({ min_evals: 5 });
    expect(details.length).toBe(14); // 3 blocks × 4 matrices + wte + wpe
    expect(ww.lastRun!.source).toContain(join('snapshots', C1));
  });
});

describe('the models in a cache', () => {
  it('refs, size, format; a snapshot missing a shard is not analysable, and offline resolution refuses it', async () => {
    const cache = join(tmp, 'listing');
    const files = shardedRepo(2, 5);
    delete files['model-00002-of-00002.safetensors'];
    writePythonCache(cache, 'org/partial', C1, files);
    writePythonCache(cache, 'openai-community/gpt2', C2, gpt2Repo(), { main: C2, 'v1.0': C2 });
    const list = await listCachedModels([cache]);
    expect(list.map((m) => m.repo)).toEqual(['openai-community/gpt2', 'org/partial']);
    const [gpt2, partial] = list;
    expect(gpt2!.revisions).toEqual([
      expect.objectContaining({ commit: C2, refs: ['main', 'v1.0'], format: 'safetensors', analysable: true }),
    ]);
    // Size on disk: each blob once (tokenizer.json, vocab.json and generation_config.json share one).
    const unique = new Map(Object.values(gpt2Repo()).map((b) => [Buffer.from(b).toString('base64'), b.length]));
    expect(gpt2!.size).toBe([...unique.values()].reduce((a, b) => a + b, 0));
    expect(partial!.revisions[0]).toMatchObject({
      format: 'safetensors (sharded)',
      analysable: false,
      reason: expect.stringContaining('model-00002-of-00002'),
    });
    await expectError(resolveModel('org/partial', { cacheDir: cache, offline: true, env: env({}) }), 'E_NOT_FOUND', 'not in the cache');
  });
});
