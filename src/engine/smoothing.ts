/**
 * SVD smoothing and sharpening (R41, R42): write a copy of a safetensors model in which each
 * selected layer is replaced by a truncated SVD of itself. Smoothing keeps the top k singular
 * triplets (k from the method: detX, svd, rmt, alpha_min); sharpening removes the top k, where k is
 * the number of Marchenko–Pastur spikes of the layer's randomly permuted matrix (correlation traps).
 *
 * - The input is never modified. The output is a new file (or, for a folder, a new folder with the
 *   same file names and index) written under a temporary name and renamed when complete.
 * - Every other tensor, the header and `__metadata__` are copied byte for byte; a modified tensor
 *   keeps its dtype: the truncation is computed in float64 from the decoded weights and rounded back
 *   to the stored dtype (round to nearest even; bf16 stays bf16). So the written matrix is the
 *   *rounded* truncation: for float32 its discarded singular values are at rounding level (~1e-7
 *   relative), for bf16 at up to 2⁻⁸·‖W‖_F (docs/model-operations.md has the measured counts).
 * - The truncated SVD is exact (LAPACK dgesdd with vectors, native/core/lowrank.cc), deterministic.
 *   The reference uses a randomized TruncatedSVD for k > 0.
 * - No conv2d_norm scaling (Q13); conv2d layers use ceil(k / rf) per kernel-position slice.
 * - Fixed: a failed MP fit (num_spikes −1) leaves the layer unchanged with a reason instead of
 *   removing one component (rmt) or truncating to rank 1 (sharpen, Q29).
 */
import { copyFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { openModel } from '../formats/open.js';
import { SafetensorsStore, type SafetensorsTensor } from '../formats/safetensors.js';
import { rewriteSafetensors } from '../formats/safetensors-writer.js';
import { writeFileAtomically, writeFolderAtomically } from '../shared/atomic-write.js';
import { encodeFloats } from '../formats/encode.js';
import { shapeSize } from '../formats/decode.js';
import { lowRankApprox } from '../native/binding.js';
import { AbortedError, WeightWatcherError, withContext } from '../shared/errors.js';
import type { Progress, ResolvedOptions } from '../shared/options.js';
import type { Random } from '../shared/random.js';
import { extractSlice, insertSlice } from '../tensors/geometry.js';
import { computeEsd, type Matrix } from '../spectra/esd.js';
import { detXConstraint } from '../metrics/detx.js';
import { mpFit } from '../metrics/mpfit.js';
import { fitLayerPowerLaw } from '../metrics/powerlaw.js';
import { shuffledMatrix } from '../metrics/randomize.js';
import { powerLawParams } from './layer.js';
import { fitterFor } from './wiring.js';
import { planLayers, type PlannedLayer, type SkippedLayer } from './plan.js';
import { layerRandom } from './analyze.js';
import { layerThreads, threadBudget } from './thread-policy.js';
import { blasThreadsFor, withCall, type Call, type CancelOptions } from './scheduler.js';

export const SMOOTH_METHODS = ['detX', 'svd', 'rmt', 'alpha_min'] as const;
export type SmoothMethod = (typeof SMOOTH_METHODS)[number];

/** What to do to each layer: smooth (keep the top k) or sharpen (remove the MP spikes' count). */
export type Transform = { readonly kind: 'smooth'; readonly method: SmoothMethod; readonly percent: number } | { readonly kind: 'sharpen' };

/** One selected layer and what was done to it. */
export interface TransformedLayer {
  layer_id: number;
  name: string;
  tensor: string;
  dtype: string;
  N: number;
  M: number;
  rf: number;
  /** The method's k: > 0 keep the top k, < 0 remove the top |k|, 0 leave as is (null: not determined). */
  k: number | null;
  /** k per matrix (conv2d: ceil(k / rf) per kernel position). */
  k_per_matrix: number | null;
  action: 'kept top' | 'removed top' | 'unchanged';
  /** Why a layer was left unchanged, when it was. */
  reason?: string;
}

export interface TransformResult {
  readonly input: string;
  readonly output: string;
  /** Weight files written (full paths). */
  readonly files: string[];
  /** Other files of an input folder copied unchanged, and weight files or sub-folders not part of the model (not copied). */
  readonly copied: string[];
  readonly omitted: string[];
  readonly layers: TransformedLayer[];
  /** Layers the selection rules left out. */
  readonly skipped: SkippedLayer[];
  readonly elapsedMs: number;
}

/** Weight files of other formats (or unused safetensors files) are not carried into an output folder. */
const WEIGHT_FILE = /\.(safetensors|bin|pt|pth|ckpt|onnx|gguf|h5|keras|msgpack|npz|npy|pb|tflite|ot)$/i;

/** k of the reference's methods for one layer, or a reason when the method cannot give one. */
async function chooseK(layer: PlannedLayer, mats: Matrix[], t: Transform, o: ResolvedOptions, random: Random): Promise<number | string> {
  const g = layer.geometry;
  if (t.kind === 'smooth' && t.method === 'svd') return Math.trunc(t.percent * g.M * g.rf);
  const source = t.kind === 'sharpen' ? mats.map((m) => shuffledMatrix(m, random)) : mats;
  const { evals } = await computeEsd(source, { N: g.N, precision: o.precision });
  if (t.kind === 'sharpen') {
    const spikes = mpFit(evals, g.N, g.M).num_spikes;
    return spikes < 0 ? 'the MP fit of the permuted matrix failed (the reference would truncate to rank 1, Q29)' : 0 - spikes || 0;
  }
  if (t.method === 'detX') return detXConstraint(evals).num;
  if (t.method === 'rmt') {
    const spikes = mpFit(evals, g.N, g.M).num_spikes;
    return spikes < 0 ? 'the MP fit failed (the reference would remove the top component)' : spikes;
  }
  const params = powerLawParams(o);
  const pl = await fitLayerPowerLaw(evals, params, fitterFor(params));
  return pl.status === 'failed' || pl.num_pl_spikes < 0 ? 'the power-law fit failed' : pl.num_pl_spikes;
}

/** The layer's new bytes (or undefined: unchanged) and its report line. */
async function transformLayer(
  store: SafetensorsStore,
  layer: PlannedLayer,
  t: SafetensorsTensor,
  transform: Transform,
  o: ResolvedOptions,
  random: Random,
): Promise<{ bytes: Uint8Array | undefined; report: TransformedLayer }> {
  const { spec, geometry: g } = layer;
  const report: TransformedLayer = {
    layer_id: spec.id,
    name: spec.name,
    tensor: t.name,
    dtype: t.dtype,
    N: g.N,
    M: g.M,
    rf: g.rf,
    k: null,
    k_per_matrix: null,
    action: 'unchanged',
  };
  const data = await store.read(t.name);
  if (data.length !== shapeSize(t.shape))
    throw new WeightWatcherError('E_CORRUPT', `${store.source}: tensor "${t.name}" decoded to ${data.length} values`, { tensor: t.name });
  const mats = g.slices.map((s) => ({ data: extractSlice(data, t.shape, g, s), rows: g.rows, cols: g.cols }));
  const k = await chooseK(layer, mats, transform, o, random);
  if (typeof k === 'string') return { bytes: undefined, report: { ...report, reason: k } };
  const perMatrix = g.sliceAxes === 'dense' ? k : Math.ceil(k / g.rf) || 0; // ceil of a small negative is −0
  Object.assign(report, { k, k_per_matrix: perMatrix });
  const rank = Math.min(g.rows, g.cols);
  if (perMatrix === 0) return { bytes: undefined, report: { ...report, reason: 'k = 0' } };
  if (perMatrix >= rank)
    return { bytes: undefined, report: { ...report, reason: `k = ${perMatrix} ≥ rank bound ${rank}: nothing to truncate` } };
  const mode = perMatrix > 0 ? 'keep' : 'drop';
  const values = new Float64Array(data.length);
  values.set(data);
  for (let i = 0; i < mats.length; i++) {
    const { matrix } = await lowRankApprox(mats[i]!.data, g.rows, g.cols, Math.abs(perMatrix), { mode });
    insertSlice(values, t.shape, g, g.slices[i]!, matrix);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!))
      throw new WeightWatcherError('E_NONFINITE', `${store.source}: layer ${spec.name}: the truncated matrix has a non-finite value`, {
        tensor: t.name,
      });
  }
  const bytes = encodeFloats(values, t.dtype, `${store.source}: tensor "${t.name}"`);
  return { bytes, report: { ...report, action: perMatrix > 0 ? 'kept top' : 'removed top' } };
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  return (await real(a)) === (await real(b));
}

