/**
 * The built CLI (dist/cli/main.js) as a child process, for tests that need real separate processes
 * (queue workers that get SIGKILLed, a coordinator that is restarted). Output is collected line by
 * line and can be waited for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './corpus.js';

export const cliPath = join(projectRoot, 'dist', 'cli', 'main.js');
export const haveBuiltCli = existsSync(cliPath);
export const builtCliSkipReason = `${cliPath} is missing: run 'npm run build' before these tests`;

export interface CliProcess {
  readonly proc: ChildProcess;
  readonly name: string;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the first line matching `re` (already printed or to come); rejects when the process exits first or after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export function startCli(
  name: string,
  args: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string; echo?: boolean } = {},
): CliProcess {
  const proc = spawn(process.execPath, [cliPath, ...args], {
    cwd: opts.cwd ?? projectRoot,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    if (opts.echo) for (const l of text.split('\n').filter(Boolean)) console.log(`  [${name}] ${l}`);
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    name,
    output: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    waitFor(re, timeoutMs = 60_000) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms; output:\n${out}`));
        }, timeoutMs);
        waiters.push(w);
        void exited.then(({ code, signal }) => {
          if (waiters.includes(w)) {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`${name} exited (code ${code}, signal ${signal}) before printing ${re}; output:\n${out}`));
          }
        });
      });
    },
  };
}
