/**
 * What the `sweep`, `sweep-report` and `worker` commands (and `analyze --queue`) do once their
 * arguments are parsed. Loaded only when one of them runs: it loads the sweep modules (SQLite on
 * first use; the queue client only with --queue). Exit codes: 0 all ok; 1 nothing analysed or
 * unusable input; 2 bad usage; 3 some models or layers failed (listed with their errors).
 */
import { hostname } from 'node:os';
import type { Row } from '../shared/rows.js';
import type { AnalyzeOptions } from '../shared/options.js';
import type { Summary } from '../report/summary.js';
import type { SkippedLayer } from '../engine/plan.js';
import type { LayerFailure } from '../engine/analyze.js';
import { jsonSafe } from '../report/output.js';
import { fmt } from '../report/plots/data.js';
import { writeFileAtomic } from '../shared/atomic-write.js';
import { WeightWatcherError, isErrorCode } from '../shared/errors.js';
import { importOptional } from '../shared/optional-import.js';
import { sweep, type SweepOptions, type SweepProgress, type SweepResult } from '../sweep/sweep.js';
import { sweepReport } from '../sweep/report.js';
import { describeConnectionEvent } from '../sweep/connection.js';
import { displayUrl } from '../sweep/redis.js';
import { plotScale, str, toAnalyzeOptions, usageError, type ParsedArgs } from './args.js';
import type { Io } from './command.js';
import { checkOutputs } from './output-paths.js';
import { modelSourceOf } from './model-source-options.js';

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw usageError(`--${name} expects an integer ≥ ${min}, got '${v}'`);
  return Number(v);
}

function fmtSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** One progress line per model: `[2/5] checkpoint-400 (step 400): analysed, 18 layers in 0.31 s; ETA 0.9 s`. */
export function progressLine(p: SweepProgress): string {
  const head = `[${String(p.done).padStart(String(p.total).length)}/${p.total}] ${p.model} (step ${p.step})`;
  const eta = p.etaMs !== undefined && p.done < p.total ? `; ETA ${fmtSeconds(p.etaMs)}` : '';
  if (p.status === 'cached') return `${head}: in the database already (${p.layers} layers)${eta}`;
  if (p.status === 'failed') return `${head}: FAILED: ${p.error ?? 'unknown error'}${eta}`;
  return `${head}: analysed, ${p.layers} layers in ${fmtSeconds(p.elapsedMs)}${p.failedLayers ? ` (${p.failedLayers} layers failed)` : ''}${eta}`;
}

function queueOptions(values: ParsedArgs['values']): Pick<SweepOptions, 'queue' | 'queueName' | 'layersPerJob' | 'pollMs'> {
  const queue = str(values, 'queue');
  const out: Pick<SweepOptions, 'queue' | 'queueName' | 'layersPerJob' | 'pollMs'> = {};
  if (queue !== undefined) out.queue = queue;
  const name = str(values, 'queue-name');
  if (name !== undefined) out.queueName = name;
  const lpj = int('layers-per-job', str(values, 'layers-per-job'), 1);
  if (lpj !== undefined) out.layersPerJob = lpj;
  const poll = int('poll-ms', str(values, 'poll-ms'), 10);
  if (poll !== undefined) out.pollMs = poll;
  if (!queue && (name !== undefined || lpj !== undefined))
    throw usageError('--queue-name and --layers-per-job need --queue redis://HOST:PORT');
  return out;
}

/** The coordinator's lines about Redis faults: lost and retried connections, jobs queued again, jobs taken over from dead workers. */
function queueNotes(who: string, url: string, io: Io): Pick<SweepOptions, 'onConnection' | 'onRequeued' | 'onStalled'> {
  return {
    onConnection: (e) => io.stderr.write(`${who}: ${describeConnectionEvent(e, displayUrl(url))}\n`),
    onRequeued: (i) => io.stderr.write(`${who}: queued ${i.jobs} unfinished jobs again (Redis no longer had them)\n`),
    onStalled: (i) =>
      io.stderr.write(
        `${who}: ${i.model} (part ${i.part}): its worker stopped renewing the job's lock (killed or frozen); the job goes to another worker\n`,
      ),
  };
}

