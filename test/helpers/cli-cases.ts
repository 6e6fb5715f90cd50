/**
 * The command line under misuse: small generated model files, and a table of cases each run through
 * the real binary in a child process with its expected exit code, message, time bound and the
 * output files that must survive untouched. Used by test/cli/robustness.test.ts and by
 * bench/cli-cases.ts (which prints the table for any build, e.g. before and after a change).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from './safetensors-writer.js';
import { dense } from './formula.js';
import { npyF32 } from './npy-writer.js';
import { zipBytes } from './zip-writer.js';
import { writeGguf } from './gguf-writer.js';
import { attr, graph, model as onnxModel, node, tensor as onnxTensor } from './onnx-writer.js';

export interface Fixtures {
  readonly dir: string;
  /** fc1 [100,60], fc2 [60,40], ln [60]. */
  readonly good: string;
  readonly good2: string;
  /** A copy of `good` that outputs must never overwrite. */
  readonly victim: string;
  /** A Hugging Face style folder: model.safetensors, config.json, tokenizer.json. */
  readonly hfSafetensors: string;
  readonly allNan: string;
  readonly i8: string;
  readonly ggufUnknown: string;
  /** fc1 fine, fc2 all NaN. */
  readonly partial: string;
  readonly okNpy: string;
  readonly npzNoWeight: string;
  readonly safetensorsNoWeight: string;
  readonly onnxConstants: string;
  readonly tfjsDepthwise: string;
  readonly dotted: string;
  readonly rowVector: string;
  readonly folderJson: string;
  readonly folderOnnx: string;
  readonly folderGguf: string;
  readonly folderNpz: string;
  readonly folderTfjsAndSafetensors: string;
  readonly escNames: string;
  readonly overlap: string;
  readonly bomb: string;
  readonly aFile: string;
  readonly aDir: string;
}

const f32 = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

function ggufLayer(n: number, m: number): Float32Array {
  return dense(n, m, 0.13, 0.07, 0.2);
}

/** A TF.js graph-model: a depthwise conv (no matrix), a conv and a MatMul. */
function writeTfjsGraph(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const weights = [
    { name: 'dw', shape: [3, 3, 16, 1], dtype: 'float32' },
    { name: 'conv', shape: [3, 3, 16, 32], dtype: 'float32' },
    { name: 'fc', shape: [32, 20], dtype: 'float32' },
  ];
  const data = [dense(9, 16), dense(9 * 16, 32), dense(32, 20)];
  const modelJson = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder' },
        { name: 'dwconv', op: 'DepthwiseConv2dNative', input: ['x', 'dw'] },
        { name: 'conv2d', op: 'Conv2D', input: ['dwconv', 'conv'] },
        { name: 'matmul', op: 'MatMul', input: ['conv2d', 'fc'] },
      ],
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.concat(data.map((d) => Buffer.from(f32(d)))));
  return join(dir, 'model.json');
}

/** An ONNX model whose weights are all in Constant nodes (as PaddleOCR exports do). */
function onnxWithConstants(): Uint8Array {
  const constant = (out: string, dims: number[], values: Float32Array) =>
    node('Constant', [out], [attr('value', { t: onnxTensor({ name: '', dims, dataType: 1, floats: Array.from(values) }) })]);
  return onnxModel(
    graph(
      [
        constant('w1', [40, 30], dense(40, 30)),
        constant('w2', [30, 20], dense(30, 20, 0.2)),
        constant('shape', [2], new Float32Array([1, 2])),
      ],
      [],
    ),
  );
}

/** A compressed .npz whose only array (8.1 MiB) inflates ~300×: one non-zero per row of a 4100×520 matrix. */
function bombNpz(): Uint8Array {
  const rows = 4100;
  const cols = 520;
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) data[i * cols + (i % cols)] = 1 / Math.pow((i + 1) / rows, 0.8);
  return zipBytes([{ name: 'w.weight.npy', data: npyF32([rows, cols], data), deflate: true }]);
}

