/**
 * Many callers in one process (engine/scheduler.ts), measured in one script against its own baseline:
 *
 *   sequential   32 analyze() calls on 32 different small models, one after the other
 *   concurrent   the same 32 calls at once (Promise.all)             → ratio concurrent / sequential
 *   identical    every model's rows, concurrent vs alone, compared bit for bit
 *   cancel       an analyze() aborted mid-run, alone and among 31 other calls: time from abort()
 *                to the rejection, next to the longest layer of that model (the layers in flight
 *                are allowed to finish; the rest of the latency is the scheduler's)
 *
 * The models: the 7 face-api models of the @vladmandic/face-api dev dependency (when installed)
 * and seeded in-memory models of 1 to 6 dense layers (one-layer calls take every thread of the
 * budget; many-layer calls one thread per layer: the mix that used to move the process-wide
 * OpenBLAS count under load).
 *
 *   npx vite-node bench/concurrent.bench.ts              # best of 3 for each wall time (interleaved)
 *   npx vite-node bench/concurrent.bench.ts --runs 5
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { WeightWatcher, nativeInfo, type InMemoryTensor } from '../src/index.js';
import { FACE_API_MODELS, seededDenseModel } from '../test/helpers/seeded-models.js';
import { processBudget } from '../src/engine/scheduler.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 3;
/** The models: row step 23 between layers (the bench's own sizes). */
const model = (seed: number, layers: number, rows: number, cols: number) => seededDenseModel(seed, layers, rows, cols, 23);

const face = FACE_API_MODELS.filter((p) => existsSync(p));
const models: (string | InMemoryTensor[])[] = [...face];
for (let i = 0; models.length < 32; i++)
  models.push(i % 3 === 0 ? model(500 + i, 1, 500 + 11 * i, 384) : model(500 + i, 2 + (i % 5), 300 + 9 * i, 256));
const label = (i: number) =>
  typeof models[i] === 'string' ? models[i].split('/').pop()!.replace('-weights_manifest.json', '') : `mem${i}`;

const run = (m: string | InMemoryTensor[], extra: Parameters<WeightWatcher['analyze']>[0] = {}) =>
  new WeightWatcher(m).analyze({ seed: 1, ...extra });

async function wall(f: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await f();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`# concurrent callers — ${cpu}, ${cpus().length} cores, budget ${processBudget()}, OpenBLAS ${nativeInfo().blas}`);
console.log(`# ${models.length} models (${face.length} face-api), best of ${runs}; load average before: ${loadavg()[0]!.toFixed(2)}`);

await run(models[0]!); // warm-up: addon, OpenBLAS threads
const alone: unknown[] = [];
for (const m of models) alone.push(await run(m));

// Interleaved (sequential, concurrent, sequential, …) so that a change of load on a shared machine
// hits both; best of `runs` each, and the CPU seconds of each (spinning BLAS threads show there).
const timed = async (f: () => Promise<unknown>) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
};
const best = { seq: { wall: Infinity, cpu: Infinity }, conc: { wall: Infinity, cpu: Infinity } };
for (let r = 0; r < runs; r++) {
  const a = await timed(async () => {
    for (const m of models) await run(m);
  });
  const b = await timed(() => Promise.all(models.map((m) => run(m))));
  best.seq = { wall: Math.min(best.seq.wall, a.wall), cpu: Math.min(best.seq.cpu, a.cpu) };
  best.conc = { wall: Math.min(best.conc.wall, b.wall), cpu: Math.min(best.conc.cpu, b.cpu) };
}
console.log(`sequential  ${best.seq.wall.toFixed(2)} s wall, ${best.seq.cpu.toFixed(2)} s CPU`);
console.log(
  `concurrent  ${best.conc.wall.toFixed(2)} s wall, ${best.conc.cpu.toFixed(2)} s CPU   ratio wall ${(best.conc.wall / best.seq.wall).toFixed(3)} (target ≤ 1.1), CPU ${(best.conc.cpu / best.seq.cpu).toFixed(3)}`,
);

const together = await Promise.all(models.map((m) => run(m)));
const differ = together.map((rows, i) => (JSON.stringify(rows) === JSON.stringify(alone[i]) ? undefined : label(i))).filter(Boolean);
console.log(`identical   ${differ.length === 0 ? `all ${models.length} models bit for bit` : `DIFFER: ${differ.join(', ')}`}`);

// Cancellation latency: a 60-layer model aborted after 40% of its expected time.
const victim = model(9, 60, 700, 512);
const full = await wall(() => run(victim));
// The layer in flight at the abort: the model's biggest layer alone, on one thread (as in the run).
const longest = await wall(() => run([victim[victim.length - 1]!], { threads: 1 }));

async function cancelLatency(withLoad: boolean): Promise<{ latency: number; done: number; total: number }> {
  const c = new AbortController();
  const others = withLoad ? models.slice(0, 31).map((m) => run(m)) : [];
  let aborted = 0;
  setTimeout(() => {
    aborted = performance.now();
    c.abort();
  }, full * 400);
  const e = (await run(victim, { signal: c.signal }).then(
    () => undefined,
    (x: unknown) => x,
  )) as { done?: number; total?: number; name?: string } | undefined;
  const latency = (performance.now() - aborted) / 1000;
  await Promise.all(others);
  if (e?.name !== 'AbortError') throw new Error('the call was not cancelled (it ended first): raise the layer count');
  return { latency, done: e.done ?? -1, total: e.total ?? -1 };
}
for (const withLoad of [false, true]) {
  const r = await cancelLatency(withLoad);
  console.log(
    `cancel      ${withLoad ? 'among 31 calls' : 'alone         '}  rejected ${(r.latency * 1000).toFixed(0)} ms after abort() (after ${r.done} of ${r.total} layers); longest layer ${(longest * 1000).toFixed(0)} ms; beyond it ${Math.max(0, (r.latency - longest) * 1000).toFixed(0)} ms (target ≤ 100)`,
  );
}
console.log(`# load average after: ${loadavg()[0]!.toFixed(2)}`);
