/**
 * The HDF5 reader: libhdf5 (h5wasm) in a sandboxed worker (float16 and big-endian data: keras.test.ts). Fixtures are written by h5wasm itself
 * in this process (an unsandboxed libhdf5, which also shows that the hostile ones really reach
 * other files), and by h5py where h5wasm cannot write a feature (external storage, virtual
 * datasets); those tests skip without h5py.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hdf5File, type Hdf5Limits } from '../../src/formats/hdf5.js';
import { expectError } from '../helpers/errors.js';
import { pythonWith, runPython } from '../helpers/python-fixtures.js';
import { h5wasm, plainRead, writeH5 as writeH5At } from '../helpers/h5-writer.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ww-hdf5-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const writeH5 = (name: string, build: (f: h5wasm.File) => void) => writeH5At(join(tmp, name), build);

const pattern = (n: number, k = 0) => Float32Array.from({ length: n }, (_, i) => ((i * 37 + k) % 1000) - 500 + (i % 8) / 8);

async function withFile<T>(path: string, fn: (h5: Hdf5File) => Promise<T>, limits?: Hdf5Limits): Promise<T> {
  const h5 = await Hdf5File.open(path, path, limits);
  try {
    return await fn(h5);
  } finally {
    await h5.close();
  }
}

function expectSame(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
  expect(bad, bad < 0 ? '' : `first difference at ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
}

const python = pythonWith('h5py');

describe('reading datasets', () => {
  it('reads float32 and float64 data whole and in slabs, contiguous and chunked + compressed', async () => {
    // Shapes chosen so reads go in several slabs (8 MiB): along axis 0, and along axis 1 in steps of
    // 4 rows (the last one partial) for each index of axis 0.
    const big3d = pattern(2 * 6 * 2 ** 19, 1);
    const vec = pattern(5 * 2 ** 20, 2);
    const f64 = Float64Array.from(pattern(3 * 2 ** 20, 3), (v, i) => (i % 5 === 0 ? v + 0.1 : v));
    const chunked = pattern(3000 * 1500, 4);
    const path = await writeH5('floats.h5', (f) => {
      f.create_dataset({ name: 'small', data: pattern(12), shape: [3, 4] });
      f.create_dataset({ name: 'big3d', data: big3d, shape: [2, 6, 2 ** 19] });
      f.create_dataset({ name: 'vec', data: vec, shape: [vec.length] });
      f.create_dataset({ name: 'f64', data: f64, shape: [3, 2 ** 20] });
      f.create_dataset({ name: 'chunked', data: chunked, shape: [3000, 1500], chunks: [7, 1500], compression: 'gzip' });
      f.create_dataset({ name: 'ints', data: new Int32Array(6), shape: [2, 3] });
      f.create_dataset({ name: 'scalar', data: 2.5, dtype: '<f4' });
      f.create_group('group');
      (f.get('group') as h5wasm.Group).create_attribute('names', ['a', 'bc']);
      f.create_attribute('config', '{"x": 1}');
    });
    await withFile(path, async (h5) => {
      expect(await h5.children('')).toEqual(['big3d', 'chunked', 'f64', 'group', 'ints', 'scalar', 'small', 'vec']);
      expect(await h5.children('group')).toEqual([]);
      expect(await h5.children('small')).toBeUndefined();
      expect(await h5.children('nope/deeper')).toBeUndefined();
      expect(await h5.dataset('small')).toEqual({ shape: [3, 4], dtype: 'F32', filtered: false });
      expect(await h5.dataset('chunked')).toEqual({ shape: [3000, 1500], dtype: 'F32', filtered: true });
      expect(await h5.dataset('f64')).toMatchObject({ dtype: 'F64' });
      expect(await h5.dataset('ints')).toMatchObject({ dtype: 'I32' });
      expect(await h5.dataset('group')).toBeUndefined();
      expect(await h5.dataset('missing')).toBeUndefined();
      expect(await h5.attr('', 'config')).toBe('{"x": 1}');
      expect(await h5.attr('group', 'names')).toEqual(['a', 'bc']);
      expect(await h5.attr('group', 'nope')).toBeUndefined();
      expect(await h5.attr('missing', 'names')).toBeUndefined();

      expectSame(await h5.values('small'), pattern(12));
      expectSame(await h5.values('big3d'), big3d);
      expectSame(await h5.values('vec'), vec);
      expectSame(await h5.values('f64'), Float32Array.from(f64));
      expectSame(await h5.values('chunked'), chunked);
      expectSame(await h5.values('scalar'), Float32Array.of(2.5));
      await expectError(h5.values('ints'), 'E_UNSUPPORTED', 'ints', 'I32');
    });
  });

  const python = pythonWith('h5py');
  it.skipIf(!python)(
    `reads Keras 3 bfloat16 weights (2-byte opaque data with attribute dtype="bfloat16")${python ? '' : ' (skipped: no python3 with h5py)'}`,
    async () => {
      const floats = [1, -2.5, 0.15625, 3e38, -0, 65504, 1 / 3];
      runPython(
        python!,
        `
import h5py, numpy as np, sys
bits = (np.array(${JSON.stringify(floats.map((v) => (Object.is(v, -0) ? '-0.0' : String(v))))}, dtype='<f4').view('<u4') >> 16).astype('<u2')
with h5py.File(sys.argv[1], 'w') as f:
    ds = f.create_dataset('w', data=bits.view('V2'))
    ds.attrs['dtype'] = 'bfloat16'
    f.create_dataset('opaque', data=bits.view('V2'))
`,
        [join(tmp, 'bf16.h5')],
      );
      const want = new Float32Array(new Uint32Array(Float32Array.from(floats).buffer).map((b) => b & 0xffff0000).buffer);
      await withFile(join(tmp, 'bf16.h5'), async (h5) => {
        expect(await h5.dataset('w')).toEqual({ shape: [floats.length], dtype: 'BF16', filtered: false });
        expectSame(await h5.values('w'), want);
        expect(await h5.dataset('opaque')).toMatchObject({ dtype: 'opaque' });
        await expectError(h5.values('opaque'), 'E_UNSUPPORTED', 'opaque');
      });
    },
  );

  it('turns a file that is not HDF5 into E_CORRUPT naming it', async () => {
    const path = join(tmp, 'not.h5');
    writeFileSync(path, 'not an HDF5 file at all');
    await expectError(Hdf5File.open(path, path), 'E_CORRUPT', path, 'not a readable HDF5 file');
  });
});

describe('sandbox: the file cannot make libhdf5 read other files', () => {
  it('refuses external links (to datasets and through groups) and soft links', async () => {
    const secret = await writeH5('secret.h5', (f) => {
      f.create_dataset({ name: 'data', data: pattern(6, 9), shape: [2, 3] });
    });
    const path = await writeH5('links.h5', (f) => {
      f.create_dataset({ name: 'real', data: pattern(6), shape: [2, 3] });
      f.create_external_link(secret, '/data', 'ext');
      f.create_group('g');
      (f.get('g') as h5wasm.Group).create_external_link(secret, '/', 'elink');
      f.create_soft_link('/real', 'soft');
    });
    // Without the sandbox libhdf5 follows the link into the other file.
    expect(await plainRead(path, 'ext')).toEqual(Array.from(pattern(6, 9)));
    await withFile(path, async (h5) => {
      await expectError(h5.dataset('ext'), 'E_UNSAFE', 'external link', secret);
      await expectError(h5.values('ext'), 'E_UNSAFE', 'external link');
      await expectError(h5.children('g/elink'), 'E_UNSAFE', 'external link');
      await expectError(h5.dataset('g/elink/data'), 'E_UNSAFE', 'external link');
      await expectError(h5.attr('g/elink', 'x'), 'E_UNSAFE', 'external link');
      await expectError(h5.dataset('soft'), 'E_UNSUPPORTED', 'soft link');
      // A refusal fails that object only.
      expectSame(await h5.values('real'), pattern(6));
    });
  });

  it.skipIf(!python)(
    `refuses external storage and virtual datasets${python ? '' : ' (skipped: no python3 with h5py; apt-get install python3-h5py)'}`,
    async () => {
      runPython(
        python!,
        `
import h5py, numpy as np, os, sys
d = sys.argv[1]
with h5py.File(os.path.join(d, 'secret2.h5'), 'w') as f:
    f['data'] = np.arange(6, dtype='<f4').reshape(2, 3) + 100
with open(os.path.join(d, 'raw.bin'), 'wb') as f:
    f.write((np.arange(6, dtype='<f4') + 200).tobytes())
with h5py.File(os.path.join(d, 'storage.h5'), 'w') as f:
    f['real'] = np.ones((2, 3), '<f4')
    f.create_dataset('efl', shape=(2, 3), dtype='<f4', external=[(os.path.join(d, 'raw.bin'), 0, 24)])
    layout = h5py.VirtualLayout(shape=(2, 3), dtype='<f4')
    layout[:] = h5py.VirtualSource(os.path.join(d, 'secret2.h5'), 'data', shape=(2, 3))
    f.create_virtual_dataset('vds', layout)
`,
        [tmp],
      );
      const path = join(tmp, 'storage.h5');
      expect(await plainRead(path, 'efl')).toEqual([200, 201, 202, 203, 204, 205]);
      expect(await plainRead(path, 'vds')).toEqual([100, 101, 102, 103, 104, 105]);
      await withFile(path, async (h5) => {
        await expectError(h5.dataset('vds'), 'E_UNSAFE', 'virtual dataset', 'secret2.h5');
        await expectError(h5.values('vds'), 'E_UNSAFE', 'virtual dataset');
        // External storage is invisible in the metadata; the read's attempt to open the file is caught.
        expect(await h5.dataset('efl')).toEqual({ shape: [2, 3], dtype: 'F32', filtered: false });
        await expectError(h5.values('efl'), 'E_UNSAFE', 'raw.bin', 'refers to another file');
        expectSame(await h5.values('real'), new Float32Array(6).fill(1));
      });
    },
  );
});

describe('limits', () => {
  /** A 128 MiB chunk of zeros compressed to ~128 KiB: libhdf5 needs the whole chunk in memory. */
  let bomb: Promise<string> | undefined;
  const compressedBomb = () =>
    (bomb ??= writeH5('bomb.h5', (f) => {
      f.create_dataset({ name: 'zeros', data: new Float32Array(2 ** 25), shape: [2 ** 25], chunks: [2 ** 25], compression: 9 });
    }));

  it('caps the memory libhdf5 may use', async () => {
    const path = await compressedBomb();
    await withFile(
      path,
      async (h5) => {
        await expectError(h5.values('zeros'), 'E_CORRUPT', 'more memory than the HDF5 reader may use', 'limit 64 MB');
        expect(await h5.dataset('zeros')).toEqual({ shape: [2 ** 25], dtype: 'F32', filtered: true });
      },
      { memoryMb: 64, timeoutMs: 120_000 },
    );
  });

  it('ends a request that takes too long, and closes the file descriptor the killed worker held', async () => {
    const path = await compressedBomb();
    await expectError(Hdf5File.open(path, path, { memoryMb: 512, timeoutMs: 1 }), 'E_CORRUPT', 'took more than 1 ms');
    const openOnPath = () =>
      process.platform === 'linux'
        ? readdirSync('/proc/self/fd').filter((fd) => {
            try {
              return readlinkSync(`/proc/self/fd/${fd}`) === path;
            } catch {
              return false;
            }
          }).length
        : 0;
    const limits = { memoryMb: 512, timeoutMs: 120_000 };
    const h5 = await Hdf5File.open(path, path, limits);
    if (process.platform === 'linux') expect(openOnPath()).toBe(1);
    // Decompressing 128 MiB takes far longer than 1 ms.
    limits.timeoutMs = 1;
    await expectError(h5.values('zeros'), 'E_CORRUPT', 'took more than 1 ms', 'damaged or hostile');
    await expectError(h5.dataset('zeros'), 'E_CORRUPT', 'took more than 1 ms');
    await h5.close();
    expect(openOnPath()).toBe(0);
  });
});