function sweepJson(res: SweepResult): string {
  return (
    JSON.stringify(
      jsonSafe({
        runs: res.runs.map((r) => ({
          model: r.model,
          step: r.step,
          summary: r.summary,
          details: r.details,
          status: r.status,
          path: r.path,
          run_key: r.runKey,
          failures: r.failures,
          ...(r.error ? { error: r.error } : {}),
        })),
      }),
      null,
      1,
    ) + '\n'
  );
}

function runsTable(res: SweepResult): string {
  const head = ['step', 'model', 'status', 'layers', 'α<2', 'α>6', 'alpha'];
  const count = (rows: readonly Row[], f: (a: number) => boolean) =>
    rows.filter((r) => typeof r.alpha === 'number' && r.alpha >= 0 && f(r.alpha)).length;
  const rows = res.runs.map((r) => [
    String(r.step),
    r.model,
    r.status,
    String(r.details.length),
    String(count(r.details, (a) => a < 2)),
    String(count(r.details, (a) => a > 6)),
    r.summary.alpha === undefined ? '' : fmt(r.summary.alpha),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === 1 || i === 2 ? x.padEnd(w[i]!) : x.padStart(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

/** weightwatcher sweep */
export async function runSweep({ values, positionals }: ParsedArgs, io: Io): Promise<number> {
  const db = str(values, 'db');
  if (!db) throw usageError('sweep needs --db FILE.sqlite (the results database)');
  if (!positionals.length) throw usageError('sweep needs at least one model (file, folder or glob)');
  const fingerprint = str(values, 'fingerprint');
  if (fingerprint !== undefined && fingerprint !== 'sampled' && fingerprint !== 'full')
    throw usageError(`--fingerprint must be sampled or full, got '${fingerprint}'`);
  const analyze: AnalyzeOptions = toAnalyzeOptions(values);
  const stepRegex = str(values, 'step-regex');
  const q = queueOptions(values);
  const jsonOut = str(values, 'json');
  await checkOutputs(
    [
      jsonOut === undefined ? undefined : { flag: '--json', path: jsonOut, kind: 'file', stdout: true },
      { flag: '--db', path: db, kind: 'file' },
    ],
    positionals,
  );
  const started = performance.now();
  if (q.queue)
    io.stderr.write(
      `sweep: coordinator on ${q.queue} (queue ${q.queueName ?? 'weightwatcher'}, host ${hostname()}); workers: weightwatcher worker --queue ${q.queue}\n`,
    );
  const res = await sweep(positionals, {
    ...analyze,
    ...q,
    // Models given by name are resolved by sweep() itself, which records the commit of each run.
    ...modelSourceOf(values, io),
    db,
    ...(stepRegex !== undefined ? { stepRegex } : {}),
    ...(fingerprint ? { fingerprint: fingerprint } : {}),
    force: values.force === true,
    ...(values['no-spectra'] === true ? { spectra: false } : {}),
    onProgress: (p) => io.stderr.write(progressLine(p) + '\n'),
    onNote: (n) => io.stderr.write(`sweep: note: ${n}\n`),
    onIdle: (i) =>
      io.stderr.write(`sweep: ${i.outstanding} jobs waiting and no worker connected; start one: weightwatcher worker --queue ${q.queue}\n`),
    onQueued: (i) =>
      io.stderr.write(
        `sweep: queued ${i.added} jobs${i.found ? `, ${i.found} found in the queue from an earlier coordinator` : ''}${i.stored ? `, ${i.stored} already in the database` : ''}\n`,
      ),
    ...(q.queue ? queueNotes('sweep', q.queue, io) : {}),
  });
  if (jsonOut === '-') io.stdout.write(sweepJson(res));
  else if (jsonOut) await writeFileAtomic(jsonOut, sweepJson(res));
  if (!values.quiet && jsonOut !== '-') io.stdout.write(runsTable(res));
  const elapsed = fmtSeconds(performance.now() - started);
  io.stderr.write(
    `sweep: ${res.runs.length} models: ${res.analysed} analysed, ${res.cached} from the database, ${res.failed} failed, in ${elapsed}${q.queue ? `; ${res.retries} job retries (${res.stalled} recovered from dead workers)` : ''} → ${db}${jsonOut && jsonOut !== '-' ? `, ${jsonOut}` : ''}\n`,
  );
  const failedRuns = res.runs.filter((r) => r.status === 'failed');
  const failedLayers = res.runs.flatMap((r) => r.failures.map((f) => ({ model: r.model, f })));
  for (const r of failedRuns) io.stderr.write(`weightwatcher: model failed: ${r.model}: ${r.error ?? 'unknown error'}\n`);
  for (const { model, f } of failedLayers)
    io.stderr.write(`weightwatcher: layer failed: ${model}: layer ${f.layer_id} ${f.name}: ${f.message}\n`);
  if (res.runs.length && failedRuns.length === res.runs.length) return 1;
  return failedRuns.length || failedLayers.length ? 3 : 0;
}

function parseSweepSelector(v: string | undefined): number | 'latest' | 'all' | undefined {
  if (v === undefined) return undefined;
  if (v === 'latest' || v === 'all') return v;
  if (/^\d+$/.test(v)) return Number(v);
  throw usageError(`--sweep expects a sweep id, latest or all, got '${v}'`);
}

/** weightwatcher sweep-report */
export async function runSweepReport({ values, positionals }: ParsedArgs, io: Io): Promise<number> {
  if (positionals.length) throw usageError(`sweep-report takes no positional arguments (got ${positionals.join(' ')}); use --db FILE`);
  const db = str(values, 'db');
  if (!db) throw usageError('sweep-report needs --db FILE.sqlite');
  const report = str(values, 'report');
  if (report !== undefined && !/\.html?$/i.test(report)) throw usageError(`--report ${report}: the file name must end in .html`);
  const sel = parseSweepSelector(str(values, 'sweep'));
  const top = int('top', str(values, 'top'), 1);
  const plot = str(values, 'plot');
  const scale = plotScale(values);
  if (scale !== undefined && plot === undefined) throw usageError('--plot-scale sets the size of the PNGs --plot writes');
  await checkOutputs(
    [
      plot === undefined ? undefined : { flag: '--plot', path: plot, kind: 'folder' },
      report === undefined ? undefined : { flag: '--report', path: report, kind: 'file' },
    ],
    [db],
  );
  const r = await sweepReport({
    db,
    ...(sel !== undefined ? { sweep: sel } : {}),
    ...(plot ? { plot } : {}),
    ...(scale !== undefined ? { png: { scale } } : {}),
    ...(report ? { report } : {}),
    ...(top !== undefined ? { top } : {}),
  });
  io.stdout.write(r.text);
  if (r.incomplete) io.stderr.write(`sweep-report: warning: ${r.notes[0]}\n`);
  if (r.files.length)
    io.stderr.write(
      `sweep-report: wrote ${r.files.length} files${plot ? ` (figures in ${plot})` : ''}${report ? ` (report ${report})` : ''}\n`,
    );
  return 0;
}

/** weightwatcher worker */
export async function runWorker({ values, positionals }: ParsedArgs, io: Io): Promise<number> {
  if (positionals.length) throw usageError(`worker takes no positional arguments (got ${positionals.join(' ')})`);
  const queue = str(values, 'queue');
  if (!queue) throw usageError('worker needs --queue redis://HOST:PORT');
  const { parseQueueUrl } = await import('../sweep/redis.js');
  parseQueueUrl(queue);
  const { startWorker } = await importOptional('queue', () => import('../sweep/worker.js'));
  const say = (s: string) => io.stdout.write(`worker: ${s}\n`);
  const concurrency = int('concurrency', str(values, 'concurrency'), 1);
  const threads = int('threads', str(values, 'threads'), 1);
  const lock = int('lock-duration', str(values, 'lock-duration'), 100);
  const stalled = int('stalled-interval', str(values, 'stalled-interval'), 100);
  const name = str(values, 'queue-name');
  const w = await startWorker({
    queue,
    ...(name !== undefined ? { queueName: name } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(lock !== undefined ? { lockDurationMs: lock } : {}),
    ...(stalled !== undefined ? { stalledIntervalMs: stalled } : {}),
    onEvent: (e) => {
      switch (e.type) {
        case 'ready':
          say(`${e.worker} ready on ${e.queue}`);
          break;
        case 'holding':
          say(`holding job ${e.jobId} (${e.label}, part ${e.part}) for ${e.ms} ms (WEIGHTWATCHER_TEST_HOLD_JOB_MS)`);
          break;
        case 'started':
          say(`job ${e.jobId} started: ${e.label}, part ${e.part}, attempt ${e.attempt}`);
          break;
        case 'done':
          say(`job ${e.jobId} done: ${e.rows} rows in ${fmtSeconds(e.elapsedMs)}`);
          break;
        case 'failed':
          say(`job ${e.jobId} failed (attempt ${e.attempt}): ${e.error}`);
          break;
        case 'stalled':
          say(`job ${e.jobId}: its worker stopped renewing the lock (killed or frozen); taken back into the queue`);
          break;
        case 'kept':
          say(`job ${e.jobId}: result kept (${e.reason})`);
          break;
        case 'handed-over':
          say(`job ${e.jobId}: kept result handed over`);
          break;
        case 'dropped':
          say(`job ${e.jobId}: result dropped (${e.reason})`);
          break;
        case 'lost-job':
          say(
            `job ${e.jobId}: Redis no longer holds it for this worker (restarted empty, or the lock expired); its result goes through the mailbox`,
          );
          break;
        case 'connection':
          io.stderr.write(`worker: ${describeConnectionEvent(e.event, e.queue)}\n`);
          break;
        case 'error':
          io.stderr.write(`worker: error: ${e.error}\n`);
          break;
      }
    },
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      say(`${sig}: finishing the jobs in hand, then stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      w.close().then(resolve, resolve);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  say('stopped');
  return 0;
}

export interface QueuedAnalysis {
  details: Row[];
  summary: Summary;
  run: { source: string; format: string; elapsedMs: number; skipped: SkippedLayer[]; failures: LayerFailure[] };
  /** What a model given by name was resolved to (the run info's notes). */
  notes: string[];
  retries: number;
  stalled: number;
}

/** analyze --queue: one model as layer-group jobs over the workers; the rows are those of a single run. */
export async function analyzeOnQueue(path: string, analyze: AnalyzeOptions, values: ParsedArgs['values'], io: Io): Promise<QueuedAnalysis> {
  const q = queueOptions(values);
  const db = str(values, 'db') ?? ':memory:';
  const layersPerJob = q.layersPerJob ?? 8;
  io.stderr.write(
    `analyze: coordinator on ${q.queue} (queue ${q.queueName ?? 'weightwatcher'}), ${layersPerJob} layers per job; workers: weightwatcher worker --queue ${q.queue}\n`,
  );
  const { threads: _threads, onProgress: _p, keep_evals: _k, ...rest } = analyze;
  const notes: string[] = [];
  const res = await sweep([path], {
    ...rest,
    ...q,
    ...modelSourceOf(values, io),
    onNote: (n) => notes.push(n),
    layersPerJob,
    db,
    // One model's rows are all analyze --queue returns: no ESDs to carry through Redis.
    spectra: false,
    onIdle: (i) =>
      io.stderr.write(
        `analyze: ${i.outstanding} jobs waiting and no worker connected; start one: weightwatcher worker --queue ${q.queue}\n`,
      ),
    onQueued: (i) =>
      io.stderr.write(
        `analyze: queued ${i.added} jobs${i.found ? `, ${i.found} found in the queue from an earlier coordinator` : ''}${i.stored ? `, ${i.stored} already in the database` : ''}\n`,
      ),
    ...queueNotes('analyze', q.queue!, io),
  });
  const r = res.runs[0];
  if (!r) throw new WeightWatcherError('E_INTERNAL', `${path}: the queue run returned no result`);
  if (r.status === 'failed') {
    // The workers' message starts with the error's code (E_CORRUPT: …): keep it.
    const code = /^(?:layers \S+: )?(E_[A-Z_]+): /.exec(r.error ?? '')?.[1];
    throw new WeightWatcherError(code && isErrorCode(code) ? code : 'E_INTERNAL', `${path}: ${r.error ?? 'the analysis failed'}`, {
      file: path,
    });
  }
  return {
    details: r.details,
    summary: r.summary,
    run: { source: r.source ?? path, format: r.format ?? '', elapsedMs: res.elapsedMs, skipped: r.skipped, failures: r.failures },
    notes,
    retries: res.retries,
    stalled: res.stalled,
  };
}
