/**
 * Which files of a repo an analysis needs (issue 19): the safetensors index and its shards, else
 * `model.safetensors`, else the PyTorch `.bin` files; adapter files with peft; for GGUF repos the
 * file named with `file` (or the only one). Never the whole repo. Only files at the repo's root
 * count unless `file` names one deeper.
 */
import { WeightWatcherError } from '../shared/errors.js';

export interface Selection {
  /** Files to fetch first (indexes); their content says which shards follow. */
  readonly indexes: readonly string[];
  /** Files known now to be needed (besides the shards an index will name). */
  readonly files: readonly string[];
  /** What to open: '' for the snapshot folder, else a file in it. */
  readonly open: string;
  readonly format: string;
}

export interface SelectOptions {
  readonly peft?: boolean;
  /** A file in the repo (--file, or the path of hf://org/name/path). */
  readonly file?: string;
}

const root = (f: string) => !f.includes('/');

/** The repo's files in a message: the first 20. */
export function listForMessage(files: readonly string[]): string {
  return files.length ? `${files.slice(0, 20).join(', ')}${files.length > 20 ? `, … (${files.length} files)` : ''}` : 'no files at all';
}

export function selectFiles(all: readonly string[], label: string, o: SelectOptions = {}): Selection {
  const has = new Set(all);
  if (o.file !== undefined) {
    if (!has.has(o.file))
      throw new WeightWatcherError('E_NOT_FOUND', `${label}: the repo has no file ${o.file} (it has ${listForMessage(all)})`);
    const companions = o.peft && has.has('adapter_config.json') ? ['adapter_config.json'] : [];
    return { indexes: [], files: [...companions, o.file], open: o.file, format: 'file' };
  }
  const top = all.filter(root);
  if (o.peft) {
    const config = has.has('adapter_config.json') ? ['adapter_config.json'] : [];
    if (has.has('adapter_model.safetensors'))
      return { indexes: [], files: [...config, 'adapter_model.safetensors'], open: '', format: 'safetensors (adapter)' };
    if (has.has('adapter_model.bin'))
      return { indexes: [], files: [...config, 'adapter_model.bin'], open: '', format: 'pytorch (adapter)' };
    throw new WeightWatcherError(
      'E_NOT_FOUND',
      `${label}: no adapter weights (adapter_model.safetensors or adapter_model.bin) for --peft; the repo has ${listForMessage(all)}`,
    );
  }
  if (has.has('model.safetensors.index.json'))
    return { indexes: ['model.safetensors.index.json'], files: [], open: '', format: 'safetensors (sharded)' };
  if (has.has('model.safetensors')) return { indexes: [], files: ['model.safetensors'], open: 'model.safetensors', format: 'safetensors' };
  const st = top.filter((f) => f.endsWith('.safetensors'));
  if (st.length === 1) return { indexes: [], files: st, open: st[0]!, format: 'safetensors' };
  if (has.has('pytorch_model.bin.index.json'))
    return { indexes: ['pytorch_model.bin.index.json'], files: [], open: '', format: 'pytorch (sharded)' };
  if (has.has('pytorch_model.bin')) return { indexes: [], files: ['pytorch_model.bin'], open: 'pytorch_model.bin', format: 'pytorch' };
  const gguf = all.filter((f) => f.toLowerCase().endsWith('.gguf'));
  if (gguf.length === 1) return { indexes: [], files: gguf, open: gguf[0]!, format: 'gguf' };
  if (gguf.length > 1)
    throw new WeightWatcherError(
      'E_USAGE',
      `${label}: the repo holds ${gguf.length} GGUF files; choose one with --file (${listForMessage(gguf)})`,
    );
  if (st.length > 1)
    throw new WeightWatcherError(
      'E_USAGE',
      `${label}: several safetensors files and no index; choose one with --file (${listForMessage(st)})`,
    );
  throw new WeightWatcherError(
    'E_NOT_FOUND',
    `${label}: the repo has no weight files (model.safetensors, a safetensors index, pytorch_model.bin or .gguf); it has ${listForMessage(all)}`,
  );
}

/** The shard files a safetensors/PyTorch index names (each a plain file name next to it). */
export function shardsOfIndex(json: string, indexPath: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new WeightWatcherError('E_FORMAT', `${indexPath}: invalid JSON (${(e as Error).message})`, { file: indexPath });
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new WeightWatcherError('E_FORMAT', `${indexPath}: has no "weight_map" object`, { file: indexPath });
  const files = new Set<string>();
  for (const v of Object.values(map as Record<string, unknown>)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v === '.' || v === '..' || v === '')
      throw new WeightWatcherError('E_UNSAFE', `${indexPath}: weight_map names ${JSON.stringify(v)}, not a file next to the index`, {
        file: indexPath,
      });
    files.add(v);
  }
  return [...files].sort();
}

/** The tensor order of an index, as formats/shard-index.ts reads it from disk (R4): shard by shard in sorted shard order, keys in JSON order. */
export function indexOrder(json: string, indexPath: string): string[] {
  const shards = shardsOfIndex(json, indexPath);
  const map = (JSON.parse(json) as { weight_map: Record<string, string> }).weight_map;
  const byShard = new Map<string, string[]>(shards.map((s) => [s, []]));
  for (const [k, v] of Object.entries(map)) byShard.get(v)!.push(k);
  return shards.flatMap((s) => byShard.get(s)!);
}
