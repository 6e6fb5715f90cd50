/**
 * LoRA adapters (R40): each lora_A / lora_B pair becomes a `lora_BA` layer (the update B·A,
 * with only its top-r eigenvalues, r = the adapter rank) and, with peft 'with_base', a
 * `lora_W_plus_AB` layer (W + B·A, also top-r as the reference does, Q31). Every row gets a `peft`
 * column. Products are formed in float64.
 *
 * Rules, and where they differ from the reference (docs/model-operations.md):
 * - Factors are recognised by name (`<module>.lora_A[.<adapter>]`, `…lora_B…`) and paired by
 *   module and adapter name, not by order; the rows come where the later factor is, W + BA first.
 * - Q32 fixed: the factors are paired before any size rule, and the product rows are exempt from
 *   min_evals (their eigenvalue count is the adapter rank, a design choice, not a small layer);
 *   max_evals (on r) and max_N (on N) still apply, as do layer filters (on the product rows' ids,
 *   names and type).
 * - W for W + BA is found by name: `<module>.base_layer` or `<module>` in the same file, or, with a
 *   base model, `<module>` with the PEFT prefixes (`base_model.model.`, `base_model.`) removed. A
 *   base weight stored transposed to B·A (GPT-2 Conv1D) gets B·Aᵀ added. The reference takes the
 *   last non-LoRA layer seen instead, and cannot use a separate base model.
 */
