/**
 * Sweeps and paths (issue 20, parts 5 and 6): `**` over a symlink cycle, display names that keep
 * extensions apart, symlink loops named as such, a full disk (a tiny tmpfs, when this process may
 * mount one), and sweep-report on a sweep that was killed part way.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob, expandModels } from '../../src/sweep/inputs.js';
import { modelDisplayNames } from '../../src/sweep/names.js';
import { openResults, sweep, sweepReport } from '../../src/sweep/index.js';
import { writeCheckpointModel } from '../helpers/checkpoints.js';
import { expectError } from '../helpers/errors.js';
import { builtCliSkipReason, haveBuiltCli, startCli } from '../helpers/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ww-sweep-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('globs and symlinks', () => {
  it('** over a symlink cycle visits each real folder once and ends', async () => {
    const root = join(dir, 'cyclic');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeCheckpointModel(join(root, 'top.safetensors'), 1);
    writeCheckpointModel(join(root, 'a', 'b', 'deep.safetensors'), 2);
    symlinkSync('../..', join(root, 'a', 'b', 'up')); // b/up → root: a cycle
    symlinkSync('.', join(root, 'a', 'self')); // a/self → a
    const found = await expandGlob(join(root, '**', '*.safetensors'));
    expect(found).toEqual([join(root, 'a', 'b', 'deep.safetensors'), join(root, 'top.safetensors')]);
    // A symlinked folder that is not a cycle is followed.
    const other = join(dir, 'other');
    mkdirSync(other);
    writeCheckpointModel(join(other, 'linked.safetensors'), 3);
    symlinkSync(other, join(root, 'link'));
    expect(await expandGlob(join(root, '**', '*.safetensors'))).toContain(join(root, 'link', 'linked.safetensors'));
  });

  it('a symlink loop is called a loop, not "no such file"', async () => {
    const loop = join(dir, 'loop.safetensors');
    symlinkSync(loop, loop);
    await expectError(expandModels([loop]), 'E_IO', 'a loop of symbolic links');
  });
});

describe('display names', () => {
  it('keep the extension where dropping it would make two models one name', () => {
    expect(modelDisplayNames(['/z/a.gguf', '/z/model.gguf', '/z/model.bin', '/z/b.bin'])).toEqual(['a', 'model.gguf', 'model.bin', 'b']);
    expect(modelDisplayNames(['/runs/init.safetensors', '/runs/final.safetensors'])).toEqual(['init', 'final']);
  });

  it('paths with no folder in common keep their leading /', () => {
    expect(modelDisplayNames(['/model.gguf', '/data/x.gguf'])).toEqual(['/model', '/data/x']);
    expect(modelDisplayNames(['/model.gguf', '/model.bin'])).toEqual(['/model.gguf', '/model.bin']);
  });

  it('checkpoint folders: the common file name is dropped; one model: its name without extension', () => {
    expect(modelDisplayNames(['/r/checkpoint-5/model.safetensors', '/r/checkpoint-10/model.safetensors'])).toEqual([
      'checkpoint-5',
      'checkpoint-10',
    ]);
    expect(modelDisplayNames(['/r/x/model.safetensors'])).toEqual(['model']);
  });

  it('a sweep of model.safetensors and model.npy… names them apart', async () => {
    const zoo = join(dir, 'zoo');
    mkdirSync(zoo);
    const a = writeCheckpointModel(join(zoo, 'model.safetensors'), 1);
    const b = writeCheckpointModel(join(zoo, 'model.st'), 2);
    const res = await sweep([a, b], { db: ':memory:' });
    expect(res.runs.map((r) => r.model).sort()).toEqual(['model.safetensors', 'model.st']);
  });
});

/** A tiny tmpfs the test can fill: needs root and a kernel that allows the mount (skipped otherwise). */
function mountTmpfs(at: string, size: string): boolean {
  mkdirSync(at, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { stdio: 'ignore' }).status === 0;
}
const tmpfsDir = join(dir, 'tmpfs');
const canMount = process.platform === 'linux' && process.getuid?.() === 0 && mountTmpfs(tmpfsDir, '256k');
if (!canMount) console.warn('cannot mount a tmpfs here (needs root on Linux); skipping the full-disk test');
afterAll(() => {
  if (canMount) spawnSync('umount', [tmpfsDir]);
});

