/** `weightwatcher info`: the native build, for bug reports and benchmarks. */
import { nativeInfo } from '../../native/binding.js';
import { usageError } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';
import { VERSION } from '../version.js';

export const info: Command = {
  name: 'info',
  summary: 'native build: BLAS, LAPACK, OpenBLAS core type, threads',
  usage: '',
  description: "Prints the version, Node.js version and the native addon's BLAS/LAPACK build as JSON.",
  options: [],
  examples: ['info'],
  async run(argv, io) {
    const { positionals } = parseCommandArgs(info, argv);
    if (positionals.length) throw usageError(`info takes no arguments, got ${positionals.join(' ')}`);
    io.stdout.write(JSON.stringify({ version: VERSION, node: process.version, ...nativeInfo() }, null, 2) + '\n');
    return 0;
  },
};