/**
 * Smooth or sharpen the safetensors model at `input` (a file or a folder) into `output`. `o` selects
 * the layers as analyze does (layers, min_evals, max_evals, max_N; pool must be true); `seed` in `o`
 * makes sharpening's permutations reproducible. `cancel`: after an abort no layer starts, nothing
 * is written (the temporary output is removed) and the call rejects with an AbortedError.
 */
export async function transformModel(
  input: string,
  output: string,
  transform: Transform,
  o: ResolvedOptions,
  cancel: CancelOptions = {},
): Promise<TransformResult> {
  return withCall(cancel, (call) => transformWith(call, input, output, transform, o));
}

async function transformWith(
  call: Call,
  input: string,
  output: string,
  transform: Transform,
  o: ResolvedOptions,
): Promise<TransformResult> {
  const started = performance.now();
  if (!o.pool)
    throw new WeightWatcherError('E_USAGE', 'smoothing and sharpening work on pooled layers only (pool: true), as the reference');
  if (transform.kind === 'smooth') {
    if (!(SMOOTH_METHODS as readonly string[]).includes(transform.method))
      throw new WeightWatcherError(
        'E_USAGE',
        `method must be one of ${SMOOTH_METHODS.join(', ')}, got ${JSON.stringify(transform.method)}`,
      );
    if (!(Number.isFinite(transform.percent) && transform.percent >= -1 && transform.percent <= 1))
      throw new WeightWatcherError('E_USAGE', `percent must be a number in [-1, 1], got ${String(transform.percent)}`);
  }
  const inputIsFolder = (await stat(input).catch(() => undefined))?.isDirectory() === true;
  if (await samePath(input, output))
    throw new WeightWatcherError('E_USAGE', `the output must differ from the input (${input}): the input is never modified`, {
      file: output,
    });
  const store = await openModel(input);
  try {
    if (!(store instanceof SafetensorsStore)) {
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${input}: smoothing writes safetensors and needs a safetensors model (this is ${store.format}); convert it first`,
        { file: input },
      );
    }
    for (const f of store.files)
      if (await samePath(f.path, output))
        throw new WeightWatcherError('E_USAGE', `the output ${output} is one of the input files`, { file: output });
    const { layers, skipped } = planLayers(store, o);
    const byTensor = new Map(layers.map((l, i) => [l.spec.tensor!, { layer: l, index: i }]));
    const reports: TransformedLayer[] = [];
    let done = 0;
    // The writer asks for the layers in file order; up to `concurrency` of them are computed ahead
    // of it, each in a scheduler slot, and at most that many results are held at once.
    const isLayer = (t: SafetensorsTensor) => byTensor.has(t.name) && store.fileOf(t.name)?.tensors.get(t.name) === t;
    const order = (inputIsFolder ? store.files : store.files.slice(0, 1)).flatMap((f) =>
      [...f.tensors.values()].filter(isLayer).sort((a, b) => a.begin - b.begin),
    );
    const budget = threadBudget(o.threads).budget;
    // One count for every layer, as in analyze: a layer's place differs between a sharded folder and
    // the single file of the same model, whose outputs must be the same bytes. A model of one layer
    // still gets the whole budget.
    const { concurrency } = layerThreads(order.length, budget);
    const blasThreads = blasThreadsFor(budget, order.length);
    call.planned(order.length);
    const pending = new Map<string, Promise<Uint8Array | undefined>>();
    let next = 0;
    const compute = async (t: SafetensorsTensor): Promise<Uint8Array | undefined> => {
      const hit = byTensor.get(t.name)!;
      try {
        const threads = blasThreads;
        const { bytes, report } = await call.run(threads, () =>
          transformLayer(store, hit.layer, t, transform, o, layerRandom(o.seed, hit.layer.spec.id)),
        );
        reports.push(report);
        done++;
        call.layerDone();
        o.onProgress?.({
          done,
          total: layers.length,
          layerId: hit.layer.spec.id,
          name: hit.layer.spec.name,
          elapsedMs: performance.now() - started,
        } satisfies Progress);
        return bytes;
      } catch (e) {
        if (call.aborted) throw call.abortError({ done, total: order.length });
        throw e instanceof AbortedError ? e : withContext(e, { file: store.fileOf(t.name)?.path, tensor: t.name });
      }
    };
    const startAhead = () => {
      while (next < order.length && pending.size < concurrency) {
        const t = order[next++]!;
        const p = compute(t);
        p.catch(() => {}); // awaited by the writer in its turn; failures surface there
        pending.set(t.name, p);
      }
    };
    const rewrite = async (t: SafetensorsTensor): Promise<Uint8Array | undefined> => {
      if (!isLayer(t)) return undefined;
      startAhead();
      const p = pending.get(t.name);
      if (!p) throw new WeightWatcherError('E_INTERNAL', `${store.source}: layer tensor "${t.name}" was not scheduled`, { tensor: t.name });
      try {
        return await p;
      } finally {
        pending.delete(t.name);
        startAhead();
      }
    };
    const files: string[] = [];
    const copied: string[] = [];
    const omitted: string[] = [];
    const write = async (): Promise<void> => {
      if (!inputIsFolder) {
        if ((await stat(output).catch(() => undefined))?.isDirectory())
          throw new WeightWatcherError('E_USAGE', `${output} is a folder: the input is a file, so give an output file name`, {
            file: output,
          });
        await writeFileAtomically(output, (tmp) => rewriteSafetensors(store.files[0]!, tmp, rewrite).then(() => undefined));
        files.push(output);
        return;
      }
      const modelFiles = new Set(store.files.map((f) => basename(f.path)));
      await writeFolderAtomically(output, async (tmp) => {
        for (const f of store.files) {
          await rewriteSafetensors(f, join(tmp, basename(f.path)), rewrite);
          files.push(join(output, basename(f.path)));
        }
        for (const name of (await readdir(input)).sort()) {
          if (modelFiles.has(name)) continue;
          const st = await stat(join(input, name));
          if (!st.isFile()) {
            if (st.isDirectory()) omitted.push(`${name}/`);
            continue;
          }
          if (WEIGHT_FILE.test(name)) omitted.push(name);
          else {
            await copyFile(join(input, name), join(tmp, name));
            copied.push(name);
          }
        }
      });
    };
    try {
      // After an abort the next layer's slot is refused: the write fails and its temporary is
      // removed, so nothing is half-written; an abort after the last layer changes nothing.
      await write();
    } finally {
      // after a failure, let the layers computed ahead finish before the store closes
      await Promise.allSettled([...pending.values()]);
    }
    reports.sort((a, b) => a.layer_id - b.layer_id);
    return { input, output, files, copied, omitted, layers: reports, skipped: skipped.toArray(), elapsedMs: performance.now() - started };
  } finally {
    await store.close();
  }
}