/** Fill the file system at `at` (a filler file as large as it gets). */
function fill(at: string): void {
  const chunk = Buffer.alloc(4096, 1);
  const f = join(at, `filler-${readdirSync(at).length}`);
  try {
    for (let i = 0; i < 100_000; i++) writeFileSync(f, chunk, { flag: 'a' });
  } catch {
    // ENOSPC: full
  }
}

function unfill(): void {
  for (const f of readdirSync(tmpfsDir).filter((n) => n.startsWith('filler-'))) rmSync(join(tmpfsDir, f));
}

describe.skipIf(!canMount)('a full disk', () => {
  it('a database that cannot be created: a clear error, and no file left behind', async () => {
    const disk = join(tmpfsDir, 'empty-start');
    mkdirSync(disk);
    fill(tmpfsDir);
    const model = writeCheckpointModel(join(dir, 'full-disk-model.safetensors'), 1);
    const db = join(disk, 'runs.sqlite');
    try {
      await expectError(sweep([model], { db }), 'E_IO', 'no space left on the disk');
      expect(readdirSync(disk)).toEqual([]);
    } finally {
      unfill();
    }
  });

  it('a disk that fills during a sweep: a clear error, and what was stored stays readable', async () => {
    const db = join(tmpfsDir, 'filling.sqlite');
    const first = writeCheckpointModel(join(dir, 'fill-1.safetensors'), 1);
    await sweep([first], { db });
    fill(tmpfsDir);
    const more = [2, 3, 4].map((i) =>
      writeCheckpointModel(join(dir, `fill-${i}.safetensors`), i, [
        [96, 64],
        [64, 48],
        [80, 40],
        [120, 64],
      ]),
    );
    try {
      const e = await expectError(sweep([first, ...more], { db }), 'E_IO');
      expect(e.message).toMatch(/no space left on the disk|could not be written/);
    } finally {
      unfill();
    }
    const r = await openResults(db);
    try {
      expect(r.allRuns().some((x) => x.status === 'done' && x.path === first)).toBe(true);
    } finally {
      r.close();
    }
    expect(existsSync(db)).toBe(true);
  });
});

describe('sweep-report on an unfinished sweep', () => {
  it.skipIf(!haveBuiltCli)('a sweep killed after 2 of 6 models is reported as incomplete', async () => {
    if (!haveBuiltCli) console.warn(builtCliSkipReason);
    const shapes: [number, number][] = [
      [384, 320],
      [320, 384],
      [384, 384],
      [256, 384],
    ];
    const ms = Array.from({ length: 6 }, (_, i) =>
      writeCheckpointModel(join(dir, `killed-step${(i + 1) * 10}.safetensors`), i + 1, shapes),
    );
    const db = join(dir, 'killed.sqlite');
    const p = startCli('sweep-killed', ['sweep', ...ms, '--db', db, '-q']);
    await p.waitFor(/\[2\/6\]/);
    p.kill('SIGKILL');
    await p.exited;
    const r = await sweepReport({ db });
    expect(r.incomplete).toBeDefined();
    const { done, models, status } = r.incomplete!;
    expect(models).toBe(6);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(6);
    expect(status).toBe('running');
    expect(r.text).toMatch(new RegExp(`^INCOMPLETE: this sweep is incomplete: ${done} of 6 models analysed, ${6 - done} not analysed`));
    // Finishing it makes the report whole.
    await sweep(ms, { db });
    const whole = await sweepReport({ db });
    expect(whole.incomplete).toBeUndefined();
    expect(whole.text).not.toMatch(/INCOMPLETE/);
  });
});
