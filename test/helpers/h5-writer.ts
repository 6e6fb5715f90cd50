/**
 * HDF5 fixtures written with h5wasm in the test process: an ordinary, unsandboxed libhdf5, which
 * also serves to show what a reader without the sandbox would do with a hostile file.
 */
import * as h5wasm from 'h5wasm/node';

export { h5wasm };

/** Write an HDF5 file at `path` (absolute). */
export async function writeH5(path: string, build: (f: h5wasm.File) => void): Promise<string> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  try {
    build(f);
  } finally {
    f.close();
  }
  return path;
}

/** A dataset's values as plain libhdf5 returns them (following links and external storage). */
export async function plainRead(path: string, dataset: string): Promise<number[]> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'r');
  try {
    return Array.from((f.get(dataset) as h5wasm.Dataset).value as Float32Array);
  } finally {
    f.close();
  }
}

/** Create nested groups one level at a time (h5wasm does not create intermediate groups). */
export function group(f: h5wasm.File, path: string): h5wasm.Group {
  let g: h5wasm.Group = f;
  for (const part of path.split('/')) g = (g.keys().includes(part) ? g.get(part) : g.create_group(part)) as h5wasm.Group;
  return g;
}
