#!/usr/bin/env node
/**
 * weightwatcher / ww command line: dispatches to the commands in COMMANDS (one module each in
 * cli/commands/). Exit codes (EXIT in command.ts): 0 ok, 1 nothing analysed or unusable input,
 * 2 bad usage, 3 some layers (sweep: some models) failed, 130 interrupted. Errors go to stderr and name the file and
 * what was wrong. `weightwatcher <command> --help` (or `help <command>`) prints a command's usage,
 * options, examples and the exit codes.
 */
// Must run before anything touches libuv's threadpool, and before the code V8 should tier up.
import './threadpool.js';
import './process-tuning.js';
import { usageError } from './args.js';
import { EXIT, EXIT_CODES_HELP, PROGRAM, MODEL_ARGUMENT, commandHelp, reportError, runCommand, type Command, type Io } from './command.js';
import { removeTemporaryFiles } from '../shared/atomic-write.js';
import { layerTally } from '../engine/scheduler.js';
import { VERSION } from './version.js';
import { analyze } from './commands/analyze.js';
import { describe } from './commands/describe.js';
import { esd } from './commands/esd.js';
import { compare } from './commands/compare.js';
import { sweep } from './commands/sweep.js';
import { sweepReport } from './commands/sweep-report.js';
import { worker } from './commands/worker.js';
import { info } from './commands/info.js';
import { recipe } from './commands/recipe.js';
import { distances } from './commands/distances.js';
import { smooth } from './commands/smooth.js';
import { sharpen } from './commands/sharpen.js';
import { models } from './commands/models.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  analyze,
  describe,
  esd,
  compare,
  distances,
  smooth,
  sharpen,
  recipe,
  sweep,
  sweepReport,
  worker,
  models,
  info,
];

function findCommand(name: string): Command {
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw usageError(`unknown command '${name}' (${COMMANDS.map((c) => c.name).join(', ')})`);
  return cmd;
}

export function overviewHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.usage}`.length)) + 2;
  return `${PROGRAM} ${VERSION} — data-free diagnostics for trained neural networks

usage: ${PROGRAM} <command> [arguments] [options]      (ww is the same command)

commands:
${COMMANDS.map((c) => `  ${`${c.name} ${c.usage}`.padEnd(width)}${c.summary}`).join('\n')}
  ${'help [command]'.padEnd(width)}this overview, or a command's options and examples

${MODEL_ARGUMENT}

Run '${PROGRAM} <command> --help' for a command's options, defaults and examples.

${EXIT_CODES_HELP}
`;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  try {
    switch (name) {
      case undefined:
        io.stdout.write(overviewHelp());
        return 2;
      case '--help':
      case '-h':
        io.stdout.write(overviewHelp());
        return 0;
      case 'help':
        io.stdout.write(rest[0] === undefined ? overviewHelp() : commandHelp(findCommand(rest[0])));
        return 0;
      case '--version':
      case '-v':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      default:
        return await runCommand(findCommand(name), rest, io);
    }
  } catch (e) {
    return reportError(e, io);
  }
}

/**
 * Process-level behaviour of the command (not of main(), which tests call in process):
 * - a closed stdout or stderr (`ww analyze M | head -1`) is not an error: further output is
 *   dropped and the run ends normally, without a stack trace;
 * - SIGINT / SIGTERM / SIGHUP remove the temporary files of writes in progress (their targets keep
 *   the previous content), print "interrupted after k of n layers" (the scheduler's tally of every
 *   layer this process planned and finished) and exit with 128 + the signal number (130 for Ctrl-C,
 *   143 for SIGTERM), unless the running command listens for the signal too (worker: a graceful stop).
 */
export function interruptedMessage(t: { done: number; total: number }): string {
  return t.total > 0 ? `interrupted after ${t.done} of ${t.total} layers` : 'interrupted before any layer was planned';
}

function installProcessHandlers(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
      throw e;
    });
  }
  for (const [signal, code] of [
    ['SIGINT', EXIT.interrupted],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      removeTemporaryFiles();
      // A command that handles the signal itself (the worker stops gracefully) decides how to exit.
      if (process.listenerCount(signal) !== 1) return;
      process.stderr.write(`${PROGRAM}: ${interruptedMessage(layerTally())}\n`);
      process.exit(code);
    });
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (invokedDirectly) {
  installProcessHandlers();
  // main() turns every failure into an exit code (reportError) and never rejects.
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
