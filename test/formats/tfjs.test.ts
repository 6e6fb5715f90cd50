import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTfjsModels, openTfjs, type TfjsStore } from '../../src/formats/tfjs.js';
import { WeightWatcherError } from '../../src/shared/errors.js';
import { expectError } from '../helpers/errors.js';

const FACE_API = join(import.meta.dirname, '../../node_modules/@vladmandic/face-api/model');
const NSFWJS = join(import.meta.dirname, '../../node_modules/nsfwjs/dist/models');
const requireCjs = createRequire(import.meta.url);

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}
interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ww-tfjs-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Every listed kernel matches its manifest entry and decodes to finite values of the right size. */
async function checkKernels(store: TfjsStore, manifest: readonly ManifestGroup[]): Promise<void> {
  const specs = new Map(manifest.flatMap((g) => g.weights).map((w) => [w.name, w]));
  expect(store.list().length).toBeGreaterThan(0);
  const kernels = new Set(store.layers().flatMap((l) => (l.kernel ? [l.kernel] : [])));
  expect(store.list().map((t) => t.name)).toEqual(store.layers().flatMap((l) => (l.kernel ? [l.kernel] : [])));
  for (const t of store.list()) {
    expect(kernels.has(t.name)).toBe(true);
    expect(t.shape).toEqual(specs.get(t.name)!.shape);
    const v = await store.read(t.name);
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(product(t.shape));
    expect(v.every(Number.isFinite)).toBe(true);
  }
}

describe('face-api weight manifests (real models, no topology)', () => {
  it('finds the seven models in the folder and refuses to guess one', async () => {
    const models = await listTfjsModels(FACE_API);
    expect(models.length).toBe(7);
    await expectError(openTfjs(FACE_API), 'E_USAGE', '7 TF.js models');
  });

  it('lists the kernels of every model with manifest shapes and readable finite values', async () => {
    for (const path of await listTfjsModels(FACE_API)) {
      const manifest = JSON.parse(await readFile(path, 'utf8')) as ManifestGroup[];
      const store = await openTfjs(path);
      try {
        expect(store.kind).toBe('weights-manifest');
        expect(store.format).toBe('tfjs');
        expect(store.convention).toBe('keras');
        await checkKernels(store, manifest);
        // Depthwise filters are never kernels, and every kernel is rank 2 or 4.
        for (const t of store.list()) {
          expect(t.name).not.toMatch(/depthwise/);
          expect([2, 4]).toContain(t.shape.length);
        }
      } finally {
        await store.close();
      }
    }
  });

  it('groups weights into layers by name prefix, in manifest order', async () => {
    const store = await openTfjs(join(FACE_API, 'tiny_face_detector_model-weights_manifest.json'));
    try {
      const layers = store.layers();
      expect(layers[0]).toEqual({ name: 'conv0', className: '', kernel: 'conv0/filters' });
      // A separable conv: the pointwise filter is the matrix, the depthwise one is skipped.
      expect(layers[1]).toEqual({ name: 'conv1', className: '', kernel: 'conv1/pointwise_filter' });
    } finally {
      await store.close();
    }
    const rec = await openTfjs(join(FACE_API, 'face_recognition_model-weights_manifest.json'));
    try {
      expect(rec.layers().find((l) => l.name === 'conv32_down/scale')).toEqual({ name: 'conv32_down/scale', className: '' });
      expect(rec.list().at(-1)).toMatchObject({ name: 'fc', shape: [256, 128] });
    } finally {
      await rec.close();
    }
  });

  it('dequantizes uint8 weights and reads float32 weights at offsets computed from the manifest', async () => {
    const path = join(FACE_API, 'face_recognition_model-weights_manifest.json');
    const manifest = JSON.parse(await readFile(path, 'utf8')) as ManifestGroup[];
    const bin = await readFile(join(FACE_API, manifest[0]!.paths[0]!));
    const store = await openTfjs(path);
    try {
      let offset = 0;
      let checkedQuantized = false;
      let checkedFloat = false;
      for (const w of manifest[0]!.weights) {
        const n = product(w.shape);
        const q = w.quantization;
        if (q && !checkedQuantized && n > 0) {
          const v = await store.read(w.name);
          expect(v[n - 1]).toBe(Math.fround(bin[offset + n - 1]! * q.scale! + q.min!));
          checkedQuantized = true;
        }
        if (!q && !checkedFloat && n > 0) {
          const v = await store.read(w.name);
          expect(v[0]).toBe(bin.readFloatLE(offset));
          expect(v[n - 1]).toBe(bin.readFloatLE(offset + 4 * (n - 1)));
          checkedFloat = true;
        }
        offset += n * (q ? 1 : 4);
      }
      expect(checkedQuantized && checkedFloat).toBe(true);
    } finally {
      await store.close();
    }
  });
});

