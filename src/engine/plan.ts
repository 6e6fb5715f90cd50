/**
 * Decide, from shapes alone, which layers produce a row and how their matrices are cut (R11).
 * The reference loads every weight before filtering (Q44); doing it from the headers gives the same
 * rows without reading skipped tensors. Every enumerated layer that produces no row is listed in
 * `skipped` with its reason; when none is left, `explanation` says why in one line, with the fix.
 */
import { NON_FLOAT_DTYPES, type TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { Channels, LayerSpec } from '../layers/types.js';
import { layerGeometry, type Geometry } from '../tensors/geometry.js';
import type { LayerMatrix, Matrix } from '../spectra/esd.js';
import { makeLayerFilter, type FilterDecision } from './filters.js';
import type { ResolvedOptions } from '../shared/options.js';
import type { Row } from '../shared/rows.js';
import { SkippedLayers, type SkipKind, type SkippedLayer } from './skipped.js';

export { SkippedLayers, type SkipKind, type SkippedLayer } from './skipped.js';

const ANALYSED_TYPES = new Set(['dense', 'conv1d', 'conv2d', 'embedding']);

export interface PlannedLayer {
  readonly spec: LayerSpec;
  readonly geometry: Geometry;
  /** Identity columns added to the layer's rows (e.g. `peft`). */
  readonly columns?: Row;
}

/**
 * A planned layer that knows how to produce its matrices: the stored weight (plain), W − W_base
 * (fine-tune deltas) or a LoRA product. `read` returns them unscaled, one per conv2d kernel position.
 */
export interface SourceLayer extends PlannedLayer {
  read(): Promise<Matrix[]>;
  /**
   * Optional, for the analysis loop: the matrices with dense F32/F16/BF16 weights still as stored
   * bytes, converted to float64 natively off the main thread (engine/layer.ts readLayerForAnalysis).
   */
  readForAnalysis?(): Promise<LayerMatrix[]>;
}

/** The layers that produce rows, in reference order, and every layer that does not, with why. */
export interface LayerSource {
  readonly layers: SourceLayer[];
  readonly skipped: SkippedLayers;
  /** When no layer is left: why, in one line, with the fix. */
  readonly explanation?: string;
  /** Tensors the numbering left out (see Plan.note). */
  readonly note?: string;
}

export interface Plan {
  readonly layers: PlannedLayer[];
  readonly skipped: SkippedLayers;
  /** When no layer is left: why, in one line, with the fix ("3 tensors, none named *.weight: pass --all-tensors …"). */
  readonly explanation?: string;
  /** Matrices the numbering left out (state dicts: 2-D/4-D float tensors not named *.weight), said once. */
  readonly note?: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The support rules' reasons, one string per distinct count (a million skipped layers share a
 * handful of strings), and the extremes an empty plan's explanation quotes.
 */
class SupportRules {
  mostEvals = 0;
  fewestEvals = Infinity;
  smallestN = Infinity;
  private readonly reasons = new Map<string, string>();

  constructor(private readonly o: ResolvedOptions) {}

  private reason(kind: string, n: number, make: () => string): string {
    const key = `${kind}${n}`;
    let s = this.reasons.get(key);
    if (s === undefined) this.reasons.set(key, (s = make()));
    return s;
  }

  /** Why a layer of this geometry is skipped by min_evals / max_evals / max_N, or undefined. */
  check(g: Geometry): { kind: SkipKind; reason: string } | undefined {
    const o = this.o;
    const count = o.pool ? g.M * g.rf : g.M;
    const what = o.pool ? 'M·rf' : 'M';
    if (o.min_evals && count < o.min_evals) {
      this.mostEvals = Math.max(this.mostEvals, count);
      return { kind: 'min_evals', reason: this.reason('min', count, () => `${what} = ${count} < min_evals = ${o.min_evals}`) };
    }
    if (o.max_evals && count > o.max_evals) {
      this.fewestEvals = Math.min(this.fewestEvals, count);
      return { kind: 'max_evals', reason: this.reason('max', count, () => `${what} = ${count} > max_evals = ${o.max_evals}`) };
    }
    if (g.N > o.max_N) {
      this.smallestN = Math.min(this.smallestN, g.N);
      return { kind: 'max_N', reason: this.reason('N', g.N, () => `N = ${g.N} > max_N = ${o.max_N}`) };
    }
    return undefined;
  }
}

function isMatrixShape(shape: readonly number[]): boolean {
  return (shape.length === 2 || shape.length === 4) && (shape[0] ?? 0) >= 2;
}

/** State dicts number `*.weight` keys only: say when other tensors look like weight matrices. */
function unconsidered(store: TensorStore, o: ResolvedOptions): string | undefined {
  if (store.convention !== 'statedict' || o.all_tensors) return undefined;
  let n = 0;
  for (const e of store.list()) if (!e.name.endsWith('.weight') && isMatrixShape(e.shape) && !NON_FLOAT_DTYPES.has(e.dtype)) n++;
  return n
    ? `${plural(n, 'other 2-D/4-D tensor')} not named *.weight ${n === 1 ? 'was' : 'were'} not considered (--all-tensors analyses ${n === 1 ? 'it' : 'them'})`
    : undefined;
}

function explainEmpty(
  store: TensorStore,
  o: ResolvedOptions,
  enumerated: number,
  byKind: ReadonlyMap<SkipKind, number>,
  rules: SupportRules,
): string {
  const tensors = store.list();
  const hidden = store.hiddenTensors;
  const constantsHint =
    hidden && hidden.count > 0
      ? `this ONNX keeps its weights in Constant nodes: use --onnx-constants (${plural(hidden.count, 'weight tensor')} there)`
      : undefined;
  if (tensors.length === 0) return constantsHint ?? 'the model holds no tensors';
  const count = (k: SkipKind) => byKind.get(k) ?? 0;
  // A LoRA adapter's factors are rank-r matrices that min_evals skips: the fix is --peft, not a lower --min-evals.
  const loraFactors = o.peft ? 0 : tensors.filter((e) => /(^|\.)lora_[AB](\.|$)/.test(e.name)).length;
  if (loraFactors > 0)
    return `this is a LoRA adapter (${plural(loraFactors, 'lora_A/lora_B factor')}): pass --peft to analyse each update B·A, or --peft with-base --base-model BASE for W + B·A`;
  if (store.convention === 'statedict' && !o.all_tensors) {
    const others = tensors.filter((e) => !e.name.endsWith('.weight') && isMatrixShape(e.shape)).length;
    if (enumerated === 0) {
      return `${plural(tensors.length, 'tensor')}, none named *.weight: pass --all-tensors to treat every 2-D tensor as a layer`;
    }
    if (others > 0 && count('type') + count('shape') === enumerated) {
      return `no *.weight tensor is a weight matrix, but ${plural(others, 'other 2-D/4-D tensor')} ${others === 1 ? 'is' : 'are'} not named *.weight: pass --all-tensors to analyse ${others === 1 ? 'it' : 'them'}`;
    }
  }
  const parts: string[] = [];
  const fixes: string[] = [];
  if (count('filter')) {
    parts.push(`${count('filter')} left out by --layers`);
    fixes.push('widen --layers');
  }
  const notMatrix = count('type') + count('shape') + count('dtype');
  if (notMatrix) parts.push(`${notMatrix} not weight matrices`);
  if (count('min_evals')) {
    parts.push(`${count('min_evals')} with fewer than ${o.min_evals} eigenvalues (the most: ${rules.mostEvals})`);
    fixes.push(`lower --min-evals (to ${rules.mostEvals} or less)`);
  }
  if (count('max_evals')) {
    parts.push(`${count('max_evals')} with more than ${o.max_evals} eigenvalues (the fewest: ${rules.fewestEvals})`);
    fixes.push('raise --max-evals (or --max-evals none)');
  }
  if (count('max_N')) {
    parts.push(`${count('max_N')} with N above ${o.max_N} (the smallest: ${rules.smallestN})`);
    fixes.push(`raise --max-n (to ${rules.smallestN} or more)`);
  }
  if (constantsHint && fixes.length === 0) return `${plural(enumerated, 'initializer')} but no weight matrix; ${constantsHint}`;
  if (fixes.length === 0 && store.format === 'onnx') fixes.push('check the model: its initializers hold no weight matrix');
  return `none of ${plural(enumerated, 'layer')} qualifies: ${parts.join(', ')}${fixes.length ? `; ${fixes.join(', ')}` : ''}`;
}

export function skipOf(spec: { id: number; name: string }, kind: SkipKind, reason: string): SkippedLayer {
  return { layer_id: spec.id, name: spec.name, kind, reason };
}

/** The support rules for one layer: a planned layer, or why it is skipped (R11). */
export function planLayer(
  spec: LayerSpec,
  o: ResolvedOptions,
  filter: (l: LayerSpec) => FilterDecision,
  rules = new SupportRules(o),
): PlannedLayer | SkippedLayer {
  const decision = filter(spec);
  if (decision.skipped) return skipOf(spec, 'filter', decision.reason ?? 'filtered');
  if (spec.unanalysable) return skipOf(spec, spec.unanalysable.kind, spec.unanalysable.reason);
  if (!spec.tensor || !ANALYSED_TYPES.has(spec.type)) return skipOf(spec, 'type', `type ${spec.type} is not analysed`);
  const expected: Channels = o.channels ?? spec.channels;
  const g = layerGeometry(spec.type, spec.shape, expected);
  if (!g) return skipOf(spec, 'shape', `shape [${spec.shape.join(', ')}] is not a ${spec.type} weight`);
  const skip = rules.check(g);
  return skip ? skipOf(spec, skip.kind, skip.reason) : { spec, geometry: g };
}

export function isSkipped(p: PlannedLayer | SkippedLayer): p is SkippedLayer {
  return 'kind' in p;
}

/** The layer filter of `o.layers` for this store (id ranges yield to layers named like them). */
export function layerFilterFor(enumerate: () => Iterable<LayerSpec>, o: ResolvedOptions): ReturnType<typeof makeLayerFilter> {
  let rangeNames: Set<string> | undefined;
  if (o.layers.some((f) => typeof f === 'string' && /^\d+-\d+$/.test(f))) {
    const wanted = new Set(o.layers.filter((f): f is string => typeof f === 'string'));
    rangeNames = new Set();
    for (const l of enumerate()) if (wanted.has(l.name)) rangeNames.add(l.name);
  }
  return makeLayerFilter(o.layers, rangeNames);
}

/**
 * Plan every layer of the store. `checkFilter: false` skips the check that every `layers` entry
 * matches a layer (for a base model, whose names the filter was not written for).
 */
export function planLayers(store: TensorStore, o: ResolvedOptions, opts: { checkFilter?: boolean } = {}): Plan {
  const enumerate = () => enumerateLayers(store, { startIds: o.start_ids, allTensors: o.all_tensors });
  const filter = layerFilterFor(enumerate, o);
  const rules = new SupportRules(o);
  const layers: PlannedLayer[] = [];
  const skipped = new SkippedLayers();
  let enumerated = 0;
  for (const spec of enumerate()) {
    enumerated++;
    const p = planLayer(spec, o, filter, rules);
    // Stored compactly; the skip object itself dies young.
    if (isSkipped(p)) skipped.add(p.layer_id, p.name, p.kind, p.reason, spec.tensor);
    else layers.push(p);
  }
  if (opts.checkFilter !== false) {
    const unmatched = filter.unmatched(enumerate);
    if (unmatched) throw unmatched;
  }
  if (!layers.length) return { layers, skipped, explanation: explainEmpty(store, o, enumerated, skipped.countsByKind(), rules) };
  const note = unconsidered(store, o);
  return note === undefined ? { layers, skipped } : { layers, skipped, note };
}
