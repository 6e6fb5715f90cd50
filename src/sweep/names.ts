/**
 * Display names of a sweep's models: the shortest part of their paths that tells them apart
 * (`init`, `small-data`, `checkpoint-500`). The folders every path shares are dropped, and so are the
 * trailing components they all end with (`ckpt-1/model.safetensors`, `ckpt-2/model.safetensors` →
 * `ckpt-1`, `ckpt-2`). An extension is dropped only where that keeps the names apart: `model.gguf`
 * and `model.bin` stay `model.gguf` and `model.bin` (numbering them `model#3`, `model#4` would hide
 * which is which). Paths with no folder in common keep their leading `/`.
 */
import { basename, extname, resolve, sep } from 'node:path';

function stripExt(name: string): string {
  const e = extname(name);
  return e && e !== name ? basename(name, e) : name;
}

/** One name per path (absolute, or relative to the working folder), unique when the paths are. */
export function modelDisplayNames(paths: readonly string[]): string[] {
  const parts = paths.map((p) => resolve(p).split(sep).filter(Boolean));
  if (parts.length === 1) return [stripExt(parts[0]![parts[0]!.length - 1] ?? resolve(paths[0]!))];
  if (!parts.length) return [];
  const first = parts[0]!;
  let head = 0;
  while (parts.every((p) => head < p.length - 1 && p[head] === first[head])) head++;
  let tail = 0;
  while (parts.every((p) => tail < p.length - head - 1 && p[p.length - 1 - tail] === first[first.length - 1 - tail])) tail++;
  const mids = parts.map((p) => {
    const mid = p.slice(head, p.length - tail);
    return mid.length ? mid : [p[p.length - 1] ?? ''];
  });
  // The last component is the model's own file or folder only when no common tail was cut.
  const withExt = mids.map((m) => (head === 0 ? '/' : '') + m.join('/'));
  const withoutExt = mids.map((m, i) => {
    if (tail !== 0) return withExt[i]!;
    const last = m.length - 1;
    return (head === 0 ? '/' : '') + m.map((c, j) => (j === last ? stripExt(c) : c)).join('/');
  });
  const count = (names: string[]) => {
    const n = new Map<string, number>();
    for (const x of names) n.set(x, (n.get(x) ?? 0) + 1);
    return n;
  };
  const stripped = count(withoutExt);
  const names = withoutExt.map((n, i) => (stripped.get(n)! > 1 ? withExt[i]! : n));
  // Still the same (two spellings of one path): the full path says which is which.
  const final = count(names);
  return names.map((n, i) => (final.get(n)! > 1 ? resolve(paths[i]!) : n));
}