import type { TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { LayerSpec } from '../layers/types.js';
import { matmul } from '../native/binding.js';
import type { ResolvedOptions } from '../shared/options.js';
import { WeightWatcherError } from '../shared/errors.js';
import type { Geometry } from '../tensors/geometry.js';
import type { Matrix } from '../spectra/esd.js';
import { readLayerMatrices } from './layer.js';
import {
  isSkipped,
  layerFilterFor,
  planLayer,
  skipOf,
  SkippedLayers,
  type LayerSource,
  type SkippedLayer,
  type SourceLayer,
} from './plan.js';
import { transposeF32 } from './delta.js';

/** `<module>.lora_A` / `<module>.lora_B`, optionally followed by the adapter name (`.default`). */
const LORA_FACTOR = /^(.*)\.lora_(A|B)(\.[^.]+)?$/;
/** PEFT wraps the model in `base_model.model.`; the base model's own names lack it. */
const PEFT_PREFIXES = ['base_model.model.', 'base_model.'];

interface Factor {
  readonly spec: LayerSpec;
  readonly index: number;
}

interface LoraPair {
  readonly module: string;
  A?: Factor;
  B?: Factor;
}

function denseGeometry(rows: number, cols: number, numComponents: number): Geometry {
  const M = Math.min(rows, cols);
  return {
    N: Math.max(rows, cols),
    M,
    rf: 1,
    numComponents: Math.min(numComponents, M),
    slices: [{ a: 0, b: 0 }],
    sliceAxes: 'dense',
    rows,
    cols,
  };
}

async function readTensor(store: TensorStore, spec: LayerSpec): Promise<Float32Array> {
  const data = await store.read(spec.tensor!);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (data.length !== n)
    throw new WeightWatcherError('E_CORRUPT', `${store.source}: tensor "${spec.tensor}" decoded to ${data.length} values, expected ${n}`, {
      tensor: spec.tensor,
    });
  return data;
}

/** How B·A is formed from the stored factors: A as r×in, B as out×r (each maybe transposed). */
interface Product {
  readonly r: number;
  readonly out: number;
  readonly in: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

function productShape(A: LayerSpec, B: LayerSpec): Product | string {
  const [a0, a1] = A.shape as [number, number];
  const [b0, b1] = B.shape as [number, number];
  // The reference: A is transposed when it has more rows than columns; then B when it does not fit.
  const transposeA = a0 > a1;
  const r = transposeA ? a1 : a0;
  const inDim = transposeA ? a0 : a1;
  if (b1 === r) return { r, out: b0, in: inDim, transposeA, transposeB: false };
  if (b0 === r) return { r, out: b1, in: inDim, transposeA, transposeB: true };
  return `lora_A [${A.shape.join(', ')}] and lora_B [${B.shape.join(', ')}] cannot be multiplied`;
}

/** B·A (out×in, float64) from the stored factors. */
async function loraProduct(store: TensorStore, A: LayerSpec, B: LayerSpec, p: Product): Promise<Float64Array> {
  let a = await readTensor(store, A);
  let b = await readTensor(store, B);
  if (p.transposeA) a = transposeF32(a, p.in, p.r);
  if (p.transposeB) b = transposeF32(b, p.r, p.out);
  return matmul(b, a, p.out, p.r, p.in);
}

/** What adapter_config.json says about the layout (read by the caller when there is one). */
export interface AdapterConfig {
  /**
   * PEFT's fan_in_fan_out: the adapted weights are stored [in, out] (GPT-2 Conv1D), so W + B·Aᵀ.
   * Without it, the orientation is taken from the shapes (which cannot tell for square weights).
   */
  readonly fanInFanOut?: boolean;
}

export function peftSource(store: TensorStore, o: ResolvedOptions, base?: TensorStore, config: AdapterConfig = {}): LayerSource {
  const enumerate = () => enumerateLayers(store, { startIds: o.start_ids, allTensors: o.all_tensors });
  const specs = [...enumerate()];
  const filter = layerFilterFor(enumerate, o);
  const withBase = o.peft === 'with_base';

  const pairs = new Map<string, LoraPair>();
  const pairOf = new Map<number, LoraPair>(); // spec index → its pair
  specs.forEach((spec, index) => {
    const m = LORA_FACTOR.exec(spec.name);
    if (!m || !spec.tensor || spec.shape.length !== 2) return;
    const key = `${m[1]}${m[3] ?? ''}`;
    const pair = pairs.get(key) ?? { module: m[1]! };
    pairs.set(key, pair);
    const slot = m[2] as 'A' | 'B';
    if (pair[slot]) return; // a duplicate factor stays unpaired (reported below)
    pair[slot] = { spec, index };
    pairOf.set(index, pair);
  });

  const ownByName = new Map(specs.filter((s) => s.tensor).map((s) => [s.name, s]));
  const baseByName = base ? new Map([...enumerateLayers(base)].filter((s) => s.tensor).map((s) => [s.name, s])) : undefined;
  /** W for a LoRA module: where it is stored, or undefined. */
  const findW = (module: string): { store: TensorStore; spec: LayerSpec } | undefined => {
    if (base && baseByName) {
      const names = [module, ...PEFT_PREFIXES.filter((p) => module.startsWith(p)).map((p) => module.slice(p.length))];
      for (const n of names) {
        const spec = baseByName.get(n) ?? baseByName.get(`${n}.base_layer`);
        if (spec) return { store: base, spec };
      }
      return undefined;
    }
    const spec = ownByName.get(`${module}.base_layer`) ?? ownByName.get(module);
    return spec ? { store, spec } : undefined;
  };

  const layers: SourceLayer[] = [];
  const skipped: SkippedLayer[] = [];
  /** Filters and size rules of a product row (no min_evals: Q32). */
  const admit = (spec: LayerSpec, g: Geometry, read: () => Promise<Matrix[]>) => {
    const decision = filter(spec);
    if (decision.skipped) skipped.push(skipOf(spec, 'filter', decision.reason ?? 'filtered'));
    else if (o.max_evals && g.numComponents > o.max_evals)
      skipped.push(skipOf(spec, 'max_evals', `r = ${g.numComponents} > max_evals = ${o.max_evals}`));
    else if (g.N > o.max_N) skipped.push(skipOf(spec, 'max_N', `N = ${g.N} > max_N = ${o.max_N}`));
    else layers.push({ spec, geometry: g, columns: { peft: true }, read });
  };

  specs.forEach((spec, index) => {
    const pair = pairOf.get(index);
    if (!pair) {
      if (/(^|\.)lora_/.test(spec.name)) {
        skipped.push(
          skipOf(
            spec,
            'peft',
            LORA_FACTOR.test(spec.name)
              ? `duplicate LoRA factor or not a matrix (shape [${spec.shape.join(', ')}])`
              : 'LoRA tensor that is not a lora_A / lora_B factor',
          ),
        );
      } else if (!withBase) {
        skipped.push(
          skipOf(spec, 'peft', "not a LoRA factor (peft analyses only the adapters' B·A; use peft 'with_base' for every layer)"),
        );
      } else {
        const p = planLayer(spec, o, filter);
        if (isSkipped(p)) skipped.push(p);
        else layers.push({ ...p, columns: { peft: false }, read: () => readLayerMatrices(store, p) });
      }
      return;
    }
    const { A, B } = pair;
    if (!A || !B) {
      skipped.push(skipOf(spec, 'peft', `lora_${A ? 'A' : 'B'} without a matching lora_${A ? 'B' : 'A'}`));
      return;
    }
    if (index !== Math.max(A.index, B.index)) return; // the pair's rows come at its later factor
    const shape = productShape(A.spec, B.spec);
    if (typeof shape === 'string') {
      skipped.push(skipOf(A.spec, 'peft', shape));
      return;
    }
    const ba = () => loraProduct(store, A.spec, B.spec, shape);

    if (withBase) {
      const wSpec: LayerSpec = {
        ...B.spec,
        name: B.spec.name.replace('lora_B', 'lora_W_plus_AB'),
        longname: B.spec.longname.replace('lora_B', 'lora_W_plus_AB'),
        type: 'dense',
      };
      const W = findW(pair.module);
      if (!W) {
        skipped.push(
          skipOf(
            wSpec,
            'base_unmatched',
            `no base weight for ${pair.module} (${base ? `not in the base model ${base.source}` : 'not in this file; pass a base model'})`,
          ),
        );
      } else {
        const [w0, w1] = W.spec.shape as [number, number];
        const transposed = config.fanInFanOut === true || !(w0 === shape.out && w1 === shape.in);
        if (W.spec.shape.length !== 2 || (transposed && !(w0 === shape.in && w1 === shape.out))) {
          skipped.push(
            skipOf(
              wSpec,
              'base_shape',
              `base weight ${W.spec.name} [${W.spec.shape.join(', ')}] does not fit B·A [${shape.out}, ${shape.in}]`,
            ),
          );
        } else {
          admit({ ...wSpec, shape: [w0, w1] }, denseGeometry(w0, w1, shape.r), async () => {
            const product = await ba();
            const w = await readTensor(W.store, W.spec);
            const sum = new Float64Array(w.length);
            for (let i = 0; i < w0; i++) {
              for (let j = 0; j < w1; j++) sum[i * w1 + j] = w[i * w1 + j]! + (transposed ? product[j * w0 + i]! : product[i * w1 + j]!);
            }
            return [{ data: sum, rows: w0, cols: w1 }];
          });
        }
      }
    }
    const baSpec: LayerSpec = {
      ...A.spec,
      name: A.spec.name.replace('lora_A', 'lora_BA'),
      longname: A.spec.longname.replace('lora_A', 'lora_BA'),
      type: 'dense',
      shape: [shape.out, shape.in],
    };
    admit(baSpec, denseGeometry(shape.out, shape.in, shape.r), async () => [{ data: await ba(), rows: shape.out, cols: shape.in }]);
  });
  skipped.sort((a, b) => a.layer_id - b.layer_id);
  const unmatched = filter.unmatched(enumerate);
  if (unmatched) throw unmatched;
  return { layers, skipped: SkippedLayers.from(skipped) };
}
