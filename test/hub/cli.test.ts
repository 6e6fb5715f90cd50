/**
 * The commands with models by name, against the local hub (HF_ENDPOINT → 127.0.0.1): the seed
 * example `compare openai-community/openai-gpt openai-community/gpt2` end to end on generated
 * GPT- and GPT-2-shaped models served under those names and file layouts, the other commands,
 * `models`, progress lines in logs, and exit code 1 with a clear message for bad names.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { gpt2Repo, gptTensors, openaiGptRepo } from '../helpers/hub-models.js';
import { loraTensors } from '../helpers/lora.js';
import { safetensorsBytes } from '../helpers/safetensors-writer.js';
import { runCli } from '../helpers/run-cli.js';
import { downloadProgress } from '../../src/cli/model-source-options.js';
import { PassThrough } from 'node:stream';

let hub: HubServer;
const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-cli-'));
const saved = { ...process.env };
let cache: string;
let n = 0;

beforeAll(async () => {
  hub = await startHubServer();
  hub.addCommit('openai-community/gpt2', gpt2Repo());
  hub.addCommit('openai-community/openai-gpt', openaiGptRepo());
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
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

describe('commands with models by name', () => {
  it('compare openai-community/openai-gpt openai-community/gpt2: downloads only the weights, then compares', async () => {
    const out = join(tmp, 'cmp.json');
    const r = await runCli(
      'compare',
      'openai-community/openai-gpt',
      'openai-community/gpt2',
      '--cache-dir',
      cache,
      '--json',
      out,
      '--min-evals',
      '5',
    );
    expect(r.code, r.err).toBe(0);
    // What each name became, and the downloads as log lines (stderr is not a terminal).
    expect(r.err).toMatch(/note: openai-community\/openai-gpt → openai-community\/openai-gpt@main commit [0-9a-f]{40}: .*snapshots/);
    expect(r.err).toContain('downloaded model.safetensors');
    const cmp = JSON.parse(readFileSync(out, 'utf8')) as { models: { name: string; layers: number }[] };
    expect(cmp.models.map((m) => [m.name, m.layers])).toEqual([
      ['openai-gpt', 10],
      ['gpt2', 14],
    ]);
    expect(hub.bytesServed).toBe(openaiGptRepo()['model.safetensors']!.length + gpt2Repo()['model.safetensors']!.length + 2);

    // Again, offline: from the cache, no request.
    hub.reset();
    const again = await runCli(
      'compare',
      'openai-community/openai-gpt',
      'openai-community/gpt2',
      '--cache-dir',
      cache,
      '--offline',
      '--min-evals',
      '5',
    );
    expect(again.code, again.err).toBe(0);
    expect(hub.requests).toEqual([]);
  });

  it('analyze, describe, esd, distances and smooth take names; describe says what was resolved', async () => {
    const d = await runCli('describe', 'openai-community/gpt2', '--cache-dir', cache, '--json', '-', '-q');
    expect(d.code, d.err).toBe(0);
    const meta = (JSON.parse(d.out) as { meta: { notes: string[]; source: string } }).meta;
    expect(meta.notes[0]).toMatch(/^openai-community\/gpt2 → openai-community\/gpt2@main commit [0-9a-f]{40}: /);
    expect(meta.source).toContain('models--openai-community--gpt2');

    const a = await runCli('analyze', 'hf://openai-community/gpt2', '--cache-dir', cache, '--offline', '--min-evals', '5');
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain('14 layers analysed');
    expect(a.err).toContain('note: hf://openai-community/gpt2 → ');

    const e = await runCli('esd', 'openai-community/gpt2', '--cache-dir', cache, '--layer', 'h.0.attn.c_attn');
    expect(e.code, e.err).toBe(0);
    const dist = await runCli(
      'distances',
      'openai-community/gpt2',
      'openai-community/openai-gpt',
      '--cache-dir',
      cache,
      '-q',
      '--json',
      '-',
    );
    expect(dist.code, dist.err).toBe(0);
    const sm = await runCli('smooth', 'openai-community/gpt2', join(tmp, `smoothed-${n}.safetensors`), '--cache-dir', cache, '-q');
    expect(sm.code, sm.err).toBe(0);
    // The cache was not modified by smoothing (IN is never written).
    expect(readFileSync(join(cache, 'models--openai-community--gpt2', 'refs', 'main'), 'utf8')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('--peft with-base: the adapter and its base both by name; only the adapter files are fetched', async () => {
    const base = new Map(gptTensors(3, 32, 2).map((t) => [t.name, { name: t.name, shape: t.shape, data: t.data! }]));
    const lora = loraTensors(base, { rank: 4, modules: ['h.0.attn.c_attn', 'h.1.mlp.c_fc'], layout: 'conv1d' });
    const enc = new TextEncoder();
    hub.addCommit('org/gpt2-lora', {
      'adapter_config.json': enc.encode(JSON.stringify({ r: 4, fan_in_fan_out: true, base_model_name_or_path: 'openai-community/gpt2' })),
      'adapter_model.safetensors': safetensorsBytes(lora),
      'README.md': enc.encode('adapter'),
    });
    const r = await runCli(
      'analyze',
      'org/gpt2-lora',
      '--peft',
      'with-base',
      '--base-model',
      'openai-community/gpt2',
      '--cache-dir',
      cache,
      '--min-evals',
      '1',
      '--json',
      '-',
      '-q',
    );
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { details: { name: string }[]; meta: { notes: string[] } };
    expect(out.details.length).toBeGreaterThan(2);
    expect(out.meta.notes.filter((x) => x.includes(' → ')).length).toBe(2);
    expect(
      readdirSync(join(cache, 'models--org--gpt2-lora', 'snapshots', hub.repos.get('org/gpt2-lora')!.refs.get('main')!)).sort(),
    ).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('models lists the cache, with --json', async () => {
    await runCli('describe', 'openai-community/gpt2', '--cache-dir', cache, '-q');
    const r = await runCli('models', '--cache-dir', cache);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/openai-community\/gpt2\s+main\s+[0-9a-f]{12}\s+[\d.]+ kB\s+safetensors\s+yes/);
    const j = await runCli('models', '--cache-dir', cache, '--json', '-');
    const list = JSON.parse(j.out) as { models: { repo: string; revisions: { analysable: boolean; refs: string[] }[] }[] };
    expect(list.models).toEqual([
      expect.objectContaining({
        repo: 'openai-community/gpt2',
        revisions: [expect.objectContaining({ analysable: true, refs: ['main'] })],
      }),
    ]);
  });

  it('bad names: exit 1 with the cause and the fix', async () => {
    const missing = await runCli('analyze', 'openai-community/gpt3', '--cache-dir', cache);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('repository not found');
    const offline = await runCli('analyze', 'openai-community/gpt2', '--cache-dir', cache, '--offline');
    expect(offline.code).toBe(1);
    expect(offline.err).toContain(join(cache, 'models--openai-community--gpt2'));
    const badToken = await runCli('analyze', 'openai-community/gpt2', '--token', 'nope');
    expect(badToken.code).toBe(2);
  });
});

describe('download progress', () => {
  const sink = (tty: boolean) => {
    const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    let text = '';
    s.on('data', (d) => (text += String(d)));
    if (tty) {
      s.isTTY = true;
      s.columns = 100;
    }
    return { s, text: () => text };
  };
  const p = (bytes: number, done = false) => ({ file: 'model.safetensors', bytes, total: 100 << 20, fetched: bytes, done });

  it('a terminal gets a redrawn bar with bytes/s and ETA, the rate counted from the first report', () => {
    const { s, text } = sink(true);
    let t = 0;
    const on = downloadProgress(s, false, 5000, () => t);
    on(p(10 << 20));
    expect(text()).toMatch(/^\r\[#+\.+\] 10% 10\.0 MB\/100\.0 MB model\.safetensors/); // no rate from one report
    t = 1000;
    on(p(50 << 20));
    expect(text()).toMatch(/\r\[#+\.+\] 50% 50\.0 MB\/100\.0 MB 40\.0 MB\/s ETA 0:01 model\.safetensors/);
    t = 2000;
    on(p(100 << 20, true));
    expect(text()).toMatch(/\r\[#+\] 100% .*\n$/);
  });
  it('a log gets a line every few seconds and one at the end; --quiet nothing', () => {
    const { s, text } = sink(false);
    let t = 0;
    const on = downloadProgress(s, false, 60_000, () => t);
    on(p(10 << 20));
    t = 1000;
    on(p(20 << 20)); // within the interval: no line
    t = 60_000;
    on(p(70 << 20));
    t = 61_000;
    on(p(100 << 20, true));
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('weightwatcher: downloading model.safetensors: 10% 10.0 MB of 100.0 MB');
    expect(lines[1]).toBe('weightwatcher: downloading model.safetensors: 70% 70.0 MB of 100.0 MB, 1.0 MB/s, ETA 0:30');
    expect(lines[2]).toMatch(/downloaded model\.safetensors \(100\.0 MB, 1\.5 MB\/s\)/);
    const q = sink(false);
    downloadProgress(q.s, true)(p(1, true));
    expect(q.text()).toBe('');
  });
});
