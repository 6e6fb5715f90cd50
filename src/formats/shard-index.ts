/**
 * Sharded checkpoints' `*.index.json` (`{"weight_map": {tensor: shard file}}`), for safetensors and
 * PyTorch alike. Order (R4): shard by shard in sorted shard-file order, keys in JSON order
 * within a shard. (JSON.parse moves integer-like keys first; state-dict keys never look like that.)
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { WeightWatcherError } from '../shared/errors.js';

const MAX_INDEX_BYTES = 64 * 1024 * 1024;

export interface ShardPlan {
  readonly file: string;
  readonly keys: readonly string[];
}

export async function readShardIndex(dir: string, indexName: string): Promise<ShardPlan[]> {
  const path = join(dir, indexName);
  const fail = (code: 'E_FORMAT' | 'E_UNSAFE' | 'E_UNSUPPORTED', msg: string): never => {
    throw new WeightWatcherError(code, `${path}: ${msg}`, { file: path });
  };
  const st = await stat(path);
  if (st.size > MAX_INDEX_BYTES) fail('E_UNSUPPORTED', `index of ${st.size} bytes is too large`);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new WeightWatcherError('E_FORMAT', `${path}: invalid JSON (${(cause as Error).message})`, { file: path, cause });
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail('E_FORMAT', 'has no "weight_map" object');
  const byShard = new Map<string, string[]>();
  for (const [key, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string') fail('E_FORMAT', `weight_map entry ${key} is not a file name`);
    const name = shard as string;
    if (name !== basename(name) || name === '.' || name === '..' || name.includes('\\')) {
      fail('E_UNSAFE', `weight_map entry ${key} points outside the directory (${JSON.stringify(name)})`);
    }
    const list = byShard.get(name) ?? [];
    list.push(key);
    byShard.set(name, list);
  }
  return [...byShard.keys()].sort().map((file) => ({ file, keys: byShard.get(file)! }));
}
