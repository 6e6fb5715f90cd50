/** .npy bytes for tests: a header dict literal and raw data, padded like numpy does. */

export function npy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let text = header;
  while ((pre + text.length + 1) % 64) text += ' ';
  text += '\n';
  const out = new Uint8Array(pre + text.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, text.length, true);
  else dv.setUint32(8, text.length, true);
  out.set(new TextEncoder().encode(text), pre);
  out.set(data, pre + text.length);
  return out;
}

/** A little-endian float32 C-order array. */
export function npyF32(shape: readonly number[], data: Float32Array): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  return npy(
    `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`,
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
}
