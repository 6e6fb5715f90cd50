/**
 * The embedded default loads nothing it does not need: `import 'weightwatcher'` loads neither
 * SQLite nor the queue client, and a local sweep loads SQLite but never bullmq or ioredis. Checked
 * in child processes on the built package: ESM resolutions are traced with a module hook, CommonJS
 * loads (better-sqlite3, ioredis) are read from require.cache.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/corpus.js';
import { writeCheckpointModel } from '../helpers/checkpoints.js';
import { runTraced } from '../helpers/module-trace.js';

const dist = join(projectRoot, 'dist', 'index.js');
const dir = mkdtempSync(join(tmpdir(), 'ww-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loaded(body: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    const ww = await import(${JSON.stringify(pathToFileURL(dist).href)});
    ${body}
    const req = createRequire(import.meta.url);
    console.log(JSON.stringify(Object.keys(req.cache)));`;
  const { stdout, esm } = runTraced(script);
  const cjs = JSON.parse(stdout.trim().split('\n').pop()!) as string[];
  return [...esm, ...cjs];
}

const has = (mods: string[], pkg: string) => mods.some((m) => m.includes(`/node_modules/${pkg}/`));

describe.skipIf(!existsSync(dist))('lazy loading of the sweep dependencies', () => {
  it("import 'weightwatcher' loads neither better-sqlite3 nor bullmq/ioredis", () => {
    const mods = loaded('');
    expect(mods.some((m) => m.endsWith('/dist/index.js'))).toBe(true);
    expect(has(mods, 'better-sqlite3')).toBe(false);
    expect(has(mods, 'bullmq')).toBe(false);
    expect(has(mods, 'ioredis')).toBe(false);
  });

  it('a local sweep loads better-sqlite3 but not bullmq/ioredis', () => {
    const model = writeCheckpointModel(join(dir, 'm.safetensors'), 1);
    const mods = loaded(
      `const r = await ww.sweep([${JSON.stringify(model)}], { db: ${JSON.stringify(join(dir, 'lazy.sqlite'))} }); if (r.analysed !== 1) throw new Error('not analysed');`,
    );
    expect(has(mods, 'better-sqlite3')).toBe(true);
    expect(has(mods, 'bullmq')).toBe(false);
    expect(has(mods, 'ioredis')).toBe(false);
  });

  it('the trace sees bullmq when the queue is used (the check can fail)', () => {
    const mods = loaded(
      `const w = await import(${JSON.stringify(pathToFileURL(join(projectRoot, 'dist', 'sweep', 'index.js')).href)}); await w.startWorker({ queue: 'redis://127.0.0.1:1', connectTimeoutMs: 200 }).catch(() => {});`,
    );
    expect(has(mods, 'bullmq')).toBe(true);
    expect(has(mods, 'ioredis')).toBe(true);
  });
});
