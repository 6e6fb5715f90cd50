/**
 * The layers the research codes see (docs/recipes.md#layers): they walk a torch module tree and
 * keep every nn.Linear and nn.Conv2d. From a state dict that is: `P.weight` with 2 dims → a linear
 * layer at module path P (the matrix as stored, rows = first dim; HF GPT-2 Conv1D weights are
 * [in, out]), unless P names an embedding; `P.weight` with 4 dims → a conv2d [out, in, kh, kw].
 * Module order is the tree order of torch's named_modules() over the state dict inserted in
 * `order`; the decoder blocks are the prefix B with the most distinct integers in `B.<int>.…`.
 */
import type { TensorStore } from '../formats/types.js';
import { FLOAT_DTYPES } from '../formats/types.js';
import { WeightWatcherError } from '../shared/errors.js';

export type ModuleOrder = 'natural' | 'sorted' | 'header';
export type RecipeScope = 'auto' | 'blocks' | 'model';

export const EMBEDDING_REGEX =
  /(^|[._])(wte|wpe|embed_tokens|embed_positions|word_embeddings|position_embeddings|token_type_embeddings|tok_embeddings|shared)$/;

export interface RecipeModule {
  /** Module path (the tensor name without `.weight`). */
  readonly name: string;
  readonly tensor: string;
  readonly kind: 'linear' | 'conv2d';
  readonly shape: readonly number[];
  readonly dtype: string;
  /** Decoder-block index, when the model has blocks and the module is inside one. */
  readonly block?: number;
}

export interface Blocks {
  readonly prefix: string;
  readonly indices: readonly number[];
}

export interface ModuleList {
  /** Every linear/conv2d module, in module (named_modules) order. */
  readonly modules: readonly RecipeModule[];
  readonly blocks?: Blocks;
  /** Embedding weights left out. */
  readonly embeddings: readonly string[];
}

type Key = (string | number)[][];

/** Dot-separated parts compared with digit runs as integers (h.2 < h.10). */
function naturalKey(name: string): Key {
  return name.split('.').map((c) => c.split(/(\d+)/).map((p, i) => (i % 2 ? Number(p) : p)));
}

function cmpParts(a: (string | number)[], b: (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    // Python compares the tuples element-wise; positions alternate str/int identically for both.
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

function cmpNatural(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmpParts(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Code-point order, as Python compares str. */
function cmpString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Node {
  readonly children: Map<string, Node>;
  layer?: RecipeModule;
}

/** named_modules() order: depth-first over a tree whose children keep their first insertion order. */
function treeOrder(entries: readonly RecipeModule[]): RecipeModule[] {
  const root: Node = { children: new Map() };
  for (const e of entries) {
    let node = root;
    for (const c of e.name.split('.')) {
      let child = node.children.get(c);
      if (!child) node.children.set(c, (child = { children: new Map() }));
      node = child;
    }
    node.layer = e;
  }
  const out: RecipeModule[] = [];
  const walk = (n: Node): void => {
    if (n.layer) out.push(n.layer);
    for (const c of n.children.values()) walk(c);
  };
  walk(root);
  return out;
}

/** The prefix with the most distinct integers in `prefix.<int>.…` (first one on ties). */
export function findBlocks(names: readonly string[]): Blocks | undefined {
  const cand = new Map<string, Set<number>>();
  for (const name of names) {
    const comps = name.split('.');
    for (let k = 0; k < comps.length - 1; k++) {
      if (/^\d+$/.test(comps[k]!)) {
        const p = comps.slice(0, k).join('.');
        let s = cand.get(p);
        if (!s) cand.set(p, (s = new Set()));
        s.add(Number(comps[k]));
        break;
      }
    }
  }
  let best: string | undefined;
  for (const [p, s] of cand) if (best === undefined || s.size > cand.get(best)!.size) best = p;
  if (best === undefined) return undefined;
  return { prefix: best, indices: [...cand.get(best)!].sort((a, b) => a - b) };
}

function blockOf(name: string, blocks: Blocks | undefined): number | undefined {
  if (!blocks) return undefined;
  const pre = blocks.prefix ? `${blocks.prefix}.` : '';
  if (!name.startsWith(pre)) return undefined;
  const c = name.slice(pre.length).split('.')[0]!;
  return /^\d+$/.test(c) ? Number(c) : undefined;
}

/** The linear and conv2d modules of a state-dict store, in module order. */
export function listModules(store: TensorStore, order: ModuleOrder = 'natural'): ModuleList {
  if (store.convention !== 'statedict') {
    throw new WeightWatcherError(
      'E_UNSUPPORTED',
      `${store.source}: recipes read torch state dicts (safetensors, PyTorch checkpoints); this ${store.format} model names its layers differently`,
    );
  }
  const entries: RecipeModule[] = [];
  const embeddings: string[] = [];
  for (const t of store.list()) {
    if (!t.name.endsWith('.weight') || !FLOAT_DTYPES.has(t.dtype)) continue;
    const name = t.name.slice(0, -'.weight'.length);
    if (t.shape.length === 2) {
      if (EMBEDDING_REGEX.test(name)) {
        embeddings.push(name);
        continue;
      }
      entries.push({ name, tensor: t.name, kind: 'linear', shape: t.shape, dtype: t.dtype });
    } else if (t.shape.length === 4) {
      entries.push({ name, tensor: t.name, kind: 'conv2d', shape: t.shape, dtype: t.dtype });
    }
  }
  if (order === 'natural') {
    const keys = new Map(entries.map((e) => [e, naturalKey(e.name)]));
    entries.sort((a, b) => cmpNatural(keys.get(a)!, keys.get(b)!));
  } else if (order === 'sorted') {
    entries.sort((a, b) => cmpString(`${a.name}.weight`, `${b.name}.weight`));
  }
  const ordered = treeOrder(entries);
  const blocks = findBlocks(entries.map((m) => m.name));
  const modules = ordered.map((m) => {
    const b = blockOf(m.name, blocks);
    return b === undefined ? m : { ...m, block: b };
  });
  return { modules, ...(blocks ? { blocks } : {}), embeddings };
}

/**
 * The modules inside the decoder blocks, blocks in integer order (the nn.ModuleList the codes
 * receive), each block's modules in tree order.
 */
export function blockModules(list: ModuleList): RecipeModule[] {
  const blocks = list.blocks;
  if (!blocks) return [];
  const out: RecipeModule[] = [];
  for (const b of blocks.indices) for (const m of list.modules) if (m.block === b) out.push(m);
  return out;
}

/** The modules a recipe with a `scope` analyses: 'auto' = the blocks when there are blocks, else the model. */
export function scopedModules(list: ModuleList, scope: RecipeScope): { modules: RecipeModule[]; scope: 'blocks' | 'model' } {
  const s = scope === 'auto' ? (list.blocks ? 'blocks' : 'model') : scope;
  if (s === 'blocks') {
    if (!list.blocks) throw new WeightWatcherError('E_USAGE', 'scope "blocks": the model has no decoder blocks (PREFIX.<int>.…)');
    return { modules: blockModules(list), scope: 'blocks' };
  }
  return { modules: [...list.modules], scope: 'model' };
}
