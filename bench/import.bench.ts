/**
 * What `import 'weightwatcher'` costs a user: the package is packed (npm pack of the current
 * build, with its prebuilt addon), installed into an empty folder, and imported in fresh node
 * processes, best of N. Measured, each in its own process:
 *
 *   node            bare startup (the floor: an empty script)
 *   root            import('weightwatcher')                  — the analysis API
 *   plots           import('weightwatcher/plots')            — the plot stack (vega, vega-lite, resvg)
 *   root+plots      both — what the root cost when it re-exported the plots (the eager baseline)
 *   first svdvals   svdvalsSync on an 8×4 matrix right after importing the root: the time of that
 *                   call alone (it loads the addon and dlopens OpenBLAS); RSS includes the import
 *
 * Import time is measured in the process (performance.now() around the import), RSS after it
 * (process.memoryUsage().rss) and at peak (resourceUsage().maxRSS).
 *
 *   npm run build && npm run bench:import          # best of 7
 *   npm run bench:import -- --runs 15
 *
 * Needs a build (dist/) and, to skip compiling the addon on install, prebuilds/ (npm run prebuild);
 * installing fetches the dependencies through npm (its cache when warm).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 7;
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const keep = args.includes('--keep');

if (!existsSync(join(root, 'dist', 'index.js')) || !existsSync(join(root, 'dist', 'plots.js'))) {
  console.error('no build: run npm run build first');
  process.exit(1);
}
const prebuilt =
  existsSync(join(root, 'prebuilds')) &&
  readdirSync(join(root, 'prebuilds')).some((p) => p.startsWith(`${process.platform}-${process.arch}`));
if (!prebuilt)
  console.log(
    `(no prebuilds/${process.platform}-${process.arch}: the install compiles the addon with node-gyp; npm run prebuild avoids that)`,
  );

const work = mkdtempSync(join(tmpdir(), 'ww-import-bench-'));
const app = join(work, 'app');
try {
  // --ignore-scripts: pack the current dist as it is (prepack would rebuild it).
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
  ) as { filename: string; size: number; unpackedSize: number }[];
  const tarball = join(work, packed[0]!.filename);
  console.log(
    `packed ${packed[0]!.filename}: ${(packed[0]!.size / 1e6).toFixed(2)} MB (${(packed[0]!.unpackedSize / 1e6).toFixed(2)} MB unpacked)`,
  );
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ww-import-bench-app', private: true, type: 'module' }));
  const t0 = performance.now();
  execFileSync('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: app,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  console.log(`installed into an empty folder in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  interface Sample {
    ms: number;
    cpuMs: number;
    rss: number;
    maxRss: number;
  }
  const measure = (body: string): Sample => {
    // A case may restart the clock (t0 = …) to time only its last step.
    const script = `let t0 = performance.now(), c0 = process.cpuUsage();
${body}
const ms = performance.now() - t0, c = process.cpuUsage(c0);
process.stdout.write(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 }));`;
    return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' })) as Sample;
  };
  const best = (body: string): Sample => {
    const samples = Array.from({ length: runs }, () => measure(body));
    const min = (k: keyof Sample) => Math.min(...samples.map((x) => x[k]));
    return { ms: min('ms'), cpuMs: min('cpuMs'), rss: min('rss'), maxRss: min('maxRss') };
  };

  const cases: [string, string][] = [
    ['node (empty script)', ''],
    ["import('weightwatcher')", "await import('weightwatcher');"],
    ["import('weightwatcher/plots')", "await import('weightwatcher/plots');"],
    ['root + plots (the old eager root)', "await import('weightwatcher'); await import('weightwatcher/plots');"],
    [
      'first svdvalsSync (addon load), after root',
      "const ww = await import('weightwatcher'); t0 = performance.now(); c0 = process.cpuUsage(); ww.svdvalsSync(new Float64Array(32).map((_, i) => Math.sin(i)), 8, 4);",
    ],
  ];
  const results = cases.map(([label, body]) => ({ label, ...best(body) }));
  const bare = results[0]!,
    rootR = results[1]!,
    eager = results[3]!;
  console.log(`\n${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, node ${process.version}; best of ${runs} fresh processes each\n`);
  console.log(
    `${'case'.padEnd(44)} ${'ms'.padStart(8)} ${'CPU ms'.padStart(8)} ${'RSS MB'.padStart(8)} ${'peak MB'.padStart(8)} ${'RSS over node'.padStart(14)}`,
  );
  for (const r of results) {
    console.log(
      `${r.label.padEnd(44)} ${r.ms.toFixed(1).padStart(8)} ${r.cpuMs.toFixed(1).padStart(8)} ${(r.rss / 1e6).toFixed(1).padStart(8)} ${(r.maxRss / 1e6).toFixed(1).padStart(8)} ${`+${((r.rss - bare.rss) / 1e6).toFixed(1)}`.padStart(14)}`,
    );
  }
  console.log(
    `\nimport('weightwatcher') vs the old eager root: ×${(eager.ms / rootR.ms).toFixed(1)} faster (CPU ×${(eager.cpuMs / rootR.cpuMs).toFixed(1)}), ${((eager.rss - bare.rss) / Math.max(1, rootR.rss - bare.rss)).toFixed(1)}× less memory over bare node (${((rootR.rss - bare.rss) / 1e6).toFixed(1)} MB vs ${((eager.rss - bare.rss) / 1e6).toFixed(1)} MB)`,
  );
  console.log(
    `target < 100 ms: ${rootR.ms < 100 ? 'met' : 'NOT met'} (${rootR.ms.toFixed(1)} ms wall, ${rootR.cpuMs.toFixed(1)} ms CPU; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})`,
  );
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
