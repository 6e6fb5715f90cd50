/** A tiny protobuf encoder for tests, to build ONNX models field by field. */

export type Bytes = Uint8Array | number[];

export function cat(...parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}

export const tag = (field: number, wire: number): number[] => varint(field * 8 + wire);
export const vint = (field: number, v: number | bigint): Uint8Array => cat(tag(field, 0), varint(v));
export const len = (field: number, payload: Bytes): Uint8Array => cat(tag(field, 2), varint(payload.length), payload);
export const str = (field: number, s: string): Uint8Array => len(field, new TextEncoder().encode(s));
export const f32bytes = (values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
export const f64bytes = (values: number[]): Uint8Array => new Uint8Array(new Float64Array(values).buffer);

export interface TensorSpec {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Uint8Array;
  floats?: number[];
  floatsUnpacked?: number[];
  int32?: number[];
  int64?: (number | bigint)[];
  uint64?: (number | bigint)[];
  doubles?: number[];
  packedDims?: boolean;
  external?: Record<string, string>;
}

export function tensor(t: TensorSpec): Uint8Array {
  const parts: Bytes[] = [];
  if (t.packedDims) parts.push(len(1, t.dims.flatMap(varint)));
  else for (const d of t.dims) parts.push(vint(1, d));
  parts.push(vint(2, t.dataType));
  if (t.floats) parts.push(len(4, f32bytes(t.floats)));
  if (t.floatsUnpacked) for (const v of t.floatsUnpacked) parts.push(cat(tag(4, 5), f32bytes([v])));
  if (t.int32) parts.push(len(5, t.int32.flatMap(varint)));
  if (t.int64) for (const v of t.int64) parts.push(vint(7, v));
  parts.push(str(8, t.name));
  if (t.raw) parts.push(len(9, t.raw));
  if (t.doubles) parts.push(len(10, f64bytes(t.doubles)));
  if (t.uint64) parts.push(len(11, t.uint64.flatMap(varint)));
  if (t.external) {
    for (const [k, v] of Object.entries(t.external)) parts.push(len(13, cat(str(1, k), str(2, v))));
    parts.push(vint(14, 1));
  }
  return cat(...parts);
}

export const attr = (name: string, body: { t?: Uint8Array; g?: Uint8Array }): Uint8Array =>
  cat(str(1, name), body.t ? len(5, body.t) : [], body.g ? len(6, body.g) : []);

export const node = (op: string, outputs: string[], attrs: Uint8Array[] = []): Uint8Array =>
  cat(...outputs.map((o) => str(2, o)), str(3, `${op}_node`), str(4, op), ...attrs.map((a) => len(5, a)));

export const graph = (nodes: Uint8Array[], initializers: Uint8Array[]): Uint8Array =>
  cat(...nodes.map((n) => len(1, n)), str(2, 'g'), ...initializers.map((t) => len(5, t)));

export const model = (g: Uint8Array): Uint8Array => cat(vint(1, 8), str(2, 'test'), len(7, g), len(8, cat(str(1, ''), vint(2, 14))));
