/**
 * The big-model target of issue 12: a generated 4.3 GB BF16 model (bench/model-gen.ts bigLayout:
 * 32 blocks × 4 matrices of 2048×8192) analysed by the CLI under /usr/bin/time -v. Prints wall time,
 * peak RSS, layers/s and GFLOP/s per spectrum route, against the targets (< 3 min, < 1.5 GB with
 * the default method). The model is deleted afterwards (--keep keeps it).
 *
 *   npm run build && npm run bench:big
 *   npm run bench:big -- --dir /big/disk --accurate     (also time svd_method accurate: slow)
 *   npm run bench:big -- --model existing.safetensors   (skip generation)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bigLayout, writeBigModel } from './model-gen.js';
import { nativeInfo } from '../src/native/binding.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const TARGET_SECONDS = 180;
const TARGET_RSS_GB = 1.5;

interface Timed {
  wall: number;
  rssGb: number;
  meta: {
    elapsed_ms: number;
    routes: Record<string, number>;
    route_stats: Record<string, { rows: number; seconds: number; gflop: number }>;
    threads: Record<string, unknown>;
    failures: unknown[];
  };
  rows: number;
}

function wallSeconds(text: string): number {
  const m = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
  if (!m) throw new Error(`no wall time in /usr/bin/time output:\n${text}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

function runCli(model: string, out: string, extra: string[]): Timed {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, cli, 'analyze', model, '--json', out, '-q', ...extra], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`analyze failed (${r.status}):\n${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const parsed = JSON.parse(readFileSync(out, 'utf8')) as { details: unknown[]; meta: Timed['meta'] };
  return { wall: wallSeconds(r.stderr), rssGb: Number(rss?.[1] ?? NaN) / 2 ** 20, meta: parsed.meta, rows: parsed.details.length };
}

function report(label: string, t: Timed): void {
  console.log(`\n${label}: ${t.rows} layers`);
  console.log(
    `  wall ${t.wall.toFixed(1)} s (analysis ${(t.meta.elapsed_ms / 1000).toFixed(1)} s), ${(t.rows / t.wall).toFixed(2)} layers/s, peak RSS ${t.rssGb.toFixed(2)} GB`,
  );
  console.log(`  routes ${JSON.stringify(t.meta.routes)}; threads ${JSON.stringify(t.meta.threads)}`);
  for (const [route, s] of Object.entries(t.meta.route_stats)) {
    console.log(
      `  ${route.padEnd(8)} ${String(s.rows).padStart(4)} layers, ${s.seconds.toFixed(1)} s native (per thread), ${s.gflop.toFixed(0)} GFLOP nominal → ${(s.gflop / s.seconds).toFixed(1)} GFLOP/s per decomposition`,
    );
  }
  if (t.meta.failures.length) console.log(`  FAILURES: ${JSON.stringify(t.meta.failures)}`);
}

if (!existsSync(cli)) {
  console.error(`bench:big runs the built CLI (${cli}): run \`npm run build\` first`);
  process.exit(1);
}
const info = nativeInfo();
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; ${info.blasConfig} (core ${info.coreType}); LAPACK ${info.lapackVersion}; Node ${process.version}`,
);

const given = value('model');
const dir = given ? undefined : mkdtempSync(join(value('dir') ?? tmpdir(), 'ww-big-'));
const model = given ?? join(dir!, 'big-bf16.safetensors');
try {
  if (!given) {
    const need = bigLayout().reduce((s, t) => s + t.rows * t.cols * 2, 0);
    const fs = statfsSync(dir!);
    if (fs.bavail * fs.bsize < need * 1.05)
      throw new Error(
        `${dir} has ${((fs.bavail * fs.bsize) / 2 ** 30).toFixed(1)} GiB free, the model needs ${(need / 2 ** 30).toFixed(1)} GiB (use --dir)`,
      );
    const t0 = performance.now();
    await writeBigModel(model, bigLayout(), 7, (i, n) => {
      if (i % 16 === 0 || i === n) process.stderr.write(`  generating ${i}/${n} tensors\r`);
    });
    console.log(
      `generated ${model}: ${(need / 1e9).toFixed(2)} GB BF16, ${bigLayout().length} matrices 2048×8192, in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    // Start from a cold-ish page cache for neither side: read it once so both runs see the same cache.
    execFileSync('cat', [model], { stdio: ['ignore', 'ignore', 'ignore'] });
  }
  const out = join(dir ?? tmpdir(), `big-out-${process.pid}.json`);
  const fast = runCli(model, out, []);
  report('svd_method fast (default)', fast);
  const ok = fast.wall < TARGET_SECONDS && fast.rssGb < TARGET_RSS_GB;
  console.log(`  target: < ${TARGET_SECONDS} s and < ${TARGET_RSS_GB} GB peak RSS → ${ok ? 'MET' : 'NOT MET'}`);
  if (flag('accurate')) report('svd_method accurate', runCli(model, out, ['--svd-method', 'accurate']));
  if (flag('float32')) report('precision float32', runCli(model, out, ['--precision', 'float32']));
  rmSync(out, { force: true });
} finally {
  if (dir && !flag('keep')) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`kept ${model}`);
}
