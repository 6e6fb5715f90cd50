/**
 * Write a copy of a safetensors file in which some tensors get new data of the same dtype and
 * shape. Sizes do not change, so the header (with `__metadata__`) and every untouched tensor are
 * copied byte for byte and the replaced tensors land at their original offsets. One tensor is in
 * memory at a time; bytes move by positioned reads and writes.
 */
import { open } from 'node:fs/promises';
import { WeightWatcherError } from '../shared/errors.js';
import type { SafetensorsFile, SafetensorsTensor } from './safetensors.js';

/** New bytes for a tensor (exactly its byteLength, in its stored dtype), or undefined to copy it. */
export type TensorRewrite = (tensor: SafetensorsTensor) => Promise<Uint8Array | undefined>;

const COPY_CHUNK = 16 * 1024 * 1024;

/** Write `src` to `path` (a new file), with the tensors `rewrite` returns bytes for replaced. Returns their names. */
export async function rewriteSafetensors(src: SafetensorsFile, path: string, rewrite: TensorRewrite): Promise<string[]> {
  const out = await open(path, 'wx');
  const replaced: string[] = [];
  try {
    const write = async (bytes: Uint8Array, at: number) => {
      let done = 0;
      while (done < bytes.length) done += (await out.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
    };
    const copy = async (from: number, to: number) => {
      for (let at = from; at < to; at += COPY_CHUNK) {
        const n = Math.min(COPY_CHUNK, to - at);
        await write(await src.readRange(at, n, 'bytes to copy'), at);
      }
    };
    const tensors = [...src.tensors.values()].sort((a, b) => a.begin - b.begin);
    let cursor = 0;
    for (const t of tensors) {
      if (t.begin < cursor)
        throw new WeightWatcherError('E_CORRUPT', `${src.path}: tensor "${t.name}" overlaps the previous tensor's data`, {
          file: src.path,
          tensor: t.name,
        });
      await copy(cursor, t.begin); // header, or padding between tensors
      const bytes = await rewrite(t);
      if (bytes === undefined) await copy(t.begin, t.begin + t.byteLength);
      else {
        if (bytes.byteLength !== t.byteLength) {
          throw new WeightWatcherError(
            'E_INTERNAL',
            `${src.path}: new data for tensor "${t.name}" has ${bytes.byteLength} bytes, the tensor ${t.byteLength}`,
            { file: src.path, tensor: t.name },
          );
        }
        await write(bytes, t.begin);
        replaced.push(t.name);
      }
      cursor = t.begin + t.byteLength;
    }
    await copy(cursor, src.size);
    await out.sync();
  } finally {
    await out.close();
  }
  return replaced;
}
