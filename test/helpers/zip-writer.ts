/**
 * A minimal zip writer for fixtures (CRCs left 0: the reader does not check them). Entries are
 * stored unless `deflate` is set. With `zip64`, every size and offset goes through ZIP64 extra
 * fields and end records, as torch writes big files.
 */
import { deflateRawSync } from 'node:zlib';

export interface ZipFixtureEntry {
  readonly name: string;
  readonly data: Uint8Array;
  readonly deflate?: boolean;
}

export function zipBytes(entries: readonly ZipFixtureEntry[], zip64 = false): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  const SAT = 0xffffffff;
  let offset = 0;
  for (const { name, data, deflate } of entries) {
    const n = enc.encode(name);
    const body = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const method = deflate ? 8 : 0;
    const lh = new Uint8Array(30);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    const ch = new Uint8Array(46);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(10, method, true);
    cv.setUint32(20, zip64 ? SAT : body.length, true);
    cv.setUint32(24, zip64 ? SAT : data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, zip64 ? SAT : offset, true);
    const extra = new Uint8Array(zip64 ? 28 : 0);
    if (zip64) {
      const xv = new DataView(extra.buffer);
      xv.setUint16(0, 1, true);
      xv.setUint16(2, 24, true);
      xv.setBigUint64(4, BigInt(data.length), true);
      xv.setBigUint64(12, BigInt(body.length), true);
      xv.setBigUint64(20, BigInt(offset), true);
      cv.setUint16(30, extra.length, true);
    }
    parts.push(lh, n, body);
    centrals.push(ch, n, extra);
    offset += 30 + n.length + body.length;
  }
  const cdSize = centrals.reduce((s, c) => s + c.length, 0);
  const tail: Uint8Array[] = [];
  if (zip64) {
    const z = new Uint8Array(56);
    const zv = new DataView(z.buffer);
    zv.setUint32(0, 0x06064b50, true);
    zv.setBigUint64(4, 44n, true);
    zv.setUint16(12, 45, true);
    zv.setUint16(14, 45, true);
    zv.setBigUint64(24, BigInt(entries.length), true);
    zv.setBigUint64(32, BigInt(entries.length), true);
    zv.setBigUint64(40, BigInt(cdSize), true);
    zv.setBigUint64(48, BigInt(offset), true);
    const loc = new Uint8Array(20);
    const locv = new DataView(loc.buffer);
    locv.setUint32(0, 0x07064b50, true);
    locv.setBigUint64(8, BigInt(offset + cdSize), true);
    locv.setUint32(16, 1, true);
    tail.push(z, loc);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, zip64 ? 0xffff : entries.length, true);
  ev.setUint16(10, zip64 ? 0xffff : entries.length, true);
  ev.setUint32(12, zip64 ? SAT : cdSize, true);
  ev.setUint32(16, zip64 ? SAT : offset, true);
  const all = [...parts, ...centrals, ...tail, eocd];
  const out = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
