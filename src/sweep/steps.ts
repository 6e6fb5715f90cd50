/**
 * Checkpoint steps from model names: `checkpoint-1200`, `step_1200`, `ckpt1200`, `global_step1200`,
 * `iter-50`, `epoch_3` → 1200, 1200, 1200, 1200, 50, 3. The last component of the path is tried
 * first (without its file extension), then its parent folder (`checkpoint-1200/model.safetensors`).
 */
import { basename, dirname } from 'node:path';
import { WeightWatcherError } from '../shared/errors.js';

/** The default pattern; the first capture group is the step. */
export const DEFAULT_STEP_PATTERN = /(?:checkpoint|ckpt|global[-_]?step|step|iteration|iter|epoch)[-_.=]?(\d+)/gi;

/** A user's --step-regex: one capture group (or the whole match) that is a non-negative integer. */
export function compileStepRegex(source: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source, 'g');
  } catch (e) {
    throw new WeightWatcherError(
      'E_USAGE',
      `--step-regex ${JSON.stringify(source)} is not a valid regular expression (${(e as Error).message})`,
    );
  }
  if (re.test(''))
    throw new WeightWatcherError(
      'E_USAGE',
      `--step-regex ${JSON.stringify(source)} matches the empty string; it must match the step, e.g. 'ckpt-(\\d+)'`,
    );
  return re;
}

function stripExtension(name: string): string {
  // model.safetensors → model; checkpoint-1200 stays; step_1.5k is not a step anyway.
  return name.replace(/\.(safetensors|bin|pt|pth|ckpt|onnx|gguf|json|keras|h5|npz|npy)$/i, '');
}

function lastStep(name: string, pattern: RegExp): number | undefined {
  const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  let step: number | undefined;
  for (const m of name.matchAll(re)) {
    const text = m[1] ?? m[0];
    if (/^\d+$/.test(text)) step = Number(text);
  }
  return step !== undefined && Number.isSafeInteger(step) ? step : undefined;
}

/** The step a path names, or undefined when neither its name nor its parent folder's has one. */
export function parseStep(path: string, pattern: RegExp = DEFAULT_STEP_PATTERN): number | undefined {
  const name = stripExtension(basename(path));
  const own = lastStep(name, pattern);
  if (own !== undefined) return own;
  const parent = basename(dirname(path));
  return parent && parent !== '.' && parent !== '/' ? lastStep(parent, pattern) : undefined;
}

/**
 * Steps for a sweep: the parsed steps when every model has one, otherwise the order given (0, 1, …):
 * mixing parsed steps with positions would put unrelated numbers on one axis.
 */
export function assignSteps(paths: readonly string[], pattern: RegExp = DEFAULT_STEP_PATTERN): { steps: number[]; parsed: boolean } {
  const parsed = paths.map((p) => parseStep(p, pattern));
  if (parsed.length && parsed.every((s) => s !== undefined)) return { steps: parsed, parsed: true };
  return { steps: paths.map((_, i) => i), parsed: false };
}

/** Natural order of strings (h.2 before h.10): digit runs compare as numbers. */
export function compareNatural(a: string, b: string): number {
  const ra = a.split(/(\d+)/);
  const rb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (x === y) continue;
    if (i % 2 === 1) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}
