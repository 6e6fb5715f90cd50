/**
 * The models of a sweep from its arguments: files, folders and globs. A folder that is one model
 * (a Hugging Face folder, a folder with one weight file) is that model; a folder that is not, but
 * holds model folders or model files (a folder of checkpoint folders, a zoo of files), is expanded
 * to them, in natural name order; so is a model folder with checkpoint sub-folders (names with a
 * step, e.g. a trainer's output folder with `checkpoint-500/`, `checkpoint-1000/`). Globs (`*`, `?`, `[…]`, `**`) are expanded here too, so
 * quoted patterns work the same on every shell.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { openModel } from '../formats/open.js';
import { WeightWatcherError, errorMessage, isWeightWatcherError } from '../shared/errors.js';
import { compareNatural, DEFAULT_STEP_PATTERN, parseStep } from './steps.js';

export interface ModelInput {
  /** Absolute path: what is fingerprinted, analysed and handed to workers. */
  readonly path: string;
  /** Display name: the argument as given, or `<folder>/<child>` for an expanded folder. */
  readonly label: string;
}

export interface ExpandResult {
  readonly models: ModelInput[];
  /** Things the user should know (a folder that also holds a top-level model, …). */
  readonly notes: string[];
}

const GLOB_CHARS = /[*?[]/;

function globSegmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 1);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function children(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort(compareNatural);
  } catch {
    return [];
  }
}

/** Paths matching a glob pattern (absolute or relative to cwd), in natural order. */
export async function expandGlob(pattern: string, cwd = process.cwd()): Promise<string[]> {
  const abs = isAbsolute(pattern);
  const segs = pattern.split(/[\\/]+/).filter((s, i) => s !== '' || i === 0);
  let bases = [abs ? sep : cwd];
  const start = abs ? 1 : 0;
  for (let i = start; i < segs.length; i++) {
    const seg = segs[i]!;
    const next: string[] = [];
    if (seg === '**') {
      // Zero or more folders. Symlinked folders are followed, but each real folder is visited once:
      // a link back up the tree (a cycle) would otherwise expand forever.
      const visited = new Set<string>();
      const stack = [...bases].reverse();
      while (stack.length) {
        const b = stack.pop()!;
        const real = await realpath(b).catch(() => b);
        if (visited.has(real)) continue;
        visited.add(real);
        next.push(b);
        const subdirs: string[] = [];
        for (const c of await children(b)) if (!c.startsWith('.') && (await isDir(join(b, c)))) subdirs.push(join(b, c));
        for (let j = subdirs.length - 1; j >= 0; j--) stack.push(subdirs[j]!);
      }
    } else if (!GLOB_CHARS.test(seg)) {
      for (const b of bases) next.push(join(b, seg));
    } else {
      const re = globSegmentRegex(seg);
      for (const b of bases)
        for (const c of await children(b)) if (re.test(c) && (seg.startsWith('.') || !c.startsWith('.'))) next.push(join(b, c));
    }
    bases = [...new Set(next)];
  }
  const existing: string[] = [];
  for (const b of bases)
    if (
      await stat(b).then(
        () => true,
        () => false,
      )
    )
      existing.push(b);
  return existing.sort(compareNatural);
}

/** Why a named path cannot be used, in words (a symlink loop is not "no such file"). */
function unusablePath(arg: string, e: NodeJS.ErrnoException): WeightWatcherError {
  if (e.code === 'ELOOP')
    return new WeightWatcherError('E_IO', `${arg}: a loop of symbolic links (it never reaches a file)`, { file: arg });
  if (e.code === 'EACCES' || e.code === 'EPERM')
    return new WeightWatcherError('E_IO', `${arg}: permission denied (cannot read it or a folder on its path)`, { file: arg });
  return new WeightWatcherError('E_NOT_FOUND', `${arg}: no such file or folder`, { file: arg });
}

/** True when the path opens as a model (headers only). */
async function opensAsModel(path: string): Promise<{ ok: boolean; error?: unknown }> {
  try {
    const store = await openModel(path);
    await store.close();
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e };
  }
}

function displayPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** Models inside a folder that is not itself one model: model sub-folders and model files. */
async function folderMembers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const c of await children(dir)) {
    if (c.startsWith('.')) continue;
    const p = join(dir, c);
    if ((await opensAsModel(p)).ok) out.push(p);
  }
  return out;
}

async function modelSubfolders(dir: string, nameFilter: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const c of await children(dir)) {
    const p = join(dir, c);
    if (!c.startsWith('.') && nameFilter(c) && (await isDir(p)) && (await opensAsModel(p)).ok) out.push(p);
  }
  return out;
}

/**
 * Expand sweep arguments to models. Fails with E_NOT_FOUND for an argument that matches nothing and
 * E_FORMAT for a path that holds no model, naming it; the same model named twice is kept once.
 */
export async function expandModels(args: readonly string[], opts: { cwd?: string; stepPattern?: RegExp } = {}): Promise<ExpandResult> {
  const cwd = opts.cwd ?? process.cwd();
  const stepPattern = opts.stepPattern ?? DEFAULT_STEP_PATTERN;
  const models: ModelInput[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  const add = (path: string, label: string) => {
    if (seen.has(path)) {
      notes.push(`${label}: named more than once; analysed once`);
      return;
    }
    seen.add(path);
    models.push({ path, label });
  };
  for (const arg of args) {
    const matches = GLOB_CHARS.test(arg) ? await expandGlob(arg, cwd) : [resolve(cwd, arg)];
    if (GLOB_CHARS.test(arg) && !matches.length)
      throw new WeightWatcherError('E_NOT_FOUND', `${arg}: the pattern matches no file or folder`, { file: arg });
    for (const abs of matches) {
      const label = GLOB_CHARS.test(arg) ? displayPath(abs, cwd) : arg;
      const missing = await stat(abs).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      if (missing) throw unusablePath(arg, missing);
      // A file named (or matched) is a model: if it cannot be read, its run fails with the reader's
      // error and the sweep goes on with the others.
      if (!(await isDir(abs))) {
        add(abs, label);
        continue;
      }
      const self = await opensAsModel(abs);
      if (self.ok) {
        // A training run's output folder holds the final model and its checkpoint-N folders: sweep
        // the checkpoints. Other model sub-folders (e.g. a `sharded/` copy) do not make it a zoo.
        const checkpoints = await modelSubfolders(abs, (name) => parseStep(name, stepPattern) !== undefined);
        if (!checkpoints.length) {
          add(abs, label);
          continue;
        }
        notes.push(
          `${label}: holds ${checkpoints.length} checkpoint folders and a model at its top level; sweeping the checkpoints (name the top-level weight file to include it)`,
        );
        for (const p of checkpoints) add(p, join(label, basename(p)));
        continue;
      }
      const members = await folderMembers(abs);
      if (members.length) {
        for (const p of members) add(p, join(label, basename(p)));
        continue;
      }
      // Neither a model nor a folder of models: kept as a model whose run fails with the reader's
      // error (e.g. a checkpoint folder with a damaged weight file), unless it holds no file at all.
      if (!(await readdir(abs, { withFileTypes: true })).some((d) => d.isFile())) {
        const why = isWeightWatcherError(self.error) ? self.error.message : errorMessage(self.error);
        throw new WeightWatcherError('E_FORMAT', `${label}: not a model and holds no model files or model folders (${why})`, { file: abs });
      }
      add(abs, label);
    }
  }
  return { models, notes };
}
