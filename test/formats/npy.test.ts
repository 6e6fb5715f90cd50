import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openNpy, openNpz } from '../../src/formats/npy.js';
import { gatherStrided, byteswapInPlace } from '../../src/shared/bytes.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import type { TensorStore } from '../../src/formats/types.js';
import { npy, npyF32 } from '../helpers/npy-writer.js';
import { zipBytes } from '../helpers/zip-writer.js';
import { expectMatches, generateFixtures, hasNumpy, type Expected } from '../helpers/python-fixtures.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'ww-npy-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function writeTmp(name: string, data: Uint8Array): string {
  const file = path.join(tmp, name);
  writeFileSync(file, data);
  return file;
}

async function expectWWError(p: Promise<unknown>, codes: string[], pattern?: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a WeightWatcherError').toBeInstanceOf(WeightWatcherError);
  expect(codes, (e as Error).message).toContain((e as WeightWatcherError).code);
  if (pattern) expect((e as Error).message).toMatch(pattern);
}

async function readOne(file: string): Promise<{ store: TensorStore; data: Float32Array }> {
  const store = await openNpy(file);
  const data = await store.read(store.list()[0]!.name);
  await store.close();
  return { store, data };
}

describe('.npy built by hand', () => {
  const f32 = (xs: number[]): Uint8Array => new Uint8Array(Float32Array.from(xs).buffer);

  it('reads C-order float32 and names the array after the file', async () => {
    const file = writeTmp(
      'layer.0.weight.npy',
      npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32([1, 2, 3, 4, 5, 6])),
    );
    const { store, data } = await readOne(file);
    expect(store.format).toBe('npy');
    expect(store.convention).toBe('statedict');
    expect(store.list()).toEqual([{ name: 'layer.0.weight', dtype: 'F32', shape: [2, 3] }]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('transposes Fortran order and byte-swaps big-endian data (format 2.0)', async () => {
    // Column-major [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6.
    const be = new Uint8Array(f32([1, 4, 2, 5, 3, 6]));
    byteswapInPlace(be, 4);
    const file = writeTmp('ft.npy', npy("{'descr': '>f4', 'fortran_order': True, 'shape': (2, 3), }", be, 2));
    const { data } = await readOne(file);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('gathers arbitrary strided views', () => {
    const src = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).buffer);
    const out = new Float32Array(gatherStrided(src, 4, [3, 2, 2], [1, 6, 3]).buffer);
    expect(Array.from(out)).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    const bc = new Float32Array(gatherStrided(src, 4, [2, 3], [0, 1]).buffer);
    expect(Array.from(bc)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('refuses malformed, hostile and truncated headers with clear errors', async () => {
    const cases: [string, Uint8Array, string[], RegExp?][] = [
      ['magic', new TextEncoder().encode('PK\x03\x04 not numpy at all'), ['E_FORMAT'], /magic/],
      ['empty', new Uint8Array(0), ['E_FORMAT']],
      [
        'eval',
        npy("{'descr': __import__('os').system('touch /tmp/x'), 'fortran_order': False, 'shape': (1,), }", f32([1])),
        ['E_CORRUPT'],
        /invalid \.npy header/,
      ],
      ['no shape', npy("{'descr': '<f4', 'fortran_order': False, }", f32([1])), ['E_CORRUPT'], /shape/],
      ['negative', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", f32([1])), ['E_CORRUPT']],
      ['overflow', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999999, 9999999999999), }", f32([1])), ['E_CORRUPT']],
      ['short data', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000,), }", f32([1, 2])), ['E_CORRUPT'], /100000000/],
      ['structured', npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f32([1])), ['E_UNSUPPORTED'], /structured/],
      [
        'deep',
        npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(5000)}${')'.repeat(5000)}, }`, f32([1])),
        ['E_CORRUPT'],
        /nested too deeply/,
      ],
      ['escape', npy("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,), }", f32([1])), ['E_CORRUPT']],
    ];
    for (const [label, data, codes, re] of cases) {
      await expectWWError(openNpy(writeTmp(`bad-${label.replace(/ /g, '_')}.npy`, data)), codes, re);
    }
    const version = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]));
    version[6] = 9;
    await expectWWError(openNpy(writeTmp('v9.npy', version)), ['E_UNSUPPORTED'], /version 9/);
    const hugeHeader = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32([1]), 2);
    new DataView(hugeHeader.buffer).setUint32(8, 0xffffffff, true);
    await expectWWError(openNpy(writeTmp('hugeheader.npy', hugeHeader)), ['E_UNSUPPORTED'], /header/);
    const good = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f32([1, 2, 3]));
    for (let cut = 0; cut < good.length; cut++) {
      await expectWWError(openNpy(writeTmp('cut.npy', good.subarray(0, cut))), ['E_FORMAT', 'E_CORRUPT']);
    }
  });

  it('lists unsupported dtypes but refuses to read them', async () => {
    const file = writeTmp('obj.npy', npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(40)));
    const store = await openNpy(file);
    expect(store.list()[0]!.dtype).toBe('|O');
    await expectWWError(store.read('obj'), ['E_UNSUPPORTED'], /pickle/);
    await store.close();
  });
});

// ---------------------------------------------------------------------------------------------

const GENERATOR = String.raw`
import sys, os, json, zipfile
import numpy as np
out = sys.argv[1]
rs = np.random.RandomState(3)
arrays = {
    'c_f32': rs.randn(3, 4).astype('<f4'),
    'f64': rs.randn(5).astype('<f8'),
    'f16': rs.randn(4, 3).astype('<f2'),
    'fortran_f32': np.asfortranarray(rs.randn(3, 4, 5).astype('<f4')),
    'fortran_f16': np.asfortranarray(rs.randn(6, 7).astype('<f2')),
    'big_f8': rs.randn(2, 3).astype('>f8'),
    'big_fortran_f4': np.asfortranarray(rs.randn(4, 2).astype('>f4')),
    'i64': np.arange(-6, 6).reshape(3, 4).astype('<i8'),
    'i16_fortran': np.asfortranarray(np.arange(12).reshape(3, 4).astype('<i2')),
    'u8': np.arange(10).astype('u1'),
    'flags': np.array([True, False, True]),
    'scalar': np.array(3.5, dtype='<f4'),
    'empty': np.zeros((0, 4), '<f4'),
}
DT = {'f4': 'F32', 'f8': 'F64', 'f2': 'F16', 'i8': 'I64', 'i2': 'I16', 'u1': 'U8', 'b1': 'BOOL'}
expected = {}
def record(key, name, a):
    f = os.path.join(out, 'expected_%d.f32' % len(os.listdir(out)))
    np.ascontiguousarray(a).astype('<f4').tofile(f)
    expected.setdefault(key, []).append({'name': name, 'dtype': DT[a.dtype.str[1:]], 'shape': list(a.shape), 'file': f})
for k, a in arrays.items():
    np.save(os.path.join(out, k + '.npy'), a)
    record(k + '.npy', k, a)
for v in [(2, 0), (3, 0)]:
    name = 'v%d' % v[0]
    with open(os.path.join(out, name + '.npy'), 'wb') as f:
        np.lib.format.write_array(f, arrays['fortran_f32'], version=v)
    record(name + '.npy', name, arrays['fortran_f32'])
np.savez(os.path.join(out, 'plain.npz'), **arrays)
for k, a in arrays.items(): record('plain.npz', k, a)
big = {'big_random': rs.randn(300, 250).astype('<f4'), 'layer.0.weight': np.asfortranarray(rs.randn(40, 30).astype('<f2')), 'zeros': np.zeros((500, 400), '<f4')}
np.savez_compressed(os.path.join(out, 'compressed.npz'), **big, **arrays)
for k, a in list(big.items()) + list(arrays.items()): record('compressed.npz', k, a)
# numpy's own zip64 writer path (force_zip64) for a member
with zipfile.ZipFile(os.path.join(out, 'zip64.npz'), 'w', zipfile.ZIP_STORED) as z:
    with z.open('w.npy', 'w', force_zip64=True) as f:
        np.lib.format.write_array(f, arrays['c_f32'])
record('zip64.npz', 'w', arrays['c_f32'])
np.save(os.path.join(out, 'complex.npy'), np.ones(3, dtype='<c8'))
json.dump(expected, open(os.path.join(out, 'expected.json'), 'w'))
`;

describe.skipIf(!hasNumpy)('.npy / .npz written by numpy (python3 + numpy; skipped without them)', () => {
  let dir: string;
  let expected: Record<string, Expected[]>;

  beforeAll(() => {
    ({ dir, expected } = generateFixtures(tmp, GENERATOR, 'gen_npy.py'));
  });

  it('round-trips every .npy (C/Fortran order, f16/f32/f64, big-endian, ints, bool, 0-d, empty, v2/v3)', async () => {
    const npyFiles = Object.keys(expected).filter((k) => k.endsWith('.npy'));
    expect(npyFiles.length).toBeGreaterThan(12);
    for (const f of npyFiles) {
      const store = await openNpy(path.join(dir, f));
      try {
        await expectMatches(store, expected[f]!);
      } finally {
        await store.close();
      }
    }
  });

  for (const f of ['plain.npz', 'compressed.npz', 'zip64.npz']) {
    it(`${f}: member names, order and values`, async () => {
      const store = await openNpz(path.join(dir, f));
      try {
        expect(store.format).toBe('npz');
        await expectMatches(store, expected[f]!);
      } finally {
        await store.close();
      }
    });
  }

  it('refuses complex dtypes on read', async () => {
    const store = await openNpy(path.join(dir, 'complex.npy'));
    expect(store.list()[0]!.dtype).toBe('<c8');
    await expectWWError(store.read('complex'), ['E_UNSUPPORTED'], /c8/);
    await store.close();
  });

  it('truncated and corrupted .npz files fail cleanly', async () => {
    for (const f of ['plain.npz', 'compressed.npz']) {
      const buf = new Uint8Array(readFileSync(path.join(dir, f)));
      for (let cut = 0; cut < buf.length; cut += Math.max(1, Math.floor(buf.length / 120))) {
        await expectWWError(openNpz(writeTmp('cut.npz', buf.subarray(0, cut))), ['E_FORMAT', 'E_CORRUPT']);
      }
      let seed = 17;
      const rand = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
      for (let i = 0; i < 150; i++) {
        const m = new Uint8Array(buf);
        for (let k = 0; k < 3; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
        let store: TensorStore | undefined;
        try {
          store = await openNpz(writeTmp('flip.npz', m));
          for (const e of store.list()) await store.read(e.name);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(WeightWatcherError);
        } finally {
          await store?.close();
        }
      }
    }
  });

  it('a damaged deflate stream is E_CORRUPT on read', async () => {
    const buf = new Uint8Array(readFileSync(path.join(dir, 'compressed.npz')));
    // Overwrite the middle of the first (large, random) member's compressed data.
    const start = 200_000;
    buf.fill(0xff, start, start + 64);
    const store = await openNpz(writeTmp('damaged.npz', buf));
    await expectWWError(store.read('big_random'), ['E_CORRUPT'], /big_random/);
    await store.close();
  });
});

describe('decompression bombs', () => {
  /** One non-zero per row: 8.1 MiB of float32 that deflates ~300×. */
  const sparse = () => {
    const rows = 4100;
    const cols = 520;
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) data[i * cols + (i % cols)] = 1 + i / rows;
    return npyF32([rows, cols], data);
  };

  it('a member inflating more than 100× beyond 8 MiB is refused when read, unless allowLarge', async () => {
    const file = writeTmp(
      'bomb.npz',
      zipBytes([
        { name: 'w.weight.npy', data: sparse(), deflate: true },
        { name: 'b.weight.npy', data: npyF32([2, 2], new Float32Array(4)), deflate: true },
      ]),
    );
    const store = await openNpz(file);
    try {
      expect(store.list().map((e) => e.name)).toEqual(['w.weight', 'b.weight']);
      await expectWWError(
        store.read('w.weight'),
        ['E_UNSUPPORTED'],
        /ZIP entry w\.weight\.npy inflates \d+× \(\d+ → \d+ bytes\), above the 100× limit for entries over 8 MiB .*allow_large/,
      );
      expect((await store.read('b.weight')).length).toBe(4); // small entries are never limited
    } finally {
      await store.close();
    }
    const allowed = await openNpz(file, { allowLarge: true });
    try {
      expect((await allowed.read('w.weight')).length).toBe(4100 * 520);
    } finally {
      await allowed.close();
    }
  });

  it('stored (uncompressed) members are not limited', async () => {
    const file = writeTmp('stored.npz', zipBytes([{ name: 'w.weight.npy', data: sparse() }]));
    const store = await openNpz(file);
    expect((await store.read('w.weight')).length).toBe(4100 * 520);
    await store.close();
  });
});
