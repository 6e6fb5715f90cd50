/**
 * Tensors already in memory (from onnxruntime-node, TF.js, or computed), analysed without writing
 * files. Treated as a state dict: ids over `.weight` names (a name without `.weight` gets it added,
 * so a bare `{name: 'fc1', …}` is the layer `fc1`).
 */
import { WeightWatcherError } from '../shared/errors.js';
import { isArray } from '../shared/json.js';
import { decodeToFloat32, shapeSize, storedTensor } from './decode.js';
import type { StoredTensor, TensorEntry, TensorStore } from './types.js';

export type NumericArray =
  Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array | Int32Array | Uint32Array | readonly number[];

export interface InMemoryTensor {
  readonly name: string;
  readonly shape: readonly number[];
  /** Defaults from the array type: Float32Array → F32, Float64Array → F64; Uint16Array needs 'F16' or 'BF16'. */
  readonly dtype?: string;
  readonly data: NumericArray;
}

function toFloat32(t: InMemoryTensor): Float32Array {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof Uint16Array && (t.dtype === 'F16' || t.dtype === 'BF16')) {
    // Typed arrays use the platform's byte order, which is little-endian on every Node.js target.
    return decodeToFloat32(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), t.dtype, d.length, `tensor "${t.name}"`);
  }
  return Float32Array.from(d as ArrayLike<number>);
}

function defaultDtype(t: InMemoryTensor): string {
  if (t.dtype) return t.dtype;
  if (t.data instanceof Float64Array) return 'F64';
  return 'F32';
}

export class MemoryStore implements TensorStore {
  readonly source = 'in-memory tensors';
  readonly format = 'memory';
  readonly convention = 'statedict' as const;
  readonly defaultStartId = 1;
  private readonly entries: TensorEntry[] = [];
  private readonly byName = new Map<string, InMemoryTensor>();

  constructor(tensors: Iterable<InMemoryTensor>) {
    for (const t of tensors) this.add(t);
  }

  static async fromAsync(tensors: AsyncIterable<InMemoryTensor> | Iterable<InMemoryTensor>): Promise<MemoryStore> {
    const store = new MemoryStore([]);
    for await (const t of tensors) store.add(t);
    return store;
  }

  private add(t: InMemoryTensor): void {
    if (!t || typeof t.name !== 'string' || !isArray(t.shape) || t.data == null) {
      throw new WeightWatcherError(
        'E_USAGE',
        'in-memory tensors must be objects { name: string, shape: number[], data: typed array, dtype? }',
      );
    }
    const n = shapeSize(t.shape, `tensor "${t.name}"`);
    if (t.data.length !== n) {
      throw new WeightWatcherError(
        'E_SHAPE',
        `tensor "${t.name}": data has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${n}`,
        { tensor: t.name },
      );
    }
    const name = t.name.endsWith('.weight') || t.name.endsWith('.bias') ? t.name : `${t.name}.weight`;
    if (this.byName.has(name)) throw new WeightWatcherError('E_USAGE', `duplicate tensor name "${name}"`, { tensor: name });
    this.byName.set(name, t);
    this.entries.push({ name, dtype: defaultDtype(t), shape: [...t.shape] });
  }

  list(): readonly TensorEntry[] {
    return this.entries;
  }

  async read(name: string): Promise<Float32Array> {
    const t = this.byName.get(name);
    if (!t) throw new WeightWatcherError('E_NOT_FOUND', `no in-memory tensor named "${name}"`, { tensor: name });
    return toFloat32(t);
  }

  /** Half-float tensors are handed to the addon as they are (Float32Array data is used directly by read). */
  async readStored(name: string): Promise<StoredTensor | undefined> {
    const t = this.byName.get(name);
    if (!t) throw new WeightWatcherError('E_NOT_FOUND', `no in-memory tensor named "${name}"`, { tensor: name });
    const d = t.data;
    if (!(d instanceof Uint16Array) || (t.dtype !== 'F16' && t.dtype !== 'BF16')) return undefined;
    return storedTensor(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), t.dtype, d.length, `tensor "${t.name}"`);
  }

  async close(): Promise<void> {}
}
