/**
 * Small generated models in the file layouts of real hub repos, for the hub tests: GPT-shaped
 * (openai-community/openai-gpt) and GPT-2-shaped (openai-community/gpt2) safetensors with the other
 * files those repos hold (which an analysis must never download), and a hand-built Python-layout
 * cache (blobs + relative symlinks + refs).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { safetensorsBytes, type SafetensorsFixtureTensor } from './safetensors-writer.js';

/** Deterministic N(0, scale²)-ish values (Box–Muller over a 32-bit LCG). */
export function randn(n: number, seed: number, scale = 0.05): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(t) * scale;
  }
  return out;
}

/** A GPT-style (Conv1D [in, out]) transformer: `blocks` blocks of width `d`. */
export function gptTensors(blocks: number, d: number, seed: number, vocab = 96, ctx = 32): SafetensorsFixtureTensor[] {
  const t = (name: string, shape: number[], k: number): SafetensorsFixtureTensor => ({
    name,
    shape,
    data: randn(
      shape.reduce((a, b) => a * b, 1),
      seed * 1000 + k,
    ),
  });
  const out = [t('wte.weight', [vocab, d], 1), t('wpe.weight', [ctx, d], 2)];
  for (let b = 0; b < blocks; b++) {
    const k = 10 + b * 10;
    out.push(
      t(`h.${b}.attn.c_attn.weight`, [d, 3 * d], k),
      t(`h.${b}.attn.c_proj.weight`, [d, d], k + 1),
      t(`h.${b}.mlp.c_fc.weight`, [d, 4 * d], k + 2),
      t(`h.${b}.mlp.c_proj.weight`, [4 * d, d], k + 3),
      { name: `h.${b}.ln_1.weight`, shape: [d], data: new Float32Array(d).fill(1) },
    );
  }
  return out;
}

export function gptSafetensors(blocks: number, d: number, seed: number): Uint8Array {
  return safetensorsBytes(gptTensors(blocks, d, seed));
}

const text = (s: string) => new TextEncoder().encode(s);

/** The files of openai-community/openai-gpt (weights generated, the rest stand-ins). */
export function openaiGptRepo(): Record<string, Uint8Array> {
  return {
    '.gitattributes': text('*.safetensors filter=lfs\n'),
    'README.md': text('# openai-gpt (test stand-in)\n'),
    'config.json': text('{"model_type":"openai-gpt","n_layer":2,"n_embd":32}'),
    'generation_config.json': text('{}'),
    'merges.txt': text('#version: 0.2\n'),
    'model.safetensors': gptSafetensors(2, 32, 1),
    'pytorch_model.bin': new Uint8Array(4096).fill(7),
    'tf_model.h5': new Uint8Array(4096).fill(8),
    'tokenizer.json': text('{}'),
    'tokenizer_config.json': text('{}'),
    'vocab.json': text('{}'),
  };
}

/** The files of openai-community/gpt2 (weights generated, the rest stand-ins). */
export function gpt2Repo(): Record<string, Uint8Array> {
  return {
    '.gitattributes': text('*.safetensors filter=lfs\n'),
    '64-8bits.tflite': new Uint8Array(2048).fill(1),
    'README.md': text('# gpt2 (test stand-in)\n'),
    'config.json': text('{"model_type":"gpt2","n_layer":3,"n_embd":32}'),
    'flax_model.msgpack': new Uint8Array(2048).fill(2),
    'generation_config.json': text('{}'),
    'merges.txt': text('#version: 0.2\n'),
    'model.safetensors': gptSafetensors(3, 32, 2),
    'onnx/decoder_model.onnx': new Uint8Array(2048).fill(3),
    'pytorch_model.bin': new Uint8Array(4096).fill(4),
    'rust_model.ot': new Uint8Array(2048).fill(5),
    'tf_model.h5': new Uint8Array(4096).fill(6),
    'tokenizer.json': text('{}'),
    'vocab.json': text('{}'),
  };
}

/** A sharded safetensors repo: index + `shards` shards. */
export function shardedRepo(shards: number, seed = 3): Record<string, Uint8Array> {
  const tensors = gptTensors(shards, 32, seed);
  const per = Math.ceil(tensors.length / shards);
  const files: Record<string, Uint8Array> = { 'config.json': text('{}') };
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards; i++) {
    const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(i * per, (i + 1) * per);
    for (const t of part) weightMap[t.name] = name;
    files[name] = safetensorsBytes(part);
  }
  files['model.safetensors.index.json'] = text(JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return files;
}

/**
 * Write a cache repo as Python's huggingface_hub does: blobs named by sha256 (LFS-like names) or
 * git oid, relative symlinks in snapshots/<commit>, refs/<name> = commit.
 */
export function writePythonCache(
  cache: string,
  repo: string,
  commit: string,
  files: Record<string, Uint8Array>,
  refs: Record<string, string> = { main: commit },
): string {
  const repoDir = join(cache, ['models', ...repo.split('/')].join('--'));
  for (const [path, bytes] of Object.entries(files)) {
    const lfs = /\.(safetensors|bin|gguf)$/.test(path);
    const etag = lfs
      ? createHash('sha256').update(bytes).digest('hex')
      : createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
    const blob = join(repoDir, 'blobs', etag);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, bytes);
    const link = join(repoDir, 'snapshots', commit, ...path.split('/'));
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), blob), link);
  }
  for (const [name, c] of Object.entries(refs)) {
    mkdirSync(dirname(join(repoDir, 'refs', name)), { recursive: true });
    writeFileSync(join(repoDir, 'refs', name), c);
  }
  return repoDir;
}
