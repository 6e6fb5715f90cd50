/**
 * The packages that serve one feature each are optionalDependencies (package.json): a plain
 * `npm install weightwatcher` (or `-g`) installs them, `--omit=optional` leaves them out for a
 * library user who only analyses. Every place that loads one goes through this module, so that a
 * missing package is one WeightWatcherError (E_MISSING_DEPENDENCY) naming the feature, the package
 * and the command that installs it, instead of Node's bare "Cannot find package".
 *
 * OPTIONAL_PACKAGES is the one list; test/unit/optional-import.test.ts checks it against
 * package.json (same names, same ranges, each optional package in exactly one feature).
 */
import { createRequire } from 'node:module';
import { WeightWatcherError } from './errors.js';

export interface OptionalFeature {
  /** What needs the packages, in the plural, as the message says it ("… need it"). */
  readonly what: string;
  /** Package name → version range, as in package.json. */
  readonly packages: Readonly<Record<string, string>>;
}

export const OPTIONAL_PACKAGES = {
  plots: {
    what: 'figures and HTML reports (--plot, --html, weightwatcher/plots)',
    packages: {
      vega: '^6.4.0',
      'vega-lite': '^6.4.3',
      '@resvg/resvg-js': '^2.6.2',
    },
  },
  interactive: {
    what: 'interactive HTML reports',
    packages: { 'vega-embed': '^7.3.0', 'vega-tooltip': '^1.1.0' },
  },
  database: {
    what: 'results databases (sweep, sweep-report, openResults)',
    packages: { 'better-sqlite3': '^12.11.1' },
  },
  queue: {
    what: 'queue runs (--queue, worker)',
    packages: { bullmq: '^6.7.0', ioredis: '^5.11.1' },
  },
  keras: {
    what: 'Keras .h5 / .keras files',
    packages: { h5wasm: '^0.10.3' },
  },
  hub: {
    what: 'downloads of models by name (org/name, hf://, https:// URLs; the local Hugging Face cache is read without it)',
    packages: { '@huggingface/hub': '~2.17.5' },
  },
} as const satisfies Record<string, OptionalFeature>;

export type OptionalFeatureName = keyof typeof OPTIONAL_PACKAGES;

/** The command that installs a feature's packages next to weightwatcher. */
export function installCommand(feature: OptionalFeatureName): string {
  const pkgs = Object.entries(OPTIONAL_PACKAGES[feature].packages).map(([name, range]) => `${name}@${range}`);
  return `npm install ${pkgs.join(' ')}`;
}

/** The error for a feature whose package `pkg` is not installed. */
export function missingDependency(feature: OptionalFeatureName, pkg: string, cause?: unknown): WeightWatcherError {
  const f = OPTIONAL_PACKAGES[feature];
  return new WeightWatcherError(
    'E_MISSING_DEPENDENCY',
    `the optional package ${pkg} is not installed; ${f.what} need it (weightwatcher installed with --omit=optional?). ` +
      `Install it with: ${installCommand(feature)}  (or reinstall weightwatcher without --omit=optional; a global CLI: npm install -g weightwatcher)`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * The optional package a module-not-found error is about, or undefined when the error is something
 * else (a package that is there but fails to load is not "missing": its own error is the message).
 * ESM says "Cannot find package 'vega' imported from …", CommonJS "Cannot find module 'vega'"; a
 * package's platform binary (@resvg/resvg-js-linux-x64-gnu) counts as the package.
 */
export function missingOptionalPackage(e: unknown): { feature: OptionalFeatureName; pkg: string } | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(e instanceof Error ? e.message : '');
  if (!m) return undefined;
  const wanted = m[1]!;
  const all = (Object.entries(OPTIONAL_PACKAGES) as [OptionalFeatureName, OptionalFeature][]).flatMap(([feature, f]) =>
    Object.keys(f.packages).map((pkg) => ({ feature, pkg })),
  );
  return (
    all.find(({ pkg }) => wanted === pkg || wanted.startsWith(`${pkg}/`)) ??
    all.find(({ pkg }) => pkg.startsWith('@') && wanted.startsWith(`${pkg}-`))
  );
}

/** Re-throw a module-not-found error for an optional package as E_MISSING_DEPENDENCY; anything else unchanged. */
function rethrowMissing(e: unknown, feature: OptionalFeatureName, pkg?: string): never {
  // The feature named is the one whose package is missing (a sweep report that reaches the plot
  // stack says "figures … need vega"), not necessarily the one that was asked for.
  const missing = missingOptionalPackage(e);
  if (missing) throw missingDependency(missing.feature, missing.pkg, e);
  const code = (e as { code?: unknown } | null)?.code;
  if (pkg !== undefined && code === 'MODULE_NOT_FOUND' && e instanceof Error && e.message.includes(`'${pkg}'`))
    throw missingDependency(feature, pkg, e);
  // Anything else (a package that is there but fails to load: a native module built for another
  // Node, a broken install) keeps its own message.
  throw e;
}

/**
 * Load a module of `feature` with dynamic import (an optional package itself, or one of our
 * modules that imports one statically): `await importOptional('queue', () => import('./coordinator.js'))`.
 */
export async function importOptional<T>(feature: OptionalFeatureName, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    rethrowMissing(e, feature);
  }
}

const requireHere = createRequire(import.meta.url);

/** Load a CommonJS optional package synchronously (better-sqlite3, @resvg/resvg-js). */
export function requireOptional<T>(feature: OptionalFeatureName, pkg: string): T {
  try {
    return requireHere(pkg) as T;
  } catch (e) {
    rethrowMissing(e, feature, pkg);
  }
}

/** Whether a package is installed where weightwatcher can load it (without loading it). */
function isInstalled(pkg: string): boolean {
  try {
    requireHere.resolve(`${pkg}/package.json`);
    return true;
  } catch (e) {
    // A package whose "exports" hides package.json is there all the same.
    return (e as { code?: unknown }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
  }
}

/**
 * Throw E_MISSING_DEPENDENCY now when a package of `feature` is not installed: for work that loads
 * it later elsewhere (vega in the render worker threads), so that the message comes before the work.
 */
export function assertInstalled(feature: OptionalFeatureName): void {
  for (const pkg of Object.keys(OPTIONAL_PACKAGES[feature].packages)) if (!isInstalled(pkg)) throw missingDependency(feature, pkg);
}
