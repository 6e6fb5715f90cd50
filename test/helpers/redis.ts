/**
 * A real Redis for queue tests: Debian's redis-server on 127.0.0.1, a free port, no persistence
 * (--save '' --appendonly no), stopped by the test. Tests skip with a message only when
 * redis-server is not installed (CI installs it: scripts/install-system-deps.sh).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const redisServerPath = (() => {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
})();
export const haveRedis = redisServerPath !== undefined;
export const redisSkipReason =
  'redis-server is not installed (apt-get install redis-server, or bash scripts/install-system-deps.sh); skipping the queue tests';
if (!haveRedis) console.warn(redisSkipReason);

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket (no client library needed): true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

/** redis-server on 127.0.0.1:`port`, in the foreground, without persistence, its files in `dir`. */
export function redisServerArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
  ];
}

/** Start redis-server on a free port and wait until it answers PING (up to 10 s). */
export async function startRedis(): Promise<RedisServer> {
  if (!redisServerPath) throw new Error(redisSkipReason);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ww-redis-'));
    const proc = spawn(redisServerPath, redisServerArgs(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stdout.on('data', (d) => {
      log += d;
    });
    proc.stderr.on('data', (d) => {
      log += d;
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && proc.exitCode === null) {
      if (await ping(port)) {
        return {
          url: `redis://127.0.0.1:${port}`,
          port,
          async stop() {
            if (proc.exitCode === null) {
              proc.kill('SIGTERM');
              await Promise.race([exited(proc), new Promise((r) => setTimeout(r, 5000))]);
              if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
            }
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    if (!/Address already in use/i.test(log) && attempt === 4)
      throw new Error(`redis-server did not start on port ${port}: ${log.slice(-500)}`);
  }
  throw new Error('redis-server did not start after 5 attempts (ports in use?)');
}
