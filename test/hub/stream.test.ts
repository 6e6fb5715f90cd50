/**
 * Streaming with HTTP range requests (issue 19 item 4) against the local hub: the same rows as the
 * local file, nothing written to disk, retries of transient failures, and a wrong range answer is
 * an error.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WeightWatcher } from '../../src/watcher.js';
import { startHubServer, type HubServer } from '../helpers/hub-server.js';
import { gpt2Repo, shardedRepo } from '../helpers/hub-models.js';
import { expectError } from '../helpers/errors.js';
import { runCli } from '../helpers/run-cli.js';
import { HttpRangeSource } from '../../src/hub/stream.js';
import { hubFetch } from '../../src/hub/http.js';

let hub: HubServer;
const tmp = mkdtempSync(join(tmpdir(), 'ww-hub-stream-'));
const weights = gpt2Repo()['model.safetensors']!;
const localFile = join(tmp, 'model.safetensors');
const url = () => `${hub.cdnUrl}/${createHash('sha256').update(weights).digest('hex')}`;
const saved = { ...process.env };

beforeAll(async () => {
  hub = await startHubServer();
  hub.addCommit('openai-community/gpt2', gpt2Repo());
  hub.addCommit('org/sharded', shardedRepo(3));
  hub.addCommit('org/gguf-only', { 'model.gguf': new Uint8Array(64) });
  writeFileSync(localFile, weights);
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.HF_HUB_OFFLINE;
});
afterAll(async () => {
  process.env = saved;
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => hub.reset());

const strip = (rows: readonly Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r));

describe('streaming', () => {
  it('an http(s) URL of a safetensors file is streamed: the same rows as the local file, each byte fetched about once', async () => {
    const local = await new WeightWatcher(localFile).analyze({ min_evals: 5 });
    hub.reset();
    const ww = new WeightWatcher(url());
    const remote = await ww.analyze({ min_evals: 5 });
    expect(strip(remote)).toEqual(strip(local));
    expect(ww.lastRun!.resolved).toEqual([expect.objectContaining({ from: 'stream' })]);
    expect(hub.bytesServed).toBeGreaterThanOrEqual(weights.length);
    expect(hub.bytesServed).toBeLessThan(weights.length * 1.1 + (256 << 10));
  });

  it('org/name with stream: nothing is written to the cache', async () => {
    const cache = join(tmp, 'cache-stream');
    const local = await new WeightWatcher(localFile).describe();
    const ww = new WeightWatcher('openai-community/gpt2', { stream: true, cacheDir: cache });
    expect(strip(await ww.describe())).toEqual(strip(local));
    expect(ww.lastRun!.notes[0]).toMatch(/streamed with HTTP range requests \(model\.safetensors\)/);
    expect(existsSync(cache)).toBe(false);
  });

  it('a sharded model streams shard by shard in the index order', async () => {
    const cache = join(tmp, 'cache-sharded');
    const local = await new WeightWatcher('org/sharded', { cacheDir: cache }).describe();
    const streamed = await new WeightWatcher('org/sharded', { stream: true, cacheDir: join(tmp, 'unused') }).describe();
    expect(strip(streamed)).toEqual(strip(local));
  });

  it('transient failures are retried; a wrong range answer is an error', async () => {
    hub.switches.fail = { status: 503, times: 2, path: /^\/[0-9a-f]{64}/ };
    const ww = new WeightWatcher(url(), { retry: { baseDelayMs: 5 } });
    expect((await ww.describe()).length).toBeGreaterThan(0);
    expect(hub.switches.fail.times).toBe(0);
    hub.reset();
    // A read past the first 256 KiB block, answered from one byte early.
    const big = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    hub.addCommit('org/blob', { 'blob.bin': big });
    const src = await HttpRangeSource.open(`${hub.cdnUrl}/${createHash('sha256').update(big).digest('hex')}`, hubFetch({ baseDelayMs: 5 }));
    expect(src.size).toBe(1 << 20);
    expect(await src.read(300_000, 300_000)).toEqual(big.subarray(300_000, 600_000));
    hub.switches.wrongRange = true;
    await expectError(src.read(700_000, 300_000), 'E_IO', 'wrong range answer');
  });

  it('formats other than safetensors, and offline, are refused with the fix', async () => {
    await expectError(new WeightWatcher('org/gguf-only', { stream: true }).describe(), 'E_UNSUPPORTED', 'drop --stream');
    await expectError(new WeightWatcher(url(), { offline: true }).describe(), 'E_USAGE', 'offline');
  });

  it('analyze --stream on the command line', async () => {
    const r = await runCli('analyze', 'openai-community/gpt2', '--stream', '--min-evals', '5', '--cache-dir', join(tmp, 'cli-unused'));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('streamed with HTTP range requests');
    expect(existsSync(join(tmp, 'cli-unused'))).toBe(false);
  });
});
