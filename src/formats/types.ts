/**
 * The contract between model-file readers and the analysis engine.
 *
 * A reader turns files into a TensorStore: a lazily-read, ordered list of named tensors. The engine
 * never sees file formats; it enumerates layers from `list()` following the store's `convention`
 * (how the reference WeightWatcher numbers and classifies layers for that kind of source) and reads
 * one tensor at a time with `read()`.
 */

/** Storage dtypes a reader may report. Readers decode every supported dtype to float32 in `read`. */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'U64' | 'BOOL' | (string & {}); // format-specific names (e.g. GGUF 'Q4_K') are passed through

/** Float dtypes the engine accepts as layer weights. */
export const FLOAT_DTYPES: ReadonlySet<string> = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Dtypes that never hold layer weights (integers, booleans, strings, complex); quantized float types are not here. */
export const NON_FLOAT_DTYPES: ReadonlySet<string> = new Set([
  'I4',
  'I8',
  'I16',
  'I32',
  'I64',
  'U4',
  'U8',
  'U16',
  'U32',
  'U64',
  'BOOL',
  'STRING',
  'C64',
  'C128',
]);

export interface TensorEntry {
  /** Key as stored (state-dict key, ONNX initializer name, …). */
  readonly name: string;
  readonly dtype: DType;
  /** Row-major (C order) logical shape. */
  readonly shape: readonly number[];
  /** A readable name for the `longname` column when the stored one is cryptic (GGUF's blk.N.attn_q). */
  readonly readableName?: string;
}

/**
 * How the reference enumerates layers for this source (R10, R13):
 * - 'statedict': ids over keys ending in `.weight`, name = key minus `.weight`, type from rank
 *   (2 → dense, 4 → conv2d [out,in,kh,kw], first dim < 2 → unknown), bias = `<name>.bias`.
 * - 'onnx': every tensor gets an id (its index), name = tensor name, rank 4 → conv2d, 2 → dense.
 * - 'keras': tensors are Keras kernels (Dense [in,out], Conv2D [kh,kw,in,out]: channels FIRST).
 */
export type LayerConvention = 'statedict' | 'onnx' | 'keras';

/** A tensor's bytes as stored, little-endian row-major, in a dtype the native addon converts itself. */
export interface StoredTensor {
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly bytes: Uint8Array;
}

export interface TensorStore {
  /** Human-readable source, used in messages (a path, or a list of shard paths). */
  readonly source: string;
  /** Short format name: 'safetensors', 'pytorch', 'onnx', 'gguf', 'tfjs', 'keras', 'npy', 'npz', 'memory'. */
  readonly format: string;
  readonly convention: LayerConvention;
  /**
   * First layer id when start_ids is 0. The reference numbers in-memory state dicts from 1 and
   * files/folders from 0 (Q4); undefined means 0.
   */
  readonly defaultStartId?: number;
  /**
   * Weight tensors the store found but does not list with the current options (ONNX Constant-node
   * values without onnx_constants), so an empty analysis can say how to reach them.
   */
  readonly hiddenTensors?: { readonly count: number; readonly option: 'onnx_constants' };
  /** All tensors in the order the reference iterates them. Cheap: headers only. */
  list(): readonly TensorEntry[];
  /**
   * Decode one tensor to float32 (row-major), reading only its bytes from disk.
   * Throws WeightWatcherError (E_UNSUPPORTED for a dtype it cannot decode, E_CORRUPT for bad data).
   */
  read(name: string): Promise<Float32Array>;
  /**
   * Optional: the tensor's stored bytes, without decoding, when they are little-endian F32, F16 or
   * BF16 in row-major order; undefined otherwise (then use `read`). The engine hands them to the
   * native addon, which converts them to float64 off the main thread, with the same values `read`
   * gives (half floats widen exactly). Validation and errors as for `read`.
   */
  readStored?(name: string): Promise<StoredTensor | undefined>;
  /** Release file handles. Idempotent. */
  close(): Promise<void>;
}
