/** Writing command results: files or stdout ('-'), the JSON/CSV outputs, and when to print the table. */
import { writeFile } from 'node:fs/promises';
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import type { Row } from '../shared/rows.js';
import { toCsv, toJson } from '../report/output.js';
import { str, usageError, type ParsedArgs } from './args.js';
import type { Io } from './command.js';

/** Write `text` to a file, or to stdout when the path is '-'. */
export async function write(path: string, text: string, io?: Io): Promise<void> {
  if (path === '-' && io) {
    io.stdout.write(text);
    return;
  }
  try {
    await writeFile(path, text);
  } catch (e) {
    throw new WeightWatcherError('E_IO', `${path}: cannot write (${errorMessage(e)})`, { file: path, cause: e });
  }
}

/** --json FILE and --csv FILE. */
export async function writeOutputs(values: ParsedArgs['values'], payload: { details: readonly Row[]; summary: object; meta: object }, io: Io): Promise<void> {
  const json = str(values, 'json');
  const csv = str(values, 'csv');
  if (json) await write(json, toJson(payload), io);
  if (csv) await write(csv, toCsv(payload.details), io);
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
