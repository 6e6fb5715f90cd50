/** Writing command results: files (atomically) or stdout ('-'), the JSON/CSV outputs, and when to print the table. */
import { jsonChunks, toCsv } from '../report/output.js';
import type { Row } from '../shared/rows.js';
import { str, usageError, type ParsedArgs } from './args.js';
import type { Io, OutStream } from './command.js';
import { writeFileAtomic, type Content } from '../shared/atomic-write.js';
import type { OutputTarget } from './output-paths.js';

/** Resolves on the first of drain, close or error, and removes all three listeners. */
function writable(stream: OutStream): Promise<void> {
  return new Promise<void>((done) => {
    const settle = (): void => {
      stream.removeListener('drain', settle);
      stream.removeListener('close', settle);
      stream.removeListener('error', settle);
      done();
    };
    stream.on('drain', settle);
    stream.on('close', settle);
    stream.on('error', settle);
  });
}

/** A stream that will take no more output (`| head -c 100` closed the pipe). */
function closed(stream: OutStream): boolean {
  const s = stream as OutStream & { destroyed?: boolean; writableEnded?: boolean };
  return s.destroyed === true || s.writableEnded === true;
}

async function writeStream(stream: OutStream, content: Content): Promise<void> {
  const pieces = typeof content === 'string' || content instanceof Uint8Array ? [content] : content;
  for await (const piece of pieces) {
    // A closed pipe takes nothing more: stop instead of queueing writes and listeners (the CLI's
    // EPIPE handler makes the end of the output a normal end of the run).
    if (closed(stream)) return;
    // Respect backpressure (a slow pipe).
    if (!stream.write(piece)) await writable(stream);
  }
}

/** Write `content` to a file (atomically), or to stdout when the path is '-'. */
export async function write(path: string, content: Content, io?: Io): Promise<void> {
  if (path === '-' && io) return writeStream(io.stdout, content);
  await writeFileAtomic(path, content);
}

/** --json FILE and --csv FILE. */
export async function writeOutputs(
  values: ParsedArgs['values'],
  payload: { details: readonly Row[]; summary: object; meta: object | (() => object) },
  io: Io,
): Promise<void> {
  const json = str(values, 'json');
  const csv = str(values, 'csv');
  const meta = payload.meta;
  // typeof 'function' leaves `object & Function` in the union, whose call is untyped: say which it is.
  if (json) await write(json, jsonChunks({ ...payload, meta: typeof meta === 'function' ? (meta as () => object)() : meta }), io);
  if (csv) await write(csv, toCsv(payload.details), io);
}

/** The --json / --csv targets of a command's values, for checkOutputs. */
export function tableOutputs(values: ParsedArgs['values']): (OutputTarget | undefined)[] {
  return (['json', 'csv'] as const).map((k) => {
    const path = str(values, k);
    return path === undefined ? undefined : { flag: `--${k}`, path, kind: 'file', stdout: true };
  });
}

/** `--json -` / `--csv -` use stdout, so the table is not printed there too. */
export function tableWanted(values: ParsedArgs['values']): boolean {
  return !values.quiet && str(values, 'json') !== '-' && str(values, 'csv') !== '-';
}

/** The single model path a command takes. */
export function modelArg(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) throw usageError(`${cmd} takes exactly one model path, got ${positionals.length}`);
  return positionals[0]!;
}
