/**
 * Issue 19's benchmarks, against the local hub of the tests (test/helpers/hub-server.ts, on
 * 127.0.0.1, serving files from disk):
 * 1. a GPT-2-small-shaped F32 model (bench/model-gen.ts, 124M parameters, 498 MB) analysed from
 *    the local file and streamed with range requests from the local server: wall and peak RSS of
 *    each CLI run (/usr/bin/time -v), best of `--repeat`, and their ratios (targets: wall ≤ 1.15×,
 *    RSS within 25%);
 * 2. the download of a `--download-gb` GB file (default 2) into the cache through
 *    @huggingface/hub, against `curl -L` of the same file from the same server (target ≤ 1.2×).
 *    Both go through the hub's redirect to the CDN host and get the same 200 answer. Besides the
 *    wall time, the CPU seconds (user + system) of each side, and those the server (this process)
 *    spent for it: on a loaded machine the wall ratio is noisy, and the CPU ratio says whether the
 *    download is compute-bound;
 * 3. with `--big`, the 4.3 GB BF16 model of bench/big.bench.ts analysed from the local file and
 *    streamed: wall and peak RSS of both, and their ratios (target: streamed peak RSS < 1.5 GB).
 * Both sides of each ratio run in this script, alternately; the machine's load is printed.
 *
 * Each download side removes the previous side's 2 GB output right before its clock starts: on a
 * VM with free page reporting (this project's, `page_reporting.page_reporting_order=11`), memory
 * the guest frees is handed back to the hypervisor after about two seconds, and the next writer
 * that gets it pays a fault per page (writing 2 GB through the page cache: 0.5 s of system CPU
 * with just-freed memory, up to 9 s with handed-back memory). `--settle S` waits S seconds after
 * each removal instead, so that both sides get handed-back memory.
 *
 *   npx vite-node bench/hub.bench.ts [--dir DIR] [--repeat 2] [--download-gb 2] [--settle 0] [--skip-stream] [--skip-download] [--big]
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bigLayout, writeBigModel, writeGpt2Small } from './model-gen.js';
import { diskFile, startHubServer } from '../test/helpers/hub-server.js';
import { resolveModel } from '../src/hub/resolve.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const value = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const root = resolve(import.meta.dirname, '..');
const viteNode = join(root, 'node_modules', '.bin', 'vite-node');

/** Child mode: one download into a fresh cache, timed inside the process (no startup). */
if (flag('child-download')) {
  const [cacheDir, endpoint] = [value('cache'), value('endpoint')];
  // The previous side's output goes right before the clock starts, as for curl (see `settle`).
  for (const p of [cacheDir!, value('remove')].filter((p) => p !== undefined)) rmSync(p, { recursive: true, force: true });
  await new Promise((r) => setTimeout(r, Number(value('settle') ?? 0) * 1000));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await resolveModel('bench/big', { cacheDir: cacheDir!, endpoint: endpoint!, env: { HOME: tmpdir() } });
  // Process-wide: the hash worker and libuv's write threads included.
  const cpu = process.cpuUsage(c0);
  console.log(
    JSON.stringify({ seconds: (performance.now() - t0) / 1000, user: cpu.user / 1e6, system: cpu.system / 1e6, bytes: r.downloadedBytes }),
  );
  process.exit(0);
}

/** Child mode: the CLI on the arguments after --child-cli (vite-node runs no module as "main"). */
if (flag('child-cli')) {
  const { main } = await import('../src/cli/main.js');
  // Exit at once: stdout is a pipe (written synchronously on Linux), and the parent must not run its bench here.
  process.exit(await main(args.slice(args.indexOf('--child-cli') + 1)));
}

const dir = value('dir') ?? mkdtempSync(join(tmpdir(), 'ww-hub-bench-'));
mkdirSync(dir, { recursive: true }); // a --dir that does not exist yet
const repeat = Number(value('repeat') ?? 2);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

interface Run {
  wall: number;
  rssMb: number;
}

/** Run a child without blocking this process's event loop (the hub server runs here). */
function run(cmd: string, argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    p.on('error', fail);
    p.on('close', (status) => ok({ status, stdout, stderr }));
  });
}

/** A command under /usr/bin/time -v: wall seconds and peak RSS; `check` looks at its output. */
async function timed(cmd: string, argv: string[], check?: (stdout: string) => void): Promise<Run> {
  const r = await run('/usr/bin/time', ['-v', cmd, ...argv]);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  check?.(r.stdout);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr)!;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)!;
  return { wall: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), rssMb: Number(rss[1]) / 1024 };
}

