/** Sweep building blocks: step parsing, fingerprints, run keys, the database schema and codec. */
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseStep, assignSteps, compileStepRegex, compareNatural } from '../../src/sweep/steps.js';
import { fingerprintModel, sampledRanges, runKey, optionsKeyJson, FULL_HASH_LIMIT } from '../../src/sweep/fingerprint.js';
import { openDatabase, SCHEMA_VERSION, ResultsWriter } from '../../src/sweep/db.js';
import { encodeJson, decodeJson } from '../../src/sweep/codec.js';
import { expectError } from '../helpers/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-sweep-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoint steps', () => {
  it('parses checkpoint-1200, step_1200, ckpt1200, global_step1200, iter-50, epoch_3 and parent folders', () => {
    expect(parseStep('/runs/a/checkpoint-1200')).toBe(1200);
    expect(parseStep('step_1200.safetensors')).toBe(1200);
    expect(parseStep('ckpt1200.pt')).toBe(1200);
    expect(parseStep('global_step1200')).toBe(1200);
    expect(parseStep('model-iter-50.bin')).toBe(50);
    expect(parseStep('epoch_3')).toBe(3);
    expect(parseStep('/runs/checkpoint-500/model.safetensors')).toBe(500);
    expect(parseStep('gpt2-medium')).toBeUndefined();
    expect(parseStep('model.safetensors')).toBeUndefined();
  });

  it('--step-regex overrides; without a step on every model the order given is used', () => {
    expect(parseStep('weights_e12.safetensors', compileStepRegex('_e(\\d+)'))).toBe(12);
    expect(assignSteps(['a/checkpoint-30', 'a/checkpoint-4'])).toEqual({ steps: [30, 4], parsed: true });
    expect(assignSteps(['a/checkpoint-30', 'a/final'])).toEqual({ steps: [0, 1], parsed: false });
    expect(() => compileStepRegex('(')).toThrow(/not a valid regular expression/);
    expect(() => compileStepRegex('x*')).toThrow(/matches the empty string/);
  });

  it('natural order', () => {
    expect(['h.10', 'h.2', 'h.1', 'a'].sort(compareNatural)).toEqual(['a', 'h.1', 'h.2', 'h.10']);
    expect(['checkpoint-100', 'checkpoint-20', 'checkpoint-3'].sort(compareNatural)).toEqual([
      'checkpoint-3',
      'checkpoint-20',
      'checkpoint-100',
    ]);
  });
});

describe('fingerprints and run keys', () => {
  it('small files are hashed whole: any byte changes the fingerprint', async () => {
    const f = join(dir, 'small.bin');
    const data = Buffer.alloc(300_000, 7);
    writeFileSync(f, data);
    const a = await fingerprintModel(f);
    expect(a.bytesRead).toBe(300_000);
    data[150_000] = 8;
    writeFileSync(f, data);
    expect((await fingerprintModel(f)).hash).not.toBe(a.hash);
  });

  it('large files: header, tail and 16 sampled blocks (cheap on 100 GB); full mode reads every byte', async () => {
    const hundredGB = 100 * 1024 ** 3;
    const ranges = sampledRanges(hundredGB, 'sampled');
    const total = ranges.reduce((s, [, n]) => s + n, 0);
    expect(total).toBe(1024 * 1024 + 64 * 1024 + 16 * 64 * 1024); // 2.06 MiB per file
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![0] + ranges[i - 1]![1]);
    expect(ranges[ranges.length - 1]![0] + ranges[ranges.length - 1]![1]).toBe(hundredGB);

    // A sparse 200 MB file: the sampled fingerprint reads ~2 MiB; an edit in the header is seen.
    const f = join(dir, 'big.bin');
    const fd = openSync(f, 'w');
    ftruncateSync(fd, 200 * 1024 * 1024);
    closeSync(fd);
    const a = await fingerprintModel(f);
    expect(a.bytesRead).toBe(total);
    expect(a.bytes).toBe(200 * 1024 * 1024);
    const poke = (offset: number) => {
      const h = openSync(f, 'r+');
      writeSync(h, Buffer.from([1]), 0, 1, offset);
      closeSync(h);
    };
    poke(100);
    const b = await fingerprintModel(f);
    expect(b.hash).not.toBe(a.hash);
    // An edit between sampled blocks is the documented blind spot of the sampled mode; 'full' sees it.
    const local = sampledRanges(200 * 1024 * 1024, 'sampled');
    const gap = local[1]![0] + local[1]![1] + 10;
    expect(gap).toBeLessThan(local[2]![0]);
    const fullBefore = await fingerprintModel(f, 'full');
    poke(gap);
    expect((await fingerprintModel(f)).hash).toBe(b.hash);
    const fullAfter = await fingerprintModel(f, 'full');
    expect(fullAfter.hash).not.toBe(fullBefore.hash);
    expect(fullAfter.bytesRead).toBe(200 * 1024 * 1024);
    expect(FULL_HASH_LIMIT).toBe(64 * 1024 * 1024);
  });

  it('folders hash every file directly inside, by name', async () => {
    const d = join(dir, 'folder');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    writeFileSync(join(d, 'a.safetensors'), 'aaaa');
    writeFileSync(join(d, 'config.json'), '{}');
    const a = await fingerprintModel(d);
    expect(a.files).toBe(2);
    writeFileSync(join(d, 'config.json'), '{"x":1}');
    expect((await fingerprintModel(d)).hash).not.toBe(a.hash);
    await expectError(fingerprintModel(join(dir, 'nope')), 'E_NOT_FOUND', 'no such file or folder');
  });

  it('run keys change with options that change results, not with threads or camelCase spelling', () => {
    const fp = 'f'.repeat(64);
    const base = runKey(fp, {});
    expect(runKey(fp, { threads: 1, keep_evals: true })).toBe(base);
    // Both routes reproduce the reference, not to the last bit: an accurate request is not answered from a fast run.
    expect(runKey(fp, { svd_method: 'accurate' })).not.toBe(base);
    expect(runKey(fp, { precision: 'float32' })).not.toBe(base);
    expect(runKey(fp, { min_evals: 10 })).toBe(base); // the default, spelled out
    expect(runKey(fp, { minEvals: 20 })).toBe(runKey(fp, { min_evals: 20 }));
    expect(runKey(fp, { randomize: true })).not.toBe(base);
    expect(runKey(fp, { randomize: true, seed: 1 })).not.toBe(runKey(fp, { randomize: true, seed: 2 }));
    expect(runKey(fp, { fit: 'E_TPL', pl_package: 'powerlaw' })).toBe(
      runKey(fp, { fit: 'TPL', pl_package: 'powerlaw', fix_fingers: 'xmin_peak' }),
    );
    expect(JSON.parse(optionsKeyJson({}))).not.toHaveProperty('threads');
    expect(() => runKey(fp, { fit: 'TPL' })).toThrow(/requires pl_package='powerlaw'/);
  });
});

