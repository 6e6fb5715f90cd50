/**
 * A redis-server the fault tests can kill and bring back on the same port (empty: no persistence),
 * like test/helpers/redis.ts's, plus a raw one-command client (no client library in the test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisServerArgs, redisServerPath, redisSkipReason } from '../helpers/redis.js';

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  /** Kill the server (SIGKILL: no shutdown, clients see the connection drop) and wait for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Send a signal (SIGSTOP / SIGCONT: freeze it with its connections open). */
  signal(sig: NodeJS.Signals): void;
  /** Start it again on the same port, empty; resolves when it answers PING. */
  restart(): Promise<void>;
  /** One command; the raw RESP reply's first line (`:0`, `+OK`, `$-1`). */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function send(port: number, args: readonly string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const done = (r: string) => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done(''));
    s.once('error', () => done(''));
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      buf += d.toString();
      const eol = buf.indexOf('\r\n');
      if (eol >= 0) done(buf.slice(0, eol));
    });
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

export async function startRedisOnPort(): Promise<RedisProcess> {
  if (!redisServerPath) throw new Error(redisSkipReason);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ww-redis-faults-'));
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const p = spawn(redisServerPath!, redisServerArgs(port, dir), { stdio: 'ignore' });
    proc = p;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && p.exitCode === null) {
      if ((await send(port, ['PING'], 500)) === '+PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    p.kill('SIGKILL');
    throw new Error(`redis-server did not start on port ${port}`);
  };
  await launch();
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill(signal);
    await Promise.race([exited(p), new Promise((r) => setTimeout(r, 5000))]);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    signal: (sig) => {
      proc?.kill(sig);
    },
    restart: launch,
    command: (...args) => send(port, args),
    async stop() {
      await kill('SIGTERM');
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
