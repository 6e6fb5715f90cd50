/**
 * Output paths are checked before any work, so a typo costs a second, not an analysis: the parent
 * folder exists and accepts new files, a file output is not a folder and a folder output is not a
 * file, no output lands on the input model or one of its files, two outputs do not share a path,
 * and stdout ('-') takes at most one of them. A bad path is a usage error naming the flag and path.
 */
import { randomBytes } from 'node:crypto';
import { open, mkdir, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Stats } from 'node:fs';
import { modelFiles } from '../formats/open.js';
import { usageError } from './args.js';

export interface OutputTarget {
  /** The flag, as the user typed it: '--json'. */
  readonly flag: string;
  readonly path: string;
  /** 'file': one file; 'folder': a folder of files (created if missing). */
  readonly kind: 'file' | 'folder';
  /** '-' writes to stdout. */
  readonly stdout?: boolean;
  /** Other files written next to `path` (compare --plot writes both FILE.png and FILE.svg). */
  readonly siblings?: readonly string[];
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/** Create and remove a probe file in `dir`: the only reliable "can I write here" (root passes access(), /proc refuses). */
async function probeFile(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.ww-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const h = await open(probe, 'wx');
    await h.close();
    await unlink(probe);
    return undefined;
  } catch (e) {
    return errno(e);
  }
}

async function probeFolder(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.ww-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return undefined;
  } catch (e) {
    return errno(e);
  }
}

/** The same file: same real path, or same device and inode (hard links). */
async function sameFile(a: string, aStat: Stats, b: string): Promise<boolean> {
  const bStat = await statOrUndefined(b);
  if (!bStat) return resolve(a) === resolve(b);
  if (aStat.dev === bStat.dev && aStat.ino === bStat.ino) return true;
  return (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));
}

async function checkFile(
  flag: string,
  path: string,
  protectedFiles: readonly { file: string; input: string; whole: boolean }[],
  newFolders: ReadonlySet<string>,
): Promise<void> {
  const fail = (why: string) => usageError(`${flag} ${path}: ${why}`);
  const target = resolve(path);
  const st = await statOrUndefined(target);
  if (st?.isDirectory()) throw fail('is a folder; give a file name');
  if (st) {
    for (const p of protectedFiles) {
      if (await sameFile(target, st, p.file))
        throw fail(
          p.whole ? 'is the input model; choose another file name' : `is a file of the input model ${p.input}; choose another file name`,
        );
    }
  }
  const parent = dirname(target);
  const pst = await statOrUndefined(parent);
  if (!pst && newFolders.has(parent)) return; // inside a --plot folder this run creates (checked as a folder)
  if (!pst) throw fail(`folder ${dirname(path)} does not exist`);
  if (!pst.isDirectory()) throw fail(`${dirname(path)} is not a folder`);
  const refused = await probeFile(parent);
  if (refused) throw fail(`cannot create files in ${dirname(path)} (${refused})`);
}

async function checkFolder(flag: string, path: string): Promise<void> {
  const fail = (why: string) => usageError(`${flag} ${path}: ${why}`);
  const target = resolve(path);
  const st = await statOrUndefined(target);
  if (st && !st.isDirectory()) throw fail('is a file, not a folder');
  if (st) {
    const refused = await probeFile(target);
    if (refused) throw fail(`cannot create files in it (${refused})`);
    return;
  }
  // Missing: the nearest existing ancestor must be a folder that accepts new folders.
  let at = dirname(target);
  let ast = await statOrUndefined(at);
  while (!ast && dirname(at) !== at) {
    at = dirname(at);
    ast = await statOrUndefined(at);
  }
  if (!ast?.isDirectory()) throw fail(`cannot create a folder there (${at} is not a folder)`);
  const refused = await probeFolder(at);
  if (refused) throw fail(`cannot create a folder in ${at} (${refused})`);
}

/**
 * Check every output before the run. `inputs` are the model paths the command reads (files or
 * folders); outputs may not overwrite them or any weight file, index or layer map in them.
 */
export async function checkOutputs(targets: readonly (OutputTarget | undefined)[], inputs: readonly string[]): Promise<void> {
  const present = targets.filter((t): t is OutputTarget => t !== undefined);
  const toStdout = present.filter((t) => t.path === '-');
  for (const t of toStdout)
    if (!t.stdout) throw usageError(`${t.flag} cannot write to stdout ('-'); give a ${t.kind === 'folder' ? 'folder' : 'file name'}`);
  if (toStdout.length > 1) throw usageError(`stdout ('-') can take only one output: ${toStdout.map((t) => t.flag).join(' and ')}`);

  const protectedFiles: { file: string; input: string; whole: boolean }[] = [];
  for (const input of inputs) {
    const files = await modelFiles(input);
    const isFolder = (await statOrUndefined(input))?.isDirectory() === true;
    for (const file of files) protectedFiles.push({ file, input, whole: !isFolder });
  }

  const seen = new Map<string, string>();
  const newFolders = new Set(present.filter((t) => t.kind === 'folder' && t.path !== '-').map((t) => resolve(t.path)));
  for (const t of present) {
    if (t.path === '-') continue;
    for (const p of [t.path, ...(t.siblings ?? [])]) {
      const key = resolve(p);
      const other = seen.get(key);
      if (other) throw usageError(`${other} and ${t.flag} both write ${p}`);
      seen.set(key, t.flag);
      if (t.kind === 'folder') await checkFolder(t.flag, p);
      else await checkFile(t.flag, p, protectedFiles, newFolders);
    }
  }
}