/** nsfwjs ships its TF.js models wrapped in UMD modules (JSON object + base64 shards): unwrap them. */
async function unwrapNsfwjs(
  model: string,
): Promise<{ dir: string; json: { weightsManifest: ManifestGroup[]; modelTopology: Record<string, unknown>; format?: string } }> {
  const src = join(NSFWJS, model);
  const dir = join(tmp, `nsfwjs-${model}`);
  await mkdir(dir, { recursive: true });
  const json = requireCjs(join(src, 'model.min.js')) as { weightsManifest: ManifestGroup[]; modelTopology: Record<string, unknown> };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  for (const p of json.weightsManifest.flatMap((g) => g.paths)) {
    await writeFile(join(dir, p), Buffer.from(requireCjs(join(src, `${p}.min.js`)) as string, 'base64'));
  }
  return { dir, json };
}

describe('nsfwjs models (real, unwrapped from their .min.js bundles)', () => {
  it('reads MobileNetV2 as a layers-model with Keras ids from its model_config', async () => {
    const { dir, json } = await unwrapNsfwjs('mobilenet_v2');
    const store = await openTfjs(dir);
    try {
      expect(store.kind).toBe('layers-model');
      const config = (json.modelTopology.model_config as { config: { layers: { name: string; class_name: string }[] } }).config.layers;
      const layers = store.layers();
      // Every entry of model.layers is a layer (ids), in config order, InputLayer first.
      expect(layers.map((l) => l.name)).toEqual(config.map((l) => l.name));
      expect(layers.map((l) => l.className)).toEqual(config.map((l) => l.class_name));
      expect(layers.findIndex((l) => l.name === 'Conv1')).toBe(2);
      expect(layers[2]!.kernel).toBe('Conv1/kernel');
      // Only dense/conv layers carry a kernel; BatchNorm, ReLU, Add, … do not.
      for (const l of layers) expect(l.kernel !== undefined).toBe(/^(Conv2D|DepthwiseConv2D|Dense)$/.test(l.className));
      expect(layers.at(-1)).toEqual({ name: 'dense_3', className: 'Dense', kernel: 'dense_3/kernel', bias: 'dense_3/bias' });
      expect(store.list().at(-1)).toEqual({ name: 'dense_3/kernel', dtype: 'F32', shape: [128, 5] });
      await checkKernels(store, json.weightsManifest);
      const bias = await store.read('dense_3/bias');
      expect(bias.length).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('reads the MobileNetV2 graph-model, with weights crossing its two shards', async () => {
    const { dir, json } = await unwrapNsfwjs('mobilenet_v2_mid');
    const store = await openTfjs(join(dir, 'model.json'));
    try {
      expect(store.kind).toBe('graph-model');
      const nodes = json.modelTopology.node as { op: string }[];
      const convs = nodes.filter((n) => n.op === '_FusedConv2D' || n.op === '_FusedMatMul').length;
      expect(store.list().length).toBe(convs);
      // Depthwise convolutions are layers without a kernel, with the reason they have no row.
      const depthwise = nodes.filter((n) => /DepthwiseConv2d/.test(n.op)).length;
      expect(store.layers().length).toBe(convs + depthwise);
      expect(
        store
          .layers()
          .every((l) =>
            l.kernel === undefined ? /^depthwise kernel \[\d+, \d+, \d+, 1\]/.test(l.unanalysable ?? '') : l.kernel === l.name,
          ),
      ).toBe(true);
      expect(store.list().some((t) => /depthwise/i.test(t.name))).toBe(false);
      await checkKernels(store, json.weightsManifest);

      // Find the weight that straddles the shard boundary and compare with the concatenated data.
      const group = json.weightsManifest[0]!;
      const data = Buffer.concat(await Promise.all(group.paths.map((p) => readFile(join(dir, p)))));
      const boundary = (await readFile(join(dir, group.paths[0]!))).length;
      let offset = 0;
      let straddler: ManifestWeight | undefined;
      let start = 0;
      for (const w of group.weights) {
        const size = product(w.shape) * (w.quantization ? 1 : 4);
        if (offset < boundary && offset + size > boundary) [straddler, start] = [w, offset];
        offset += size;
      }
      expect(straddler).toBeDefined();
      const q = straddler!.quantization!;
      const v = await store.read(straddler!.name);
      for (const i of [0, v.length - 1, boundary - start - 1, boundary - start]) {
        expect(v[i]).toBe(Math.fround(data[start + i]! * q.scale! + q.min!));
      }
    } finally {
      await store.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Hand-built models

const f16 = (bits: number[]) => Buffer.from(new Uint16Array(bits).buffer);
const f32 = (values: number[]) => Buffer.from(new Float32Array(values).buffer);

/** A small layers-model whose bytes are known exactly; `emb/embeddings` straddles the two shards. */
function handModel() {
  const data = Buffer.concat([
    Buffer.from([0, 1, 2, 3, 4, 255]), // dense/kernel uint8
    f16([0x3c00, 0xc000, 0x3555]), // dense/bias float16-quantized
    Buffer.from(new Uint16Array([0, 4, 65535, 2]).buffer), // conv/kernel uint16
    f16([0x4200, 0xb800]), // half/w: plain float16 dtype
    Buffer.from([1, 5]), // steps: int32 quantized to uint8
    f32([1.5, -2.25, 3, 4.125]), // emb/embeddings: plain float32
  ]);
  const weights = [
    { name: 'dense/kernel', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
    { name: 'dense/bias', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } },
    {
      name: 'conv/kernel',
      shape: [1, 1, 2, 2],
      dtype: 'float32',
      quantization: { dtype: 'uint16', scale: 0.25, min: 10, original_dtype: 'float32' },
    },
    { name: 'half/w', shape: [2], dtype: 'float16' },
    { name: 'steps', shape: [2], dtype: 'int32', quantization: { dtype: 'uint8', scale: 0.3, min: 0 } },
    { name: 'emb/embeddings', shape: [2, 2], dtype: 'float32' },
  ];
  const cut = data.length - 7; // inside emb/embeddings
  const layer = (class_name: string, name: string, config: Record<string, unknown> = {}) => ({ class_name, config: { name, ...config } });
  const model = {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'seq',
        layers: [
          layer('InputLayer', 'in'),
          layer('Dense', 'dense'),
          layer('Dropout', 'drop'),
          layer('Conv2D', 'conv'),
          layer('Embedding', 'emb'),
        ],
      },
    },
    weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights }],
  };
  return { model, shards: [data.subarray(0, cut), data.subarray(cut)] };
}

async function writeModel(name: string, model: unknown, shards: Record<string, Uint8Array>): Promise<string> {
  const dir = join(tmp, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), typeof model === 'string' ? model : JSON.stringify(model));
  for (const [file, bytes] of Object.entries(shards)) await writeFile(join(dir, file), bytes);
  return join(dir, 'model.json');
}

async function writeHandModel(name: string, edit: (m: ReturnType<typeof handModel>['model']) => void = () => {}): Promise<string> {
  const { model, shards } = handModel();
  edit(model);
  return writeModel(name, model, { 'group1-shard1of2.bin': shards[0]!, 'group1-shard2of2.bin': shards[1]! });
}

describe('hand-built TF.js models', () => {
  it('dequantizes uint8, uint16 and float16 weights to hand-computed values', async () => {
    const store = await openTfjs(await writeHandModel('quantized'));
    try {
      expect([...(await store.read('dense/kernel'))]).toEqual([-1, -0.5, 0, 0.5, 1, 126.5]);
      expect([...(await store.read('dense/bias'))]).toEqual([1, -2, 0.333251953125]);
      expect([...(await store.read('conv/kernel'))]).toEqual([10, 11, 16393.75, 10.5]);
      expect([...(await store.read('half/w'))]).toEqual([3, -0.5]);
      expect([...(await store.read('steps'))]).toEqual([0, 2]); // round(0.3), round(1.5) as TF.js does
      expect([...(await store.read('emb/embeddings'))]).toEqual([1.5, -2.25, 3, 4.125]);
    } finally {
      await store.close();
    }
  });

  it('exposes the Sequential model.layers (no InputLayer) with kernels in Keras layout', async () => {
    const store = await openTfjs(await writeHandModel('layers'));
    try {
      expect(store.layers()).toEqual([
        { name: 'dense', className: 'Dense', kernel: 'dense/kernel', bias: 'dense/bias' },
        { name: 'drop', className: 'Dropout' },
        { name: 'conv', className: 'Conv2D', kernel: 'conv/kernel' },
        { name: 'emb', className: 'Embedding', kernel: 'emb/embeddings' },
      ]);
      expect(store.list()).toEqual([
        { name: 'dense/kernel', dtype: 'F32', shape: [2, 3] },
        { name: 'conv/kernel', dtype: 'F32', shape: [1, 1, 2, 2] },
        { name: 'emb/embeddings', dtype: 'F32', shape: [2, 2] },
      ]);
      await expectError(store.read('nope'), 'E_NOT_FOUND', 'nope');
    } finally {
      await store.close();
    }
    await expectError(store.read('dense/kernel'), 'E_IO', 'closed');
  });

  it('reads a bare weights manifest file', async () => {
    const { model, shards } = handModel();
    const dir = join(tmp, 'bare');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'm-weights_manifest.json'), JSON.stringify(model.weightsManifest));
    await writeFile(join(dir, 'group1-shard1of2.bin'), shards[0]!);
    await writeFile(join(dir, 'group1-shard2of2.bin'), shards[1]!);
    const store = await openTfjs(dir);
    try {
      expect(store.kind).toBe('weights-manifest');
      expect(store.layers().map((l) => [l.name, l.kernel, l.bias])).toEqual([
        ['dense', 'dense/kernel', 'dense/bias'],
        ['conv', 'conv/kernel', undefined],
        ['half', undefined, undefined],
        ['steps', undefined, undefined],
        ['emb', 'emb/embeddings', undefined],
      ]);
    } finally {
      await store.close();
    }
  });

  it('lists graph-model MatMul/Conv2D kernels, transposing transpose_b matrices to [in, out]', async () => {
    const weights = [
      { name: 'fc/w', shape: [3, 2], dtype: 'float32' }, // stored [out=3, in=2], used with transpose_b
      { name: 'conv/filter', shape: [1, 1, 1, 2], dtype: 'float32' },
      { name: 'dw/filter', shape: [1, 1, 2, 1], dtype: 'float32' },
    ];
    const node = (name: string, op: string, input: string[], attr: Record<string, unknown> = {}) => ({ name, op, input, attr });
    const model = {
      format: 'graph-model',
      modelTopology: {
        node: [
          node('x', 'Placeholder', []),
          node('conv/filter', 'Const', []),
          node('dw/filter', 'Const', []),
          node('fc/w', 'Const', []),
          node('conv', 'Conv2D', ['x', 'conv/filter']),
          node('dw', 'DepthwiseConv2dNative', ['conv', 'dw/filter']),
          node('fc', 'MatMul', ['dw', 'fc/w:0'], { transpose_b: { b: true } }),
        ],
      },
      weightsManifest: [{ paths: ['w.bin'], weights }],
    };
    const path = await writeModel('graph', model, { 'w.bin': f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) });
    const store = await openTfjs(path);
    try {
      expect(store.layers()).toEqual([
        { name: 'conv/filter', className: 'Conv2D', kernel: 'conv/filter' },
        {
          name: 'dw/filter',
          className: 'DepthwiseConv2dNative',
          unanalysable: 'depthwise kernel [1, 1, 2, 1]: one filter per input channel, no weight matrix to analyse',
        },
        { name: 'fc/w', className: 'MatMul', kernel: 'fc/w' },
      ]);
      expect(store.list().map((t) => [t.name, t.shape])).toEqual([
        ['conv/filter', [1, 1, 1, 2]],
        ['fc/w', [2, 3]],
      ]);
      expect([...(await store.read('fc/w'))]).toEqual([1, 3, 5, 2, 4, 6]);
      expect([...(await store.read('dw/filter'))]).toEqual([9, 10]);
    } finally {
      await store.close();
    }
  });
});

