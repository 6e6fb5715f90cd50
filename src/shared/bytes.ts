/**
 * Element-layout helpers for raw tensor bytes (byte swap, strided views), used by the NumPy and
 * PyTorch readers. Shapes and strides are validated by the callers before these run.
 */

/** Reverse the bytes of every `elementSize`-byte element, turning big-endian data little-endian. */
export function byteswapInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize <= 1) return;
  for (let i = 0; i + elementSize <= bytes.length; i += elementSize) {
    for (let a = i, b = i + elementSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Number of elements from the first to the last one a strided view touches (0 for an empty view):
 * the storage a view needs, used to validate it before reading.
 */
export function stridedExtent(shape: readonly number[], strides: readonly number[]): number {
  let last = 0;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return 0;
    last += (shape[d]! - 1) * strides[d]!;
  }
  return last + 1;
}

/** True when element strides are those of a C-ordered array of this shape (size-1 dims ignored). */
export function isRowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/**
 * Copy a strided view (strides in elements, starting at element 0 of `src`) into a new C-ordered
 * buffer. Callers validate the view against `src` with stridedExtent first.
 */
export function gatherStrided(src: Uint8Array, elementSize: number, shape: readonly number[], strides: readonly number[]): Uint8Array {
  let count = 1;
  for (const d of shape) count *= d;
  const out = new Uint8Array(count * elementSize);
  if (count === 0) return out;
  const rank = shape.length;
  if (rank === 0) {
    out.set(src.subarray(0, elementSize));
    return out;
  }
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const rowBytes = inner * elementSize;
  const index = new Array<number>(rank - 1).fill(0);
  let base = 0; // element offset of the current row
  for (let o = 0; o < out.length; o += rowBytes) {
    if (innerStride === 1) {
      out.set(src.subarray(base * elementSize, base * elementSize + rowBytes), o);
    } else {
      for (let j = 0; j < inner; j++) {
        const s = (base + j * innerStride) * elementSize;
        for (let b = 0; b < elementSize; b++) out[o + j * elementSize + b] = src[s + b]!;
      }
    }
    // Odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      base += strides[d]!;
      if (++index[d]! < shape[d]!) break;
      base -= strides[d]! * shape[d]!;
      index[d] = 0;
    }
  }
  return out;
}