const best = <R extends { wall: number }>(runs: R[]) => runs.reduce((a, b) => (b.wall < a.wall ? b : a));
const cli = (...a: string[]) => [join(root, 'bench', 'hub.bench.ts'), '--child-cli', ...a];

const hub = await startHubServer();
try {
  console.log(`hub bench in ${dir}; load average ${load()}`);
  if (!flag('skip-stream')) {
    const model = join(dir, 'gpt2-small.safetensors');
    if (!existsSync(model)) await writeGpt2Small(model);
    const f = await diskFile(model);
    const url = `${hub.cdnUrl}/${f.disk!.sha256}`;
    hub.addCommit('bench/gpt2-small', { 'model.safetensors': f });
    const local: Run[] = [];
    const streamed: Run[] = [];
    // Both runs must analyse the same layers: their row counts are compared.
    let rows = -1;
    const same = (out: string) => {
      const n = (JSON.parse(out) as { details: unknown[] }).details.length;
      if (rows >= 0 && n !== rows) throw new Error(`streamed and local runs analysed ${n} and ${rows} layers`);
      rows = n;
    };
    for (let i = 0; i < repeat; i++) {
      local.push(await timed(viteNode, cli('analyze', model, '-q', '--json', '-'), same));
      streamed.push(await timed(viteNode, cli('analyze', url, '-q', '--json', '-'), same));
      console.log(
        `  run ${i + 1}: local ${local[i]!.wall.toFixed(1)} s ${local[i]!.rssMb.toFixed(0)} MB; streamed ${streamed[i]!.wall.toFixed(1)} s ${streamed[i]!.rssMb.toFixed(0)} MB (load ${load()})`,
      );
    }
    const l = best(local);
    const s = best(streamed);
    console.log(
      `GPT-2-small-shaped F32 (${(f.disk!.size / 1e6).toFixed(0)} MB, ${rows} layers), analyze: local ${l.wall.toFixed(1)} s / ${l.rssMb.toFixed(0)} MB, streamed ${s.wall.toFixed(1)} s / ${s.rssMb.toFixed(0)} MB → wall ${(s.wall / l.wall).toFixed(3)}× (target ≤ 1.15), RSS ${(s.rssMb / l.rssMb).toFixed(3)}× (target within 25%)`,
    );
  }
  if (!flag('skip-download')) {
    const gb = Number(value('download-gb') ?? 2);
    const settle = Number(value('settle') ?? 0);
    const file = join(dir, `blob-${gb}g.gguf`);
    if (!existsSync(file) || statSync(file).size !== Math.round(gb * 2 ** 30)) {
      const fd = openSync(file, 'w');
      const chunk = new Uint8Array(16 << 20);
      for (let left = Math.round(gb * 2 ** 30); left > 0; left -= chunk.length)
        writeSync(fd, randomFillSync(chunk), 0, Math.min(left, chunk.length));
      closeSync(fd);
    }
    hub.addCommit('bench/big', { 'model.gguf': await diskFile(file) });
    interface Side {
      wall: number;
      /** CPU seconds of the client, user and system. */
      user: number;
      system: number;
      /** CPU seconds the server (this process) spent meanwhile. */
      server: number;
    }
    const ours: Side[] = [];
    const curl: Side[] = [];
    // What a user runs to fetch the file and check it as we do: curl with sha256sum on the fly.
    const curlChecked: Side[] = [];
    const cpuOf = (s: Side) => s.user + s.system;
    const show = (s: Side) =>
      `${s.wall.toFixed(2)} s (CPU ${s.user.toFixed(2)} user + ${s.system.toFixed(2)} sys, server ${s.server.toFixed(2)})`;
    const cache = join(dir, 'cache');
    const out = join(dir, 'curl.out');
    const times = join(dir, 'curl.time');
    /** Remove the previous side's output, then wait `settle` seconds (see the option). */
    const clear = async (path: string) => {
      rmSync(path, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, settle * 1000));
    };
    for (let i = 0; i < repeat; i++) {
      let s0 = process.cpuUsage();
      const child = await run(viteNode, [
        join(root, 'bench', 'hub.bench.ts'),
        '--child-download',
        '--cache',
        cache,
        '--endpoint',
        hub.url,
        '--remove',
        out,
        '--settle',
        String(settle),
      ]);
      let server = process.cpuUsage(s0);
      if (child.status !== 0) throw new Error(child.stderr);
      const got = JSON.parse(child.stdout.trim().split('\n').pop()!) as { seconds: number; user: number; system: number };
      ours.push({ wall: got.seconds, user: got.user, system: got.system, server: (server.user + server.system) / 1e6 });
      await clear(cache);
      s0 = process.cpuUsage();
      const c = await run('/usr/bin/time', [
        '-f',
        '%e %U %S',
        '-o',
        times,
        'curl',
        '-s',
        '-f',
        '-L',
        '-o',
        out,
        `${hub.url}/bench/big/resolve/main/model.gguf`,
      ]);
      server = process.cpuUsage(s0);
      if (c.status !== 0) throw new Error(`curl failed (${c.status})`);
      const timed = (): [number, number, number] =>
        readFileSync(times, 'utf8').trim().split(/\s+/).slice(-3).map(Number) as [number, number, number];
      let [wall, user, system] = timed();
      curl.push({ wall, user, system, server: (server.user + server.system) / 1e6 });
      await clear(out);
      s0 = process.cpuUsage();
      const url = `${hub.url}/bench/big/resolve/main/model.gguf`;
      const h = await run('/usr/bin/time', [
        '-f',
        '%e %U %S',
        '-o',
        times,
        'bash',
        '-c',
        `set -o pipefail; curl -s -f -L '${url}' | tee '${out}' | sha256sum > /dev/null`,
      ]);
      server = process.cpuUsage(s0);
      if (h.status !== 0) throw new Error(`curl | sha256sum failed (${h.status})`);
      [wall, user, system] = timed();
      curlChecked.push({ wall, user, system, server: (server.user + server.system) / 1e6 });
      rmSync(times, { force: true });
      console.log(
        `  run ${i + 1}: ours ${show(ours[i]!)}, curl ${show(curl[i]!)}, curl | sha256sum ${show(curlChecked[i]!)} (load ${load()})`,
      );
    }
    const o = best(ours);
    const c = best(curl);
    const cpuRatio = Math.min(...ours.map(cpuOf)) / Math.min(...curl.map(cpuOf));
    const h = best(curlChecked);
    console.log(
      `download of ${gb} GB into the cache (sha256 checked, blob + symlink + ref): ours ${o.wall.toFixed(2)} s (${((gb * 1024) / o.wall).toFixed(0)} MB/s), curl ${c.wall.toFixed(2)} s (${((gb * 1024) / c.wall).toFixed(0)} MB/s) → ${(o.wall / c.wall).toFixed(3)}× (target ≤ 1.2); client CPU, least of each: ${cpuRatio.toFixed(2)}× curl's`,
    );
    console.log(
      `  against curl | tee | sha256sum (fetched and checked as we do): ${h.wall.toFixed(2)} s → ${(o.wall / h.wall).toFixed(3)}×; its CPU ${(Math.min(...curlChecked.map(cpuOf)) / Math.min(...curl.map(cpuOf))).toFixed(2)}× plain curl's`,
    );
  }
  if (flag('big')) {
    const model = join(dir, 'big-bf16.safetensors');
    if (!existsSync(model)) await writeBigModel(model, bigLayout());
    const f = await diskFile(model);
    hub.addCommit('bench/big-bf16', { 'model.safetensors': f });
    // Both runs must analyse the same layers.
    let rows = -1;
    const same = (out: string) => {
      const n = (JSON.parse(out) as { details: unknown[] }).details.length;
      if (rows >= 0 && n !== rows) throw new Error(`streamed and local runs analysed ${n} and ${rows} layers`);
      rows = n;
    };
    const l = await timed(viteNode, cli('analyze', model, '-q', '--json', '-'), same);
    console.log(`  local: ${l.wall.toFixed(0)} s, peak RSS ${(l.rssMb / 1024).toFixed(2)} GB (load ${load()})`);
    const s = await timed(viteNode, cli('analyze', `${hub.cdnUrl}/${f.disk!.sha256}`, '-q', '--json', '-'), same);
    console.log(
      `4.3 GB BF16 model (${rows} layers): local ${l.wall.toFixed(0)} s / ${(l.rssMb / 1024).toFixed(2)} GB, streamed ${s.wall.toFixed(0)} s / ${(s.rssMb / 1024).toFixed(2)} GB peak RSS → wall ${(s.wall / l.wall).toFixed(3)}×, RSS ${(s.rssMb / l.rssMb).toFixed(3)}× (target: streamed < 1.5 GB; load ${load()})`,
    );
  }
} finally {
  await hub.close();
  if (value('dir') === undefined) rmSync(dir, { recursive: true, force: true });
}