describe('results database', () => {
  it('new databases: WAL journal, schema version, tables', () => {
    const file = join(dir, 'new.sqlite');
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (t) => t.name,
    );
    expect(tables).toEqual(expect.arrayContaining(['layer_rows', 'run_parts', 'runs', 'sweep_models', 'sweeps']));
    db.close();
    // Reopening applies nothing new.
    openDatabase(file).close();
  });

  it('refuses a newer schema, a foreign SQLite database and a non-database file', async () => {
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
    const newer = join(dir, 'newer.sqlite');
    const d1 = new Sqlite(newer);
    d1.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    d1.close();
    expect(() => openDatabase(newer)).toThrow(/schema version \d+ is newer than this weightwatcher supports/);
    const foreign = join(dir, 'foreign.sqlite');
    const d2 = new Sqlite(foreign);
    d2.exec('CREATE TABLE customers (id INTEGER)');
    d2.close();
    expect(() => openDatabase(foreign)).toThrow(/not a weightwatcher results database/);
    const junk = join(dir, 'junk.sqlite');
    writeFileSync(junk, 'this is not sqlite at all, just text that is long enough to have a header........');
    expect(() => openDatabase(junk)).toThrow(/not a usable SQLite database/);
    expect(() => openDatabase(join(dir, 'absent.sqlite'), { mustExist: true })).toThrow(/no such results database/);
  });

  it('writes are keyed: a replayed part replaces its rows, never duplicates them', () => {
    const db = openDatabase(':memory:');
    const w = new ResultsWriter(db);
    const id = { runKey: 'k', fingerprint: 'f', optionsHash: 'o', optionsJson: '{}', model: '/m', label: 'm' };
    w.beginQueuedRun(id, ['0-1', '2-3']);
    const rows = [
      { layer_id: 0, name: 'a', alpha: 2.5 },
      { layer_id: 1, name: 'b', alpha: NaN },
    ];
    w.writePart('k', { id: '0-1', layerIds: [0, 1], rows, failures: [], attempts: 1, elapsedMs: 1 });
    w.writePart('k', {
      id: '0-1',
      layerIds: [0, 1],
      rows: [{ ...rows[0]!, alpha: 2.6 }, rows[1]!],
      failures: [],
      attempts: 2,
      elapsedMs: 1,
    });
    expect(w.storedRows('k')).toEqual([
      { layer_id: 0, name: 'a', alpha: 2.6 },
      { layer_id: 1, name: 'b', alpha: NaN },
    ]);
    expect(w.doneParts('k')).toEqual(new Set(['0-1']));
    // Another split of the layers: the old parts and rows go.
    w.beginQueuedRun(id, ['all']);
    expect(w.storedRows('k')).toEqual([]);
    db.close();
  });

  it('the codec keeps NaN and ±Infinity', () => {
    const v = { a: NaN, b: Infinity, c: -Infinity, d: [1, NaN], e: 'NaN', f: null };
    expect(decodeJson(encodeJson(v))).toEqual(v);
  });
});