describe('corrupt TF.js models', () => {
  it('reports a missing shard', async () => {
    const path = await writeHandModel('missing-shard');
    await rm(join(path, '../group1-shard2of2.bin'));
    await expectError(openTfjs(path), 'E_CORRUPT', 'group1-shard2of2.bin', 'ENOENT');
  });

  it('reports shards whose size does not match the manifest', async () => {
    const path = await writeHandModel('short-shard');
    await writeFile(join(path, '../group1-shard2of2.bin'), Buffer.alloc(3));
    await expectError(openTfjs(path), 'E_CORRUPT', 'needs 42 bytes', 'hold 38 bytes');
    const longer = await writeHandModel('long-shard');
    await writeFile(join(longer, '../group1-shard2of2.bin'), Buffer.alloc(8));
    await expectError(openTfjs(longer), 'E_CORRUPT', 'needs 42 bytes', 'hold 43 bytes');
  });

  it('reports a shard truncated after opening when the weight is read', async () => {
    const path = await writeHandModel('truncated-later');
    const store = await openTfjs(path);
    try {
      await writeFile(join(path, '../group1-shard2of2.bin'), Buffer.alloc(1));
      const e = await expectError(store.read('emb/embeddings'), 'E_CORRUPT', 'emb/embeddings');
      expect(e.tensor).toBe('emb/embeddings');
    } finally {
      await store.close();
    }
  });

  it('rejects invalid manifest entries with the weight named', async () => {
    const cases: [string, (m: ReturnType<typeof handModel>['model']) => void, string, string[]][] = [
      [
        'bad-dtype',
        (m) => {
          m.weightsManifest[0]!.weights[0]!.dtype = 'float64';
        },
        'E_CORRUPT',
        ['dense/kernel', 'unknown dtype "float64"'],
      ],
      [
        'proto-dtype',
        (m) => {
          m.weightsManifest[0]!.weights[0]!.dtype = 'constructor';
        },
        'E_CORRUPT',
        ['dense/kernel', 'unknown dtype "constructor"'],
      ],
      [
        'bad-shape',
        (m) => {
          m.weightsManifest[0]!.weights[1]!.shape = [-3];
        },
        'E_CORRUPT',
        ['dense/bias', 'invalid dimension -3'],
      ],
      [
        'huge-shape',
        (m) => {
          m.weightsManifest[0]!.weights[5]!.shape = [2 ** 20, 2 ** 20];
        },
        'E_CORRUPT',
        ['needs 4398046511130 bytes'],
      ],
      [
        'no-scale',
        (m) => {
          delete (m.weightsManifest[0]!.weights[0]!.quantization as { scale?: number }).scale;
        },
        'E_CORRUPT',
        ['dense/kernel', 'finite "scale" and "min"'],
      ],
      [
        'bad-quant',
        (m) => {
          m.weightsManifest[0]!.weights[0]!.quantization!.dtype = 'int4';
        },
        'E_CORRUPT',
        ['dense/kernel', 'not uint8, uint16 or float16'],
      ],
      [
        'dup',
        (m) => {
          m.weightsManifest[0]!.weights[1]!.name = 'dense/kernel';
        },
        'E_CORRUPT',
        ['appears twice'],
      ],
      [
        'escape',
        (m) => {
          m.weightsManifest[0]!.paths[0] = '../../etc/passwd';
        },
        'E_UNSUPPORTED',
        ['../../etc/passwd'],
      ],
      [
        'url',
        (m) => {
          m.weightsManifest[0]!.paths[0] = 'https://example.com/x.bin';
        },
        'E_UNSUPPORTED',
        ['https://example.com/x.bin'],
      ],
      [
        'strings',
        (m) => {
          m.weightsManifest[0]!.weights[0]!.dtype = 'string';
        },
        'E_UNSUPPORTED',
        ['dense/kernel', 'strings'],
      ],
      [
        'no-paths',
        (m) => {
          (m.weightsManifest[0] as { paths?: unknown }).paths = undefined;
        },
        'E_CORRUPT',
        ['"paths" and "weights"'],
      ],
      [
        'bad-layers',
        (m) => {
          (m.modelTopology.config.layers as unknown[]).push({ config: {} });
        },
        'E_CORRUPT',
        ['no class_name'],
      ],
    ];
    for (const [name, edit, code, fragments] of cases) {
      await expectError(openTfjs(await writeHandModel(name, edit)), code, ...fragments);
    }
  });

  it('rejects files that are not TF.js models', async () => {
    await expectError(openTfjs(await writeModel('not-json', '{"weightsManifest": [', {})), 'E_FORMAT', 'JSON');
    await expectError(openTfjs(await writeModel('no-manifest', { modelTopology: {} }, {})), 'E_FORMAT', 'no weightsManifest');
    await expectError(openTfjs(join(tmp, 'does-not-exist.json')), 'E_NOT_FOUND');
    const empty = join(tmp, 'empty-dir');
    await mkdir(empty, { recursive: true });
    await expectError(openTfjs(empty), 'E_NOT_FOUND', 'no model.json');
  });

  it('never fails with anything but a WeightWatcherError on randomly damaged manifests', async () => {
    const { model, shards } = handModel();
    const text = JSON.stringify(model);
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const replacements = ['-1', '1e300', 'null', '"x"', '[]', '{}', '0', '"../a"', '1.5', '99999999999', '"constructor"', '"__proto__"'];
    const dir = join(tmp, 'fuzz');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'group1-shard1of2.bin'), shards[0]!);
    await writeFile(join(dir, 'group1-shard2of2.bin'), shards[1]!);
    let opened = 0;
    for (let i = 0; i < 300; i++) {
      // Replace one JSON scalar token by another value.
      const tokens = [...text.matchAll(/-?\d+(\.\d+)?|"[^"]*"|true|false|null/g)];
      const t = tokens[rand(tokens.length)]!;
      const mutated = text.slice(0, t.index) + replacements[rand(replacements.length)] + text.slice(t.index + t[0].length);
      await writeFile(join(dir, 'model.json'), mutated);
      try {
        const store = await openTfjs(dir);
        opened++;
        for (const l of store.layers())
          if (l.kernel) await store.read(l.kernel).catch((e: unknown) => expect(e).toBeInstanceOf(WeightWatcherError));
        await store.close();
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(WeightWatcherError);
      }
    }
    expect(opened).toBeGreaterThan(0);
    expect((await readdir(dir)).length).toBe(3);
  });
});
