/**
 * Fine-tune deltas (R39): each analysed layer's matrices are W − W_base, with W_base the
 * base model's layer of the same name (or, with base_match 'substring', the reference's pointer
 * walk). A base weight stored transposed is transposed back. The difference is taken in float32,
 * as the reference does, so an analysis of the deltas equals one of a file holding them.
 *
 * Divergences from the reference (Q14, docs/model-operations.md): a layer without a partner (or
 * with a partner of another shape) is skipped with a reason instead of being analysed with its raw
 * weights (or as a zero matrix); the base is matched by name among all its layers, so layer-id
 * filters select this model's layers only (#312).
 */
import type { TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { LayerSpec } from '../layers/types.js';
import type { ResolvedOptions } from '../shared/options.js';
import { WeightWatcherError } from '../shared/errors.js';
import type { Matrix } from '../spectra/esd.js';
import { readLayerMatrices } from './layer.js';
import { planLayers, skipOf, SkippedLayers, type LayerSource, type PlannedLayer, type SkippedLayer, type SourceLayer } from './plan.js';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Row-major transpose of a rows×cols Float32Array. */
export function transposeF32(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j]!;
  return out;
}

/** a − b in float32 (each difference rounded to float32, as numpy does on float32 arrays). */
export function subtractF32(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < out.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** Pair one planned layer with its base layer, or say why not. */
function deltaLayer(store: TensorStore, base: TensorStore, left: PlannedLayer, right: LayerSpec): SourceLayer | SkippedLayer {
  const { spec, geometry: g } = left;
  if (!right.tensor) return skipOf(spec, 'base_unmatched', `base layer "${right.name}" has no weight tensor`);
  const transposed = !sameShape(spec.shape, right.shape);
  if (transposed && !(spec.shape.length === 2 && sameShape(spec.shape, [...right.shape].reverse()))) {
    return skipOf(
      spec,
      'base_shape',
      `base layer "${right.name}" has shape [${right.shape.join(', ')}], this layer [${spec.shape.join(', ')}]`,
    );
  }
  const read = async (): Promise<Matrix[]> => {
    const mats = await readLayerMatrices(store, left);
    let baseMats: Matrix[];
    if (transposed) {
      const data = await base.read(right.tensor!);
      if (data.length !== g.rows * g.cols)
        throw new WeightWatcherError(
          'E_CORRUPT',
          `${base.source}: tensor "${right.tensor}" decoded to ${data.length} values, expected ${g.rows * g.cols}`,
          { tensor: right.tensor },
        );
      baseMats = [{ data: transposeF32(data, g.cols, g.rows), rows: g.rows, cols: g.cols }];
    } else {
      baseMats = await readLayerMatrices(base, { spec: { ...spec, tensor: right.tensor, shape: right.shape }, geometry: g });
    }
    return mats.map((m, i) => ({ data: subtractF32(m.data, baseMats[i]!.data), rows: m.rows, cols: m.cols }));
  };
  return { ...left, read };
}

export function deltaSource(store: TensorStore, base: TensorStore, o: ResolvedOptions): LayerSource {
  const { layers, skipped, explanation, note } = planLayers(store, o);
  const out: SourceLayer[] = [];
  const all: SkippedLayer[] = [...skipped];
  const add = (r: SourceLayer | SkippedLayer) => ('kind' in r ? all.push(r) : out.push(r));
  if (o.base_match === 'name') {
    const byName = new Map<string, LayerSpec>();
    for (const s of enumerateLayers(base)) if (!byName.has(s.name)) byName.set(s.name, s);
    for (const left of layers) {
      const right = byName.get(left.spec.name);
      add(
        right
          ? deltaLayer(store, base, left, right)
          : skipOf(left.spec, 'base_unmatched', `no layer named "${left.spec.name}" in the base model ${base.source}`),
      );
    }
  } else {
    // The reference's walk: a pointer into the base's analysed layers advances when this layer's
    // name is a substring of the base layer's name; otherwise the reference analyses the raw
    // weights (Q14) — here the layer is skipped and says so.
    const right = planLayers(base, o, { checkFilter: false }).layers;
    let p = 0;
    for (const left of layers) {
      const r = right[p];
      if (r && r.spec.name.includes(left.spec.name)) {
        add(deltaLayer(store, base, left, r.spec));
        p++;
      } else {
        const at = r ? `base layer "${r.spec.name}"` : 'the end of the base layers';
        add(
          skipOf(
            left.spec,
            'base_unmatched',
            `substring walk: "${left.spec.name}" is not part of ${at} (the reference would analyse the raw weights here, Q14)`,
          ),
        );
      }
    }
  }
  all.sort((a, b) => a.layer_id - b.layer_id);
  return {
    layers: out,
    skipped: SkippedLayers.from(all),
    ...(explanation !== undefined && { explanation }),
    ...(note !== undefined && { note }),
  };
}
