/**
 * Where a model given by name comes from (issue 19): the flags every command that takes a model
 * lists (`--revision`, `--token`, `--offline`, `--cache-dir`, `--stream`, `--file`), their
 * translation to the library's ModelSourceOptions, and the download progress on stderr: a bar
 * with bytes/s and ETA on a terminal, a line every few seconds otherwise (logs).
 */
import { usageError, str, type OptionSpecs, type ParsedArgs } from './args.js';
import type { Io, OutStream } from './command.js';
import type { ModelSourceOptions } from '../hub/resolve.js';
import type { DownloadProgress } from '../hub/download.js';
import { escapeControl } from '../shared/text.js';

export const MODEL_SOURCE_OPTIONS = {
  revision: {
    type: 'string',
    value: 'REV',
    description: 'branch, tag or commit of a model given by name (org/name; same as org/name@REV)',
    default: 'main',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    description: 'Hugging Face token (hf_…) for gated and private repos',
    default: '$HF_TOKEN',
  },
  offline: {
    type: 'boolean',
    description: 'models by name from the local Hugging Face cache only, never a connection (also HF_HUB_OFFLINE=1)',
  },
  'cache-dir': {
    type: 'string',
    value: 'DIR',
    description: 'the Hugging Face cache to read and download into',
    default: '$HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub',
  },
  stream: {
    type: 'boolean',
    description: 'read the weights over HTTP range requests instead of downloading them (default for https:// URLs)',
  },
  file: {
    type: 'string',
    value: 'PATH',
    description: 'the file of the repo to analyse (a GGUF repo holding several; same as hf://org/name/PATH)',
  },
} as const satisfies OptionSpecs;

const MB = 1024 * 1024;
const human = (b: number) => (b >= 1024 * MB ? `${(b / 1024 / MB).toFixed(2)} GB` : `${(b / MB).toFixed(1)} MB`);
const clock = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}` : '?');

/**
 * Download progress on `stream`: a redrawn bar on a terminal, a line every `everyMs` otherwise.
 * The rate counts from the first report (the first buffer already written): a rate over that
 * buffer alone said "1000 MB/s, ETA 0:00" at 0%.
 */
export function downloadProgress(
  stream: OutStream,
  quiet: boolean,
  everyMs = 5000,
  clockMs: () => number = () => performance.now(),
): (p: DownloadProgress) => void {
  if (quiet) return () => {};
  const started = new Map<string, { t: number; fetched: number; last: number }>();
  return (p) => {
    const now = clockMs();
    const s = started.get(p.file) ?? { t: now, fetched: p.fetched, last: -Infinity };
    started.set(p.file, s);
    const secs = (now - s.t) / 1000;
    const rate = secs > 0 ? (p.fetched - s.fetched) / secs : undefined;
    const speed = rate === undefined ? '' : `${human(rate)}/s ETA ${clock(rate > 0 ? (p.total - p.bytes) / rate : Infinity)}`;
    const pct = p.total ? Math.floor((100 * p.bytes) / p.total) : 100;
    const name = escapeControl(p.file);
    if (p.waiting) {
      stream.write(`weightwatcher: another process is downloading ${name}; waiting for it\n`);
      return;
    }
    if (stream.isTTY) {
      const width = Math.min(stream.columns ?? 80, 120) - 1;
      const text = ` ${pct}% ${human(p.bytes)}/${human(p.total)}${speed && ` ${speed}`} ${name}`;
      const barWidth = Math.max(10, width - text.length - 2);
      const filled = Math.round((barWidth * pct) / 100);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${text}`.slice(0, width + 1));
      if (p.done) stream.write('\n');
      return;
    }
    if (p.done || now - s.last >= everyMs) {
      s.last = now;
      stream.write(
        p.done
          ? `weightwatcher: downloaded ${name} (${human(p.total)}${rate === undefined ? '' : `, ${human(rate)}/s`})\n`
          : `weightwatcher: downloading ${name}: ${pct}% ${human(p.bytes)} of ${human(p.total)}${speed && `, ${speed.replace(' ETA', ', ETA')}`}\n`,
      );
    }
  };
}

/** The library options of the flags in `values`, with progress on stderr unless --quiet. */
export function modelSourceOf(values: ParsedArgs['values'], io: Io): ModelSourceOptions {
  const revision = str(values, 'revision');
  const token = str(values, 'token');
  const cacheDir = str(values, 'cache-dir');
  const file = str(values, 'file');
  if (revision === '') throw usageError('--revision needs a branch, tag or commit');
  if (cacheDir === '') throw usageError('--cache-dir needs a folder');
  if (token !== undefined && !token.startsWith('hf_')) throw usageError('--token: a Hugging Face token starts with hf_');
  if (values.offline === true && values.stream === true)
    throw usageError('--offline and --stream exclude each other (streaming reads over the network)');
  return {
    ...(revision !== undefined && { revision }),
    ...(token !== undefined && { token }),
    ...(values.offline === true && { offline: true }),
    ...(cacheDir !== undefined && { cacheDir }),
    ...(values.stream === true && { stream: true }),
    ...(file !== undefined && { file }),
    onDownload: downloadProgress(io.stderr, values.quiet === true),
  };
}

/**
 * Models given by name → local paths (cached or downloaded), for the commands that read files by
 * path (compare, smooth, sharpen); each resolution is said on stderr. Local paths are returned as
 * they are. `sweep` and `analyze --queue` pass modelSourceOf() to the library's sweep() instead,
 * which resolves the names itself and records each run's commit in the results database.
 */
export async function resolveModelArgs(paths: readonly string[], source: ModelSourceOptions, io: Io, cmd: string): Promise<string[]> {
  const { resolveModel, describeResolution } = await import('../hub/resolve.js');
  const out: string[] = [];
  for (const p of paths) {
    const r = await resolveModel(p, { ...source, stream: false });
    if (r.from !== 'local' && source.stream)
      throw usageError(`--stream: ${cmd} reads local files; drop --stream to download ${p} into the cache`);
    const said = describeResolution(r);
    if (said !== undefined) io.stderr.write(`weightwatcher: note: ${escapeControl(said)}\n`);
    out.push(r.path);
  }
  return out;
}
