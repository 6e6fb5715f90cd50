/**
 * Decide, from shapes alone, which layers produce a row and how their matrices are cut (spec §1.9).
 * The reference loads every weight before filtering (Q44); doing it from the headers gives the same
 * rows without reading skipped tensors. Every enumerated layer that produces no row is listed in
 * `skipped` with its reason; when none is left, `explanation` says why in one line, with the fix.
 */
import { NON_FLOAT_DTYPES, type TensorStore } from '../formats/types.js';
import { enumerateLayers } from '../layers/enumerate.js';
import type { Channels, LayerSpec } from '../layers/types.js';
import { layerGeometry, type Geometry } from '../tensors/geometry.js';
import { makeLayerFilter } from './filters.js';
import type { ResolvedOptions } from '../shared/options.js';
import { SkippedLayers, type SkipKind } from './skipped.js';

export { SkippedLayers, type SkipKind, type SkippedLayer } from './skipped.js';

const ANALYSED_TYPES = new Set(['dense', 'conv1d', 'conv2d', 'embedding']);

export interface PlannedLayer {
  readonly spec: LayerSpec;
  readonly geometry: Geometry;
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

/** Counts gathered while planning, for the explanation of an empty plan. */
interface PlanStats {
  enumerated: number;
  byKind: ReadonlyMap<SkipKind, number>;
  /** Largest eigenvalue count among layers skipped by min_evals. */
  mostEvals: number;
  /** Smallest among those skipped by max_evals / max_N. */
  fewestEvals: number;
  smallestN: number;
}

function isMatrixShape(shape: readonly number[]): boolean {
  return (shape.length === 2 || shape.length === 4) && (shape[0] ?? 0) >= 2;
}

/** State dicts number `*.weight` keys only: say when other tensors look like weight matrices. */
function unconsidered(store: TensorStore, o: ResolvedOptions): string | undefined {
  if (store.convention !== 'statedict' || o.all_tensors) return undefined;
  let n = 0;
  for (const e of store.list()) if (!e.name.endsWith('.weight') && isMatrixShape(e.shape) && !NON_FLOAT_DTYPES.has(e.dtype)) n++;
  return n ? `${plural(n, 'other 2-D/4-D tensor')} not named *.weight ${n === 1 ? 'was' : 'were'} not considered (--all-tensors analyses ${n === 1 ? 'it' : 'them'})` : undefined;
}

function explainEmpty(store: TensorStore, o: ResolvedOptions, s: PlanStats): string {
  const tensors = store.list();
  const hidden = store.hiddenTensors;
  const constantsHint = hidden && hidden.count > 0
    ? `this ONNX keeps its weights in Constant nodes: use --onnx-constants (${plural(hidden.count, 'weight tensor')} there)`
    : undefined;
  if (tensors.length === 0) return constantsHint ?? 'the model holds no tensors';
  if (store.convention === 'statedict' && !o.all_tensors) {
    const others = tensors.filter((e) => !e.name.endsWith('.weight') && isMatrixShape(e.shape)).length;
    if (s.enumerated === 0) {
      return `${plural(tensors.length, 'tensor')}, none named *.weight: pass --all-tensors to treat every 2-D tensor as a layer`;
    }
    const notMatrices = (s.byKind.get('type') ?? 0) + (s.byKind.get('shape') ?? 0);
    if (others > 0 && notMatrices === s.enumerated) {
      return `no *.weight tensor is a weight matrix, but ${plural(others, 'other 2-D/4-D tensor')} ${others === 1 ? 'is' : 'are'} not named *.weight: pass --all-tensors to analyse ${others === 1 ? 'it' : 'them'}`;
    }
  }
  const parts: string[] = [];
  const fixes: string[] = [];
  const count = (k: SkipKind) => s.byKind.get(k) ?? 0;
  if (count('filter')) { parts.push(`${count('filter')} left out by --layers`); fixes.push('widen --layers'); }
  const notMatrix = count('type') + count('shape') + count('dtype');
  if (notMatrix) parts.push(`${notMatrix} not weight matrices`);
  if (count('min_evals')) { parts.push(`${count('min_evals')} with fewer than ${o.min_evals} eigenvalues (the most: ${s.mostEvals})`); fixes.push(`lower --min-evals (to ${s.mostEvals} or less)`); }
  if (count('max_evals')) { parts.push(`${count('max_evals')} with more than ${o.max_evals} eigenvalues (the fewest: ${s.fewestEvals})`); fixes.push('raise --max-evals (or --max-evals none)'); }
  if (count('max_N')) { parts.push(`${count('max_N')} with N above ${o.max_N} (the smallest: ${s.smallestN})`); fixes.push(`raise --max-n (to ${s.smallestN} or more)`); }
  if (constantsHint && fixes.length === 0) return `${plural(s.enumerated, 'initializer')} but no weight matrix; ${constantsHint}`;
  if (fixes.length === 0 && store.format === 'onnx') fixes.push('check the model: its initializers hold no weight matrix');
  return `none of ${plural(s.enumerated, 'layer')} qualifies: ${parts.join(', ')}${fixes.length ? `; ${fixes.join(', ')}` : ''}`;
}

function memo(f: (n: number) => string): (n: number) => string {
  const known = new Map<number, string>();
  return (n) => {
    let s = known.get(n);
    if (s === undefined) known.set(n, (s = f(n)));
    return s;
  };
}

export function planLayers(store: TensorStore, o: ResolvedOptions): Plan {
  const enumerate = () => enumerateLayers(store, { startIds: o.start_ids, allTensors: o.all_tensors });
  // Id ranges ('2-5') yield to layers named like that: only then are names needed up front.
  let rangeNames: Set<string> | undefined;
  if (o.layers.some((f) => typeof f === 'string' && /^\d+-\d+$/.test(f))) {
    const wanted = new Set(o.layers.filter((f): f is string => typeof f === 'string'));
    rangeNames = new Set();
    for (const l of enumerate()) if (wanted.has(l.name)) rangeNames.add(l.name);
  }
  const filter = makeLayerFilter(o.layers, rangeNames);
  const layers: PlannedLayer[] = [];
  const skipped = new SkippedLayers();
  const stats: PlanStats = { enumerated: 0, byKind: skipped.countsByKind(), mostEvals: 0, fewestEvals: Infinity, smallestN: Infinity };
  const skip = (spec: LayerSpec, kind: SkipKind, reason: string) => skipped.addLayer(spec, kind, reason);
  // One string per distinct count, not one per layer.
  const what = o.pool ? 'M·rf' : 'M';
  const tooFew = memo((n) => `${what} = ${n} < min_evals = ${o.min_evals}`);
  const tooMany = memo((n) => `${what} = ${n} > max_evals = ${o.max_evals}`);
  const tooWide = memo((n) => `N = ${n} > max_N = ${o.max_N}`);

  for (const spec of enumerate()) {
    stats.enumerated++;
    const decision = filter.decide(spec);
    if (decision.skipped) { skip(spec, 'filter', decision.reason ?? 'filtered'); continue; }
    if (spec.unanalysable) { skip(spec, spec.unanalysable.kind, spec.unanalysable.reason); continue; }
    if (!spec.tensor || !ANALYSED_TYPES.has(spec.type)) { skip(spec, 'type', `type ${spec.type} is not analysed`); continue; }
    const expected: Channels = o.channels ?? spec.channels;
    const g = layerGeometry(spec.type, spec.shape, expected);
    if (!g) { skip(spec, 'shape', `shape [${spec.shape.join(', ')}] is not a ${spec.type} weight`); continue; }
    const count = o.pool ? g.M * g.rf : g.M;
    if (o.min_evals && count < o.min_evals) {
      stats.mostEvals = Math.max(stats.mostEvals, count);
      skip(spec, 'min_evals', tooFew(count));
      continue;
    }
    if (o.max_evals && count > o.max_evals) {
      stats.fewestEvals = Math.min(stats.fewestEvals, count);
      skip(spec, 'max_evals', tooMany(count));
      continue;
    }
    if (g.N > o.max_N) {
      stats.smallestN = Math.min(stats.smallestN, g.N);
      skip(spec, 'max_N', tooWide(g.N));
      continue;
    }
    layers.push({ spec, geometry: g });
  }
  const unmatched = filter.unmatched(enumerate);
  if (unmatched) throw unmatched;
  if (!layers.length) return { layers, skipped, explanation: explainEmpty(store, o, stats) };
  const note = unconsidered(store, o);
  return note === undefined ? { layers, skipped } : { layers, skipped, note };
}
