#!/usr/bin/env node
/**
 * weightwatcher / ww command line: dispatches to the commands in COMMANDS (one module each in
 * cli/commands/). Exit codes: 0 ok, 1 failure, 2 bad usage (sweep: 3 when some models or layers
 * failed). Errors go to stderr and name the file
 * and what was wrong. `weightwatcher <command> --help` (or `help <command>`) prints a command's
 * usage, options and examples.
 */
// Must run before anything touches libuv's threadpool.
import './threadpool.js';
import { usageError } from './args.js';
import { PROGRAM, MODEL_ARGUMENT, commandHelp, reportError, runCommand, type Command, type Io } from './command.js';
import { VERSION } from './version.js';
import { analyze } from './commands/analyze.js';
import { describe } from './commands/describe.js';
import { esd } from './commands/esd.js';
import { compare } from './commands/compare.js';
import { sweep } from './commands/sweep.js';
import { sweepReport } from './commands/sweep-report.js';
import { worker } from './commands/worker.js';
import { info } from './commands/info.js';
import { distances } from './commands/distances.js';
import { smooth } from './commands/smooth.js';
import { sharpen } from './commands/sharpen.js';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [analyze, describe, esd, compare, distances, smooth, sharpen, sweep, sweepReport, worker, info];

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
`;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  try {
    switch (name) {
      case undefined:
        io.stdout.write(overviewHelp());
        return 2;
      case '--help': case '-h':
        io.stdout.write(overviewHelp());
        return 0;
      case 'help':
        io.stdout.write(rest[0] === undefined ? overviewHelp() : commandHelp(findCommand(rest[0])));
        return 0;
      case '--version': case '-v':
        io.stdout.write(`${VERSION}\n`);
        return 0;
      default:
        return await runCommand(findCommand(name), rest, io);
    }
  } catch (e) {
    return reportError(e, io);
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${(await import('node:fs')).realpathSync(process.argv[1])}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
