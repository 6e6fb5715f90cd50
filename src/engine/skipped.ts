/**
 * The layers a run skipped, with their reasons, stored compactly: a model file can list a million
 * tensors that all produce no row, and a million skip objects (~90 bytes each, plus their sliced
 * names) would dominate the run's memory. Here a skip costs ~20 bytes (its id, kind and reason as
 * small integers, and a reference to a name string the store already holds); the objects are built
 * only when someone asks for them (JSON output, describe's list).
 */
import type { LayerSpec } from '../layers/types.js';
import { int32Column, uint8Column } from '../shared/columns.js';

export type SkipKind =
  | 'filter'
  | 'type'
  | 'shape'
  | 'dtype'
  | 'min_evals'
  | 'max_evals'
  | 'max_N'
  | 'intra'
  /** baseModel: no partner layer in the base model (by name, or on the substring walk). */
  | 'base_unmatched'
  /** baseModel / peft with_base: the partner's shape does not fit (neither equal nor transposed). */
  | 'base_shape'
  /** peft: not a LoRA factor (peft: true), an unpaired factor, or factors that cannot be multiplied. */
  | 'peft';

export interface SkippedLayer {
  readonly layer_id: number;
  readonly name: string;
  readonly kind: SkipKind;
  readonly reason: string;
}

const KINDS: readonly SkipKind[] = [
  'filter',
  'type',
  'shape',
  'dtype',
  'min_evals',
  'max_evals',
  'max_N',
  'intra',
  'base_unmatched',
  'base_shape',
  'peft',
];
const WEIGHT_SUFFIX = '.weight';

export class SkippedLayers implements Iterable<SkippedLayer> {
  private readonly ids = int32Column();
  /** kind index << 24 | reason index (reasons are shared strings). */
  private readonly codes = int32Column();
  /** The layer's name, or its tensor key when the name is the key minus `.weight` (negative code bit). */
  private readonly names: string[] = [];
  private readonly trimmed = uint8Column();
  private readonly reasons: string[] = [];
  private readonly reasonIndex = new Map<string, number>();
  private readonly counts = new Map<SkipKind, number>();

  get length(): number {
    return this.names.length;
  }

  add(layerId: number, name: string, kind: SkipKind, reason: string, tensorKey?: string): void {
    let r = this.reasonIndex.get(reason);
    if (r === undefined) {
      r = this.reasons.length;
      this.reasons.push(reason);
      this.reasonIndex.set(reason, r);
    }
    this.ids.push(layerId);
    this.codes.push((KINDS.indexOf(kind) << 24) | r);
    // Keep the store's key instead of a new sliced string when the name is derived from it.
    const shared =
      tensorKey !== undefined &&
      tensorKey.length === name.length + WEIGHT_SUFFIX.length &&
      tensorKey.endsWith(WEIGHT_SUFFIX) &&
      tensorKey.startsWith(name);
    this.names.push(shared ? tensorKey : name);
    this.trimmed.push(shared ? 1 : 0);
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** Skip a layer the plan enumerated. */
  addLayer(spec: LayerSpec, kind: SkipKind, reason: string): void {
    this.add(spec.id, spec.name, kind, reason, spec.tensor);
  }

  /** Add a skip record made elsewhere (base-model pairing, LoRA factors, intra). */
  push(...records: SkippedLayer[]): void {
    for (const s of records) this.add(s.layer_id, s.name, s.kind, s.reason);
  }

  static from(records: Iterable<SkippedLayer>): SkippedLayers {
    const list = new SkippedLayers();
    for (const s of records) list.add(s.layer_id, s.name, s.kind, s.reason);
    return list;
  }

  /** How many layers were skipped for each kind of reason. */
  countsByKind(): ReadonlyMap<SkipKind, number> {
    return this.counts;
  }

  at(i: number): SkippedLayer {
    const code = this.codes.get(i);
    const raw = this.names[i]!;
    return {
      layer_id: this.ids.get(i),
      name: this.trimmed.get(i) ? raw.slice(0, -WEIGHT_SUFFIX.length) : raw,
      kind: KINDS[code >>> 24]!,
      reason: this.reasons[code & 0xffffff]!,
    };
  }

  slice(start = 0, end = this.length): SkippedLayer[] {
    const out: SkippedLayer[] = [];
    for (let i = Math.max(0, start); i < Math.min(end, this.length); i++) out.push(this.at(i));
    return out;
  }

  toArray(): SkippedLayer[] {
    return this.slice();
  }

  *[Symbol.iterator](): Iterator<SkippedLayer> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toJSON(): SkippedLayer[] {
    return this.toArray();
  }
}
