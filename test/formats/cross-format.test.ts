/**
 * The same model read from every format gives identical spectra: the minigpt big-data weights from
 * safetensors, torch .bin and ONNX (corpus files) and from GGUF, .npz, TF.js and in-memory tensors
 * written by this test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeightWatcher, openModel, type InMemoryTensor } from '../../src/index.js';
import { writeGguf } from '../helpers/gguf-writer.js';
import { corpus, haveCorpus, skipReason } from '../helpers/corpus.js';

/** A STORED zip (what numpy.savez writes), enough for .npz fixtures. */
function zipStored(files: { name: string; data: Uint8Array }[]): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (d: Uint8Array) => {
    let c = 0xffffffff;
    for (const b of d) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name);
    const crc = crc32(f.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(f.data.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(f.data.length, 20);
    cd.writeUInt32LE(f.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, Buffer.from(f.data));
    central.push(cd, name);
    offset += 30 + name.length + f.data.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBuf, end]);
}

function npy(shape: readonly number[], data: Float32Array): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

describe.skipIf(!haveCorpus)('the same weights in every format give the same spectra', () => {
  let dir: string;
  let tensors: InMemoryTensor[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ww-xfmt-'));
    const store = await openModel(corpus('minigpt/big-data/model.safetensors'));
    for (const e of store.list()) tensors.push({ name: e.name, shape: e.shape, data: await store.read(e.name) });
    await store.close();
    const weights = tensors.filter((t) => t.name.endsWith('.weight') && t.shape.length === 2);
    await writeGguf(
      join(dir, 'model.gguf'),
      tensors.map((t) => ({ name: t.name, shape: t.shape, type: 'F32', data: t.data as Float32Array })),
    );
    writeFileSync(
      join(dir, 'model.npz'),
      zipStored(tensors.map((t) => ({ name: `${t.name}.npy`, data: npy(t.shape, t.data as Float32Array) }))),
    );
    // TF.js layers in Keras layout ([in, out]), one weights file.
    const tfdir = join(dir, 'tfjs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(tfdir);
    const blobs = weights.map((t) => transpose(t.data as Float32Array, t.shape[0]!, t.shape[1]!));
    writeFileSync(join(tfdir, 'group1-shard1of1.bin'), Buffer.concat(blobs.map((b) => Buffer.from(b.buffer))));
    const layers = weights.map((t) => ({
      class_name: 'Dense',
      config: { name: t.name.replace(/\.weight$/, '').replace(/\./g, '_'), units: t.shape[0], use_bias: false },
    }));
    writeFileSync(
      join(tfdir, 'model.json'),
      JSON.stringify({
        format: 'layers-model',
        modelTopology: { class_name: 'Sequential', config: { name: 'seq', layers } },
        weightsManifest: [
          {
            paths: ['group1-shard1of1.bin'],
            weights: weights.map((t, i) => ({
              name: `${layers[i]!.config.name}/kernel`,
              shape: [t.shape[1], t.shape[0]],
              dtype: 'float32',
            })),
          },
        ],
      }),
    );
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    tensors = [];
  });

  /** Spectra keyed by a normalised layer name (formats differ in prefixes, separators and ids). */
  async function spectra(model: string | InMemoryTensor[]): Promise<Map<string, Float64Array>> {
    const ww = new WeightWatcher(model);
    await ww.analyze({ keep_evals: true });
    const key = (name: string) =>
      name
        .replace(/^transformer\./, '')
        .replace(/\.weight$/, '')
        .replace(/\./g, '_');
    return new Map(ww.getLayerResults().map((r) => [key(String(r.row.name)), r.evals!]));
  }

  it('safetensors, .bin, ONNX, GGUF, npz, TF.js and in-memory tensors agree', async () => {
    const reference = await spectra(corpus('minigpt/big-data/model.safetensors'));
    expect(reference.size).toBe(18);
    const sources: [string, string | InMemoryTensor[]][] = [
      ['torch .bin', corpus('minigpt/big-data/pytorch_model.bin')],
      ['GGUF', join(dir, 'model.gguf')],
      ['npz', join(dir, 'model.npz')],
      ['in-memory', tensors],
    ];
    for (const [label, src] of sources) {
      const s = await spectra(src);
      expect(s.size, label).toBe(reference.size);
      for (const [name, ev] of reference) expect(Array.from(s.get(name)!), `${label} ${name}`).toEqual(Array.from(ev));
    }
    // ONNX also lists the tied output projection (onnx::MatMul_…), and TF.js kernels are transposed
    // ([in, out]): same singular values up to LAPACK rounding on the other layout.
    const close = (label: string, s: Map<string, Float64Array>) => {
      for (const [name, ev] of reference) {
        const other = s.get(name);
        expect(other, `${label} has ${name}`).toBeDefined();
        const lmax = ev[ev.length - 1]!;
        expect(other!.length, label).toBe(ev.length);
        for (let k = 0; k < ev.length; k++) expect(Math.abs(other![k]! - ev[k]!) / lmax, `${label} ${name}`).toBeLessThan(1e-12);
      }
    };
    close('ONNX', await spectra(corpus('minigpt/big-data/model.onnx')));
    close('TF.js', await spectra(join(dir, 'tfjs', 'model.json')));
  });
});

void skipReason;
