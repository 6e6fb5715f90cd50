/** `weightwatcher worker --queue redis://HOST:PORT`: runs the analyses queued by sweep/analyze --queue. */
import type { OptionSpecs } from '../args.js';
import { parseCommandArgs, type Command } from '../command.js';

const WORKER_OPTIONS = {
  queue: { type: 'string', value: 'redis://HOST:PORT', description: 'the Redis the coordinator queues on; required' },
  concurrency: { type: 'string', value: 'N', description: 'jobs at once (each gets the thread budget / N)', default: '1' },
  threads: { type: 'string', value: 'N', description: 'thread budget of this worker', default: 'all cores' },
  'queue-name': { type: 'string', value: 'NAME', description: 'BullMQ queue name', default: 'weightwatcher' },
  'lock-duration': {
    type: 'string',
    value: 'MS',
    description: 'how long a job stays claimed by a worker that died or froze',
    default: '10000',
  },
  'stalled-interval': { type: 'string', value: 'MS', description: "how often dead workers' jobs are looked for", default: '5000' },
} as const satisfies OptionSpecs;

export const worker: Command = {
  name: 'worker',
  summary: 'runs queued analyses from Redis (sweep/analyze --queue)',
  usage: '--queue redis://HOST:PORT [options]',
  description: `Takes the jobs queued by 'sweep --queue' and 'analyze --queue' and runs them until stopped
(Ctrl-C / SIGTERM: the jobs in hand are finished first). Run any number, on any machines that see
the models at the same absolute paths as the coordinator (a shared filesystem); a job whose model
is missing or differs here fails with a message saying so. Models given by name (org/name) need no
shared filesystem: a worker that cannot see the coordinator's snapshot resolves the same commit
through its own Hugging Face cache (HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN). One line per job on stdout.`,
  options: [{ title: 'worker', options: WORKER_OPTIONS }],
  examples: ['worker --queue redis://queue-host:6379', 'worker --queue redis://queue-host:6379 --concurrency 2 --threads 16'],
  async run(argv, io) {
    return (await import('../sweep-run.js')).runWorker(parseCommandArgs(worker, argv), io);
  },
};
