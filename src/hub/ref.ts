/**
 * Model references: what a user types instead of a path. Forms (issue 19): `name`, `org/name`,
 * `org/name@revision`, `hf://org/name[@revision][/path/in/repo]`, a cache folder name
 * `models--org--name`, and `https://` URLs of a single file. A string is only read as a
 * reference when it is not an existing path (the caller checks that first) and does not look like
 * a file name (a mistyped `model.safetensors` stays "no such file", never a hub lookup).
 */
import { WeightWatcherError } from '../shared/errors.js';

export interface RepoRef {
  readonly kind: 'repo';
  /** `org/name` or a legacy single-segment `name`. */
  readonly repo: string;
  /** Branch, tag or commit; undefined = the default branch (main). */
  readonly revision?: string;
  /** A file inside the repo (hf://org/name/path), when one was named. */
  readonly file?: string;
  /** As typed, for messages. */
  readonly input: string;
}

export interface UrlRef {
  readonly kind: 'url';
  readonly url: string;
  readonly input: string;
}

export type ModelRef = RepoRef | UrlRef;

/** Hub repo and user names: letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96 characters (the hub's rule). */
const SEGMENT = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$|^[A-Za-z0-9]$/;
export const COMMIT_RE = /^[0-9a-f]{40}$/;

function validSegment(s: string): boolean {
  return SEGMENT.test(s) && !s.includes('--') && !s.includes('..');
}

/** Weight or result file names: a missing one is a path typo, not a repo name. */
const FILE_LIKE = /\.(safetensors|bin|pt|pth|ckpt|onnx|gguf|json|npz|npy|h5|hdf5|keras|sqlite|csv|index)$/i;

/** A revision as git allows it closely enough: no whitespace, control characters, `..`, or leading `/`/`-`. */
export function checkRevision(rev: string, input: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (rev === '' || /[\s\u0000-\u001f\u007f~^:?*[\\]/.test(rev) || rev.includes('..') || rev.startsWith('/') || rev.startsWith('-')) {
    throw new WeightWatcherError('E_USAGE', `${input}: invalid revision ${JSON.stringify(rev)} (a branch, tag or 40-hex commit)`);
  }
  return rev;
}

/** A path inside a repo: relative, no `..`, no empty segments. */
export function checkRepoFile(file: string, input: string): string {
  const parts = file.split('/');
  if (file.startsWith('/') || file.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new WeightWatcherError('E_UNSAFE', `${input}: invalid file path in the repo ${JSON.stringify(file)}`);
  }
  return file;
}

function repoOf(spec: string, input: string): { repo: string; revision?: string } | undefined {
  const at = spec.indexOf('@');
  const name = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? undefined : checkRevision(spec.slice(at + 1), input);
  const parts = name.split('/');
  if (parts.length > 2 || !parts.every(validSegment)) return undefined;
  return { repo: name, ...(revision !== undefined && { revision }) };
}

/**
 * The reference a string stands for, or undefined when it is a plain path. Throws E_USAGE for an
 * `hf://` reference that is malformed (the scheme says what was meant).
 */
export function parseModelRef(input: string): ModelRef | undefined {
  if (/^https?:\/\//i.test(input)) {
    try {
      return { kind: 'url', url: new URL(input).href, input };
    } catch {
      throw new WeightWatcherError('E_USAGE', `${input}: not a valid URL`);
    }
  }
  if (input.startsWith('hf://')) {
    const rest = input.slice(5);
    const segs = rest.split('/');
    // hf://org/name[@rev][/path…]; a single segment is a legacy name (hf://gpt2[@rev]).
    const repoSegs = segs.length >= 2 ? 2 : 1;
    const r = repoOf(segs.slice(0, repoSegs).join('/'), input);
    if (!r) throw new WeightWatcherError('E_USAGE', `${input}: expected hf://org/name[@revision][/path/in/repo]`);
    const file = segs.length > repoSegs ? checkRepoFile(segs.slice(repoSegs).join('/'), input) : undefined;
    return { kind: 'repo', input, ...r, ...(file !== undefined && { file }) };
  }
  const cacheFolder = /^(?:.*[\\/])?models--([^\\/]+?)[\\/]?$/.exec(input);
  if (cacheFolder) {
    const r = repoOf(cacheFolder[1]!.split('--').join('/'), input);
    return r ? { kind: 'repo', input, ...r } : undefined;
  }
  if (input.startsWith('.') || input.startsWith('/') || input.startsWith('~') || input.includes('\\')) return undefined;
  if (FILE_LIKE.test(input.split('@')[0]!)) return undefined;
  const r = repoOf(input, input);
  return r ? { kind: 'repo', input, ...r } : undefined;
}

/** `org/name@rev` for messages. */
export function refLabel(repo: string, revision: string | undefined): string {
  return revision === undefined ? repo : `${repo}@${revision}`;
}
