/**
 * What a CLI command is (name, one-line summary, usage, option groups, examples, run) and the
 * pieces every command shares: `--help` text generated from the same option specs the parser
 * uses, and the run wrapper that turns errors into messages and exit codes (EXIT).
 */
import { isWeightWatcherError, errorMessage } from '../shared/errors.js';
import { escapeControl } from '../shared/text.js';
import { parse, type OptionSpec, type OptionSpecs, type ParsedArgs } from './args.js';

/** An output stream; a terminal one has isTTY and columns. */
export type OutStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
}

export interface OptionGroup {
  /** Heading in `--help` ('selection', 'analysis', 'output', …). */
  readonly title: string;
  readonly options: OptionSpecs;
}

export interface Command {
  readonly name: string;
  /** One line, shown in the command list of `weightwatcher --help`. */
  readonly summary: string;
  /** Arguments after the command name: `<model> [options]`. */
  readonly usage: string;
  /** Paragraphs shown under the usage line. */
  readonly description?: string;
  readonly options: readonly OptionGroup[];
  /** Full command lines, without the leading `weightwatcher`. */
  readonly examples: readonly string[];
  /** Runs the command (help is handled before). Throws WeightWatcherError for bad usage and failures. */
  run(argv: string[], io: Io): Promise<number>;
}

export const PROGRAM = 'weightwatcher';

/** Exit codes a script can trust (README "Command line" documents the same). */
export const EXIT = { ok: 0, failure: 1, usage: 2, someFailed: 3, interrupted: 130 } as const;

export const EXIT_CODES_HELP = `exit codes:
  0    every planned layer was analysed
  1    nothing was analysed (no layer qualified, or every layer failed), or the input is unusable
  2    bad usage: unknown or invalid option, bad output path (checked before any work)
  3    some layers (sweep: some models) failed, listed with their errors; analyze --allow-failures: 0
  130  interrupted (Ctrl-C), 143 terminated (SIGTERM): "interrupted after k of n layers" on stderr;
       output files keep their previous content`;

export const MODEL_ARGUMENT = `<model>: a model file (.safetensors, .bin/.pt/.pth, .onnx, .gguf, .npy/.npz, TF.js model.json,
         .keras/.h5) or a folder (Hugging Face layout, sharded safetensors with index, …)`;

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };

/** Every option the command accepts (all groups merged). */
export function commandOptions(cmd: Command): OptionSpecs {
  return Object.assign({}, ...cmd.options.map((g) => g.options)) as OptionSpecs;
}

/** Parse argv against the command's options. */
export function parseCommandArgs(cmd: Command, argv: readonly string[]): ParsedArgs {
  return parse(argv, commandOptions(cmd));
}

function flagText(name: string, o: OptionSpec): string {
  const value = o.type === 'string' && o.value ? (o.implicit !== undefined ? ` [${o.value}]` : ` ${o.value}`) : '';
  const long = `--${name}${value}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

function optionLines(options: OptionSpecs, width: number): string[] {
  return Object.entries(options).map(([name, o]) => {
    const flag = flagText(name, o);
    const text = o.default === undefined ? o.description : `${o.description} (default: ${o.default})`;
    return flag.length + 2 > width ? `  ${flag}\n  ${' '.repeat(width)}${text}` : `  ${flag.padEnd(width)}${text}`;
  });
}

/** `weightwatcher <command> --help`: usage, description, options with descriptions and defaults, examples. */
export function commandHelp(cmd: Command): string {
  const groups = [...cmd.options, { title: 'help', options: { help: HELP_OPTION } }];
  const width = Math.min(28, 2 + Math.max(...groups.flatMap((g) => Object.entries(g.options).map(([n, o]) => flagText(n, o).length))));
  const parts = [
    `usage: ${PROGRAM} ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ''}`,
    '',
    cmd.summary.charAt(0).toUpperCase() + cmd.summary.slice(1) + '.',
  ];
  if (cmd.description) parts.push('', cmd.description);
  for (const g of groups) parts.push('', `${g.title}:`, ...optionLines(g.options, width));
  if (cmd.examples.length) parts.push('', 'examples:', ...cmd.examples.map((e) => `  ${PROGRAM} ${e}`));
  parts.push('', EXIT_CODES_HELP);
  return parts.join('\n') + '\n';
}

/** True when argv asks for help (before a `--` that ends the options). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Print an error the CLI way (control characters from model files escaped) and return its exit code: 2 for bad usage, 1 for anything else. */
export function reportError(e: unknown, io: Io, cmd?: Command): number {
  const usage = isWeightWatcherError(e) && e.code === 'E_USAGE';
  io.stderr.write(`${PROGRAM}: ${usage ? 'usage error' : 'error'}: ${escapeControl(errorMessage(e), { keepNewlines: true })}\n`);
  if (usage) io.stderr.write(cmd ? `run '${PROGRAM} ${cmd.name} --help' for its options\n` : `run '${PROGRAM} --help' for the commands\n`);
  return usage ? EXIT.usage : EXIT.failure;
}

/** Run one command: `--help` anywhere in argv prints its help instead of running it. */
export async function runCommand(cmd: Command, argv: string[], io: Io): Promise<number> {
  if (wantsHelp(argv)) {
    io.stdout.write(commandHelp(cmd));
    return 0;
  }
  try {
    return await cmd.run(argv, io);
  } catch (e) {
    return reportError(e, io, cmd);
  }
}