export async function buildFixtures(dir: string): Promise<Fixtures> {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const goodTensors = [
    { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
    { name: 'fc2.weight', shape: [60, 40], data: dense(60, 40, 0.2, 0.1) },
    { name: 'ln.weight', shape: [60], data: new Float32Array(60).fill(1) },
  ];
  const good = writeSafetensors(p('good.safetensors'), goodTensors);
  const good2 = writeSafetensors(
    p('good2.safetensors'),
    goodTensors.map((t) => ({ ...t, data: t.data.map((v) => v * 1.5) })),
  );
  const victim = p('victim.safetensors');
  copyFileSync(good, victim);

  const hf = p('hf');
  mkdirSync(hf);
  copyFileSync(good, join(hf, 'model.safetensors'));
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ architectures: ['Test'], hidden_size: 60 }));
  writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE' } }));

  const nan = new Float32Array(100 * 60).fill(NaN);
  const allNan = writeSafetensors(p('nan.safetensors'), [
    { name: 'a.weight', shape: [100, 60], data: nan },
    { name: 'b.weight', shape: [60, 100], data: nan },
  ]);
  const i8 = writeSafetensors(p('i8.safetensors'), [
    { name: 'q.weight', shape: [40, 30], dtype: 'I8', bytes: new Uint8Array(1200).map((_, i) => i % 251) },
  ]);
  const ggufUnknown = p('unknown.gguf');
  await writeGguf(ggufUnknown, [{ name: 'blk.0.ffn_up.weight', shape: [32, 64], type: 99, raw: new Uint8Array(2048) }]);
  const partial = writeSafetensors(p('partial.safetensors'), [
    { name: 'fc1.weight', shape: [100, 60], data: dense(100, 60) },
    { name: 'fc2.weight', shape: [60, 100], data: nan },
  ]);

  const okNpy = p('ok.npy');
  writeFileSync(okNpy, npyF32([80, 50], dense(80, 50)));
  const npzNoWeight = p('noweight.npz');
  writeFileSync(
    npzNoWeight,
    zipBytes([
      { name: 'layer1.npy', data: npyF32([80, 50], dense(80, 50)) },
      { name: 'layer2.npy', data: npyF32([50, 30], dense(50, 30)) },
      { name: 'layer3.npy', data: npyF32([30, 20], dense(30, 20)) },
    ]),
  );
  const safetensorsNoWeight = writeSafetensors(p('noweight.safetensors'), [
    { name: 'encoder.q', shape: [64, 48], data: dense(64, 48) },
    { name: 'encoder.k', shape: [64, 48], data: dense(64, 48, 0.2) },
    { name: 'encoder.scale', shape: [48], data: new Float32Array(48).fill(1) },
  ]);
  const onnxConstants = p('constants.onnx');
  writeFileSync(onnxConstants, onnxWithConstants());
  const tfjsDepthwise = writeTfjsGraph(p('tfjs-graph'));
  const dotted = writeSafetensors(p('gpt.safetensors'), [
    { name: 'h.0.attn.c_attn.weight', shape: [64, 48], data: dense(64, 48) },
    { name: 'h.0.mlp.c_fc.weight', shape: [64, 48], data: dense(64, 48, 0.2) },
  ]);
  const rowVector = writeSafetensors(p('rowvec.safetensors'), [
    { name: 'fc.weight', shape: [64, 48], data: dense(64, 48) },
    { name: 'cls.weight', shape: [1, 64], data: dense(1, 64) },
  ]);

  const folderJson = p('folder-json');
  mkdirSync(folderJson);
  writeFileSync(join(folderJson, 'weights.npz'), zipBytes([{ name: 'fc.weight.npy', data: npyF32([80, 50], dense(80, 50)) }]));
  writeFileSync(join(folderJson, 'notes.json'), JSON.stringify({ trained_on: 'tests', epochs: 3 }));
  writeFileSync(join(folderJson, 'labels.json'), JSON.stringify(['cat', 'dog']));

  const folderOnnx = p('folder-onnx');
  mkdirSync(folderOnnx);
  writeFileSync(
    join(folderOnnx, 'model.onnx'),
    onnxModel(
      graph(
        [],
        [
          onnxTensor({ name: 'W1', dims: [40, 30], dataType: 1, floats: Array.from(dense(40, 30)) }),
          onnxTensor({ name: 'W2', dims: [30, 20], dataType: 1, floats: Array.from(dense(30, 20, 0.2)) }),
        ],
      ),
    ),
  );
  writeFileSync(join(folderOnnx, 'config.json'), JSON.stringify({ model_type: 'test' }));
  writeFileSync(join(folderOnnx, 'tokenizer.json'), JSON.stringify({ version: '1.0' }));
  writeFileSync(join(folderOnnx, 'tokenizer_config.json'), JSON.stringify({}));

  const folderGguf = p('folder-gguf');
  mkdirSync(folderGguf);
  await writeGguf(join(folderGguf, 'model.gguf'), [{ name: 'blk.0.ffn_up.weight', shape: [64, 32], type: 'F32', data: ggufLayer(64, 32) }]);
  writeFileSync(join(folderGguf, 'config.json'), '{}');
  writeFileSync(join(folderGguf, 'generation_config.json'), '{}');
  writeFileSync(join(folderGguf, 'README.md'), '# a model\n');
  writeFileSync(join(folderGguf, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

  const folderNpz = p('folder-npz');
  mkdirSync(folderNpz);
  writeFileSync(join(folderNpz, 'model.npz'), zipBytes([{ name: 'fc.weight.npy', data: npyF32([80, 50], dense(80, 50)) }]));
  writeFileSync(join(folderNpz, 'config.json'), '{"hidden": 50}');
  writeFileSync(join(folderNpz, 'tokenizer.json'), '{}');

  const folderTfjsAndSafetensors = p('folder-tfjs-st');
  writeTfjsGraph(folderTfjsAndSafetensors);
  copyFileSync(good, join(folderTfjsAndSafetensors, 'model.safetensors'));

  const escNames = writeSafetensors(p('esc.safetensors'), [
    { name: '\x1b]0;pwned\x07title.weight', shape: [64, 48], data: dense(64, 48) },
    { name: 'line\nbreak\x1b[31m.weight', shape: [48, 40], data: dense(48, 40, 0.2) },
  ]);
  const overlap = writeSafetensors(
    p('overlap.safetensors'),
    [
      { name: 'a.weight', shape: [20, 20], data: dense(20, 20) },
      { name: 'b.weight', shape: [20, 20], data: dense(20, 20, 0.3) },
    ],
    (h) => ({ ...h, 'b.weight': { dtype: 'F32', shape: [20, 20], data_offsets: [0, 1600] } }),
  );
  const bomb = p('bomb.npz');
  writeFileSync(bomb, bombNpz());

  const aFile = p('afile.txt');
  writeFileSync(aFile, 'not a folder\n');
  const aDir = p('adir');
  mkdirSync(aDir);

  return {
    dir,
    good,
    good2,
    victim,
    hfSafetensors: hf,
    allNan,
    i8,
    ggufUnknown,
    partial,
    okNpy,
    npzNoWeight,
    safetensorsNoWeight,
    onnxConstants,
    tfjsDepthwise,
    dotted,
    rowVector,
    folderJson,
    folderOnnx,
    folderGguf,
    folderNpz,
    folderTfjsAndSafetensors,
    escNames,
    overlap,
    bomb,
    aFile,
    aDir,
  };
}

// ------------------------------------------------------------------------------------------------
// Cases

export interface CliCase {
  readonly id: string;
  /** What a user typed, for the table. */
  readonly what: string;
  /** Arguments after the program name. */
  readonly args: (f: Fixtures) => string[];
  /** Or a Node.js ES module script run with the package's dist/ (library cases); `DIST` is replaced. */
  readonly script?: string;
  readonly env?: Record<string, string>;
  /** Close our end of stdout before the child writes (`| head -0`). */
  readonly closedStdout?: boolean;
  readonly expect: {
    readonly code: number;
    readonly stderr?: RegExp;
    readonly stdout?: RegExp;
    readonly stdoutNot?: RegExp;
    /** stderr must be empty. */
    readonly quiet?: boolean;
  };
  /** Files that exist before the run and must be byte-identical after it. */
  readonly keep?: (f: Fixtures) => string[];
  /** Files that must not exist after the run. */
  readonly absent?: (f: Fixtures) => string[];
  readonly needsProc?: boolean;
}

const out = (f: Fixtures, name: string) => join(f.dir, 'out', name);

export const CLI_CASES: readonly CliCase[] = [
  // Output paths: checked before any work, exit 2 naming the path.
  {
    id: 'plot-proc',
    what: 'analyze M --plot /proc/ww-plots',
    args: (f) => ['analyze', f.good, '--plot', '/proc/ww-plots'],
    needsProc: true,
    expect: { code: 2, stderr: /--plot \/proc\/ww-plots: cannot create/ },
  },
  {
    id: 'report-proc-sub',
    what: 'analyze M --report /proc/sub/r.html',
    args: (f) => ['analyze', f.good, '--report', '/proc/sub/r.html'],
    needsProc: true,
    expect: { code: 2, stderr: /--report \/proc\/sub\/r\.html: folder \/proc\/sub does not exist/ },
  },
  {
    id: 'compare-plot-proc',
    what: 'compare A B --plot /proc/sub/c.png',
    args: (f) => ['compare', f.good, f.good2, '--plot', '/proc/sub/c.png'],
    needsProc: true,
    expect: { code: 2, stderr: /--plot \/proc\/sub\/c\.png: folder \/proc\/sub does not exist/ },
  },
  {
    id: 'report-proc',
    what: 'analyze M --report /proc/r.html',
    args: (f) => ['analyze', f.good, '--report', '/proc/r.html'],
    needsProc: true,
    expect: { code: 2, stderr: /--report \/proc\/r\.html: cannot (create|write)/ },
  },
  {
    id: 'json-onto-model',
    what: 'analyze victim --json victim',
    args: (f) => ['analyze', f.victim, '--json', f.victim],
    keep: (f) => [f.victim],
    expect: { code: 2, stderr: /--json .*victim\.safetensors: is the input model/ },
  },
  {
    id: 'json-into-model-folder',
    what: 'analyze hf/ --json hf/model.safetensors',
    args: (f) => ['analyze', f.hfSafetensors, '--json', join(f.hfSafetensors, 'model.safetensors')],
    keep: (f) => [join(f.hfSafetensors, 'model.safetensors')],
    expect: { code: 2, stderr: /is a file of the input model/ },
  },
  {
    id: 'json-no-parent',
    what: 'analyze M --json /nonexistent/x.json',
    args: (f) => ['analyze', f.good, '--json', '/nonexistent/x.json'],
    expect: { code: 2, stderr: /--json \/nonexistent\/x\.json: folder \/nonexistent does not exist/ },
  },
  {
    id: 'plot-onto-file',
    what: 'analyze M --plot afile.txt',
    args: (f) => ['analyze', f.good, '--plot', f.aFile],
    keep: (f) => [f.aFile],
    expect: { code: 2, stderr: /--plot .*afile\.txt: is a file, not a folder/ },
  },
  {
    id: 'json-onto-dir',
    what: 'analyze M --json adir',
    args: (f) => ['analyze', f.good, '--json', f.aDir],
    expect: { code: 2, stderr: /--json .*adir: is a folder/ },
  },
  {
    id: 'stdout-twice',
    what: 'analyze M --json - --csv -',
    args: (f) => ['analyze', f.good, '--json', '-', '--csv', '-'],
    expect: { code: 2, stderr: /stdout \('-'\) can take only one output: --json and --csv/ },
  },
  {
    id: 'json-ok-keeps-nothing-else',
    what: 'analyze M --json out/r.json (replaces r.json)',
    args: (f) => ['analyze', f.good, '--json', out(f, 'r.json'), '-q'],
    expect: { code: 0, quiet: true },
  },

  // Exit codes.
  { id: 'all-nan', what: 'analyze all-NaN model', args: (f) => ['analyze', f.allNan], expect: { code: 1, stderr: /all 2 layers failed/ } },
  {
    id: 'i8-weight',
    what: 'analyze model with an I8 weight',
    args: (f) => ['analyze', f.i8],
    expect: { code: 1, stderr: /all 1 layers? failed.*dtype I8/s },
  },
  {
    id: 'gguf-unknown-type',
    what: 'analyze GGUF with an unknown type',
    args: (f) => ['analyze', f.ggufUnknown],
    expect: { code: 1, stderr: /all 1 layers? failed.*GGML_TYPE_99/s },
  },
  {
    id: 'some-failed',
    what: 'analyze model with one NaN layer',
    args: (f) => ['analyze', f.partial],
    expect: { code: 3, stdout: /1 layer failed:\n.*fc2.*E_NONFINITE/ },
  },
  {
    id: 'some-failed-allowed',
    what: '… --allow-failures',
    args: (f) => ['analyze', f.partial, '--allow-failures'],
    expect: { code: 0, stdout: /1 layer failed/ },
  },
  {
    id: 'epipe',
    what: 'analyze M | head -0 (closed stdout)',
    args: (f) => ['analyze', f.good],
    closedStdout: true,
    expect: { code: 0, quiet: true },
  },

  // Zero layers: one line saying why, with the fix.
  {
    id: 'npy-name',
    what: 'analyze ok.npy',
    args: (f) => ['analyze', f.okNpy],
    expect: { code: 1, stderr: /1 tensor, none named \*\.weight: pass --all-tensors/ },
  },
  {
    id: 'npy-all-tensors',
    what: 'analyze ok.npy --all-tensors',
    args: (f) => ['analyze', f.okNpy, '--all-tensors'],
    expect: { code: 0, stdout: /1 layers analysed/ },
  },
  {
    id: 'npz-keys',
    what: 'analyze npz without .weight keys',
    args: (f) => ['analyze', f.npzNoWeight],
    expect: { code: 1, stderr: /3 tensors, none named \*\.weight: pass --all-tensors/ },
  },
  {
    id: 'safetensors-keys',
    what: 'describe safetensors without .weight keys',
    args: (f) => ['describe', f.safetensorsNoWeight],
    expect: { code: 1, stderr: /3 tensors, none named \*\.weight: pass --all-tensors/ },
  },
  {
    id: 'onnx-constants',
    what: 'analyze ONNX with weights in Constant nodes',
    args: (f) => ['analyze', f.onnxConstants],
    expect: { code: 1, stderr: /Constant nodes: use --onnx-constants/ },
  },
  {
    id: 'onnx-constants-on',
    what: '… --onnx-constants',
    args: (f) => ['analyze', f.onnxConstants, '--onnx-constants'],
    expect: { code: 0, stdout: /2 layers analysed/ },
  },
  {
    id: 'tfjs-depthwise',
    what: 'describe TF.js graph model with a depthwise conv',
    args: (f) => ['describe', f.tfjsDepthwise],
    expect: { code: 0, stdout: /dw: depthwise/ },
  },
  {
    id: 'row-vector',
    what: 'describe model with a [1, 64] weight',
    args: (f) => ['describe', f.rowVector],
    expect: { code: 0, stdout: /cls: shape \[1, 64\]/ },
  },

  // Option validation.
  {
    id: 'min-evals-neg',
    what: '--min-evals -5',
    args: (f) => ['analyze', f.good, '--min-evals', '-5'],
    expect: { code: 2, stderr: /--min-evals must be ≥ 0, got -5/ },
  },
  {
    id: 'max-fingers-neg',
    what: '--max-fingers -3',
    args: (f) => ['analyze', f.good, '--max-fingers', '-3'],
    expect: { code: 2, stderr: /--max-fingers must be ≥ 1, got -3/ },
  },
  {
    id: 'xmin-max-neg',
    what: '--xmin-max -1',
    args: (f) => ['analyze', f.good, '--xmin-max', '-1'],
    expect: { code: 2, stderr: /--xmin-max must be > 0, got -1/ },
  },
  {
    id: 'layers-foo',
    what: '--layers foo',
    args: (f) => ['analyze', f.good, '--layers', 'foo'],
    expect: { code: 2, stderr: /layers: 'foo' matches no layer id, name or type \(nearest: fc1, fc2/ },
  },
  {
    id: 'layers-99',
    what: '--layers 99',
    args: (f) => ['analyze', f.good, '--layers', '99'],
    expect: { code: 2, stderr: /layers: no layer has id 99 \(ids 0–2\)/ },
  },
  {
    id: 'layers-attn',
    what: '--layers attn',
    args: (f) => ['analyze', f.dotted, '--layers', 'attn'],
    expect: { code: 2, stderr: /'attn' matches no layer id, name or type \(nearest: / },
  },
  {
    id: 'layers-range',
    what: 'describe --layers 1-5',
    args: (f) => ['describe', f.good, '--layers', '1-5'],
    expect: { code: 0, stdout: /fc2/, stdoutNot: /fc1\s+dense/ },
  },
  {
    id: 'layers-comma',
    what: '--layers ,',
    args: (f) => ['analyze', f.good, '--layers', ','],
    expect: { code: 2, stderr: /--layers needs at least one id, name or type/ },
  },
  {
    id: 'layers-exclude',
    what: '--layers -fc1',
    args: (f) => ['describe', f.good, '--layers', '-fc1'],
    expect: { code: 0, stdout: /fc2/, stdoutNot: /fc1\s+dense/ },
  },
  {
    id: 'layers-exclude-dotted',
    what: '--layers -h.0.attn.c_attn',
    args: (f) => ['describe', f.dotted, '--layers', '-h.0.attn.c_attn'],
    expect: { code: 0, stdout: /h\.0\.mlp\.c_fc/, stdoutNot: /h\.0\.attn\.c_attn\s+dense/ },
  },

  // Folders.
  {
    id: 'folder-json',
    what: 'folder: weights.npz + notes.json + labels.json',
    args: (f) => ['analyze', f.folderJson],
    expect: { code: 0, stdout: /1 layers analysed .*npz: .*weights\.npz/ },
  },
  {
    id: 'folder-hf-onnx',
    what: 'folder: model.onnx + config.json + tokenizer*.json',
    args: (f) => ['analyze', f.folderOnnx],
    expect: { code: 0, stdout: /2 layers analysed .*onnx/ },
  },
  {
    id: 'folder-hf-gguf',
    what: 'folder: model.gguf + config/README/png',
    args: (f) => ['analyze', f.folderGguf],
    expect: { code: 0, stdout: /1 layers analysed .*gguf/ },
  },
  {
    id: 'folder-hf-npz',
    what: 'folder: model.npz + config.json + tokenizer.json',
    args: (f) => ['analyze', f.folderNpz],
    expect: { code: 0, stdout: /1 layers analysed .*npz/ },
  },
  {
    id: 'folder-precedence',
    what: 'folder: model.json (TF.js) + model.safetensors',
    args: (f) => ['analyze', f.folderTfjsAndSafetensors, '--json', '-'],
    expect: {
      code: 0,
      stdout: /"source": ".*model\.safetensors"/,
      stderr: /also holds TF\.js \(model\.json\); using safetensors .*--format NAME/,
    },
  },
  {
    id: 'folder-format',
    what: '… --format tfjs',
    args: (f) => ['analyze', f.folderTfjsAndSafetensors, '--format', 'tfjs', '--json', '-'],
    expect: { code: 0, stdout: /"source": ".*model\.json"/ },
  },

  // Terminal safety, help.
  {
    id: 'esc-table',
    what: 'analyze model with ESC/OSC/newline in names',
    args: (f) => ['analyze', f.escNames],
    // eslint-disable-next-line no-control-regex -- the table must contain no raw ESC/BEL
    expect: { code: 0, stdout: /\\x1b\]0;pwned\\x07title/, stdoutNot: /\x1b|\x07|line\n/ },
  },
  {
    id: 'esc-json',
    what: '… --json - keeps the real names',
    args: (f) => ['analyze', f.escNames, '--json', '-'],
    expect: { code: 0, stdout: /"\\u001b\]0;pwned\\u0007title"/ },
  },
  { id: 'help', what: 'analyze --help', args: () => ['analyze', '--help'], expect: { code: 0, stdout: /usage: weightwatcher analyze/ } },
  {
    id: 'help-wins',
    what: 'analyze M --json out.json --help',
    args: (f) => ['analyze', f.good, '--json', out(f, 'help.json'), '--help'],
    absent: (f) => [out(f, 'help.json')],
    expect: { code: 0, stdout: /exit codes/ },
  },

  // Hostile files.
  {
    id: 'overlap',
    what: 'safetensors with overlapping data_offsets',
    args: (f) => ['analyze', f.overlap],
    expect: { code: 1, stderr: /"a\.weight" \[0, 1600\) and "b\.weight" \[0, 1600\) overlap/ },
  },
  {
    id: 'bomb',
    what: 'npz member inflating ~300×',
    args: (f) => ['analyze', f.bomb],
    expect: { code: 1, stderr: /inflates .*×.*--allow-large/ },
  },
  {
    id: 'bomb-allowed',
    what: '… --allow-large',
    args: (f) => ['analyze', f.bomb, '--allow-large'],
    expect: { code: 0, stdout: /1 layers analysed/ },
  },

  // Library.
  {
    id: 'lib-ctor-42',
    what: 'new WeightWatcher(42)',
    args: () => [],
    script: `import { WeightWatcher } from 'DIST/index.js';
try { new WeightWatcher(42); console.log('no error'); } catch (e) { console.error(e.name, e.code ?? '', e.message); process.exit(1); }`,
    expect: { code: 1, stderr: /WeightWatcherError E_USAGE .*42/ },
  },
  {
    id: 'lib-nan-layer',
    what: 'analyze() of an in-memory NaN layer',
    args: () => [],
    script: `import { WeightWatcher } from 'DIST/index.js';
try { const rows = await new WeightWatcher([{ name: 'fc', shape: [20, 20], data: new Float32Array(400).fill(NaN) }]).analyze(); console.log('returned', JSON.stringify(rows)); }
catch (e) { console.error(e.name, e.code ?? '', e.message); process.exit(1); }`,
    expect: { code: 1, stderr: /WeightWatcherError E_LAYERS_FAILED .*fc/ },
  },
  {
    id: 'lib-throw-on-failure',
    what: 'analyze({ throwOnFailure: true }) with one NaN layer',
    args: () => [],
    script: `import { WeightWatcher } from 'DIST/index.js';
const good = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.11));
try { const rows = await new WeightWatcher([{ name: 'a', shape: [20, 20], data: good }, { name: 'b', shape: [20, 20], data: new Float32Array(400).fill(NaN) }]).analyze({ throwOnFailure: true }); console.log('returned', rows.length); }
catch (e) { console.error(e.name, e.code ?? '', e.failures?.length, e.message); process.exit(1); }`,
    expect: { code: 1, stderr: /WeightWatcherError E_LAYERS_FAILED 1 / },
  },
  {
    id: 'native-bad-alloc',
    what: 'std::bad_alloc in svdvalsSync / fitPowerLawSync argument copy',
    args: () => [],
    env: { WW_NATIVE_TEST_HOOKS: '1' },
    script: `import { svdvalsSync, fitPowerLawSync } from 'DIST/index.js';
import { simulateNativeAllocFailure } from 'DIST/native/binding.js';
const codes = [];
for (const [site, call] of [['compute', () => svdvalsSync(new Float64Array([1, 2, 3, 4]), 2, 2)], ['arguments', () => fitPowerLawSync(new Float64Array([1, 2, 3, 4, 5]))], ['result', () => svdvalsSync(new Float64Array([1, 2, 3, 4]), 2, 2)]]) {
  simulateNativeAllocFailure(site);
  try { call(); codes.push(site + ':none'); } catch (e) { codes.push(site + ':' + e.code); }
}
console.error(codes.join(' '));
process.exit(codes.every((c) => c.endsWith(':E_NOMEM')) ? 0 : 1);`,
    expect: { code: 0, stderr: /compute:E_NOMEM arguments:E_NOMEM result:E_NOMEM/ },
  },
];

// ------------------------------------------------------------------------------------------------
// Running a case

export interface CaseResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** Files listed in `keep` that changed (empty when all survived). */
  readonly changed: string[];
  /** Files listed in `absent` that exist. */
  readonly present: string[];
}

const digest = (file: string) => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'missing');

/** Run one case with `node <cli>` (cli: a dist/cli/main.js); `dist` is its dist folder, for library cases. */
export function runCase(c: CliCase, f: Fixtures, cli: string, dist: string, timeoutMs = 30_000): Promise<CaseResult> {
  mkdirSync(join(f.dir, 'out'), { recursive: true });
  const keep = c.keep?.(f) ?? [];
  const before = keep.map(digest);
  const argv = c.script ? ['--input-type=module', '-e', c.script.replaceAll('DIST/', `${dist}/`)] : [cli, ...c.args(f)];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, {
      cwd: f.dir,
      env: { ...process.env, NO_COLOR: '1', ...c.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    if (c.closedStdout) child.stdout.destroy();
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const changed = keep.filter((file, i) => digest(file) !== before[i]);
      const present = (c.absent?.(f) ?? []).filter((file) => existsSync(file));
      resolve({ code, signal, stdout, stderr, ms, changed, present });
    });
  });
}

/** The first line worth showing of a result (stderr first), for tables. */
export function headline(r: CaseResult): string {
  const line = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  return line.length > 110 ? `${line.slice(0, 107)}…` : line;
}
