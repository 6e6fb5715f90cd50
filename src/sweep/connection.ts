/**
 * The state of a process's connections to Redis, and how they are retried. A coordinator or worker
 * holds several ioredis connections (BullMQ opens a blocking one beside the main one); when Redis
 * goes away they all fail together and ioredis calls the retry strategy of each. The monitor merges
 * them into one story: `lost` once, then one `retry` per backoff step (0.25 s, doubling, at most
 * 10 s), then `restored` — instead of the raw `ECONNREFUSED` error each connection emits on every
 * attempt. Loaded only with a queue (no bullmq or ioredis import here, so it is cheap either way).
 */

export type ConnectionEvent =
  /** `connected`: false when the connection never came up (Redis unreachable from the start). */
  | { type: 'lost'; reason: string; connected: boolean }
  | { type: 'retry'; attempt: number; delayMs: number; reason: string }
  | { type: 'restored'; downMs: number };

/** Backoff of reconnection attempts: 250 ms doubling up to `maxMs`. */
export function backoffMs(attempt: number, maxMs = 10_000): number {
  return Math.min(maxMs, 250 * 2 ** Math.max(0, Math.min(attempt - 1, 20)));
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** True for the errors a lost or refused connection produces (reported by the monitor instead). */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  if (err && typeof err.code === 'string' && CONNECTION_CODES.has(err.code)) return true;
  const msg = err && typeof err.message === 'string' ? err.message : String(e);
  return /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|connect E|Stream isn't writeable/i.test(msg);
}

export class ConnectionMonitor {
  private down = false;
  private connected = false;
  private downSince = 0;
  private lastAttempt = 0;
  private reason = 'connection closed';
  /** Set when the owner is closing: reconnecting stops, so a dead Redis does not keep the process alive. */
  closing = false;

  constructor(
    private readonly onEvent: (e: ConnectionEvent) => void = () => {},
    readonly maxBackoffMs = 10_000,
  ) {}

  get isDown(): boolean {
    return this.down;
  }

  /** The last connection error seen (for the messages). */
  noteError(e: unknown): void {
    const err = e as { code?: unknown; message?: unknown } | null;
    this.reason = err && typeof err.code === 'string' ? err.code : err && typeof err.message === 'string' ? err.message : String(e);
  }

  /** Something other than ioredis noticed (a ping went unanswered). */
  lost(reason: string): void {
    if (this.down || this.closing) return;
    this.down = true;
    this.downSince = Date.now();
    this.lastAttempt = 0;
    this.reason = reason;
    this.onEvent({ type: 'lost', reason, connected: this.connected });
  }

  /** ioredis retryStrategy: called by every connection of the process for each attempt. */
  readonly retryStrategy = (times: number): number | null => {
    if (this.closing) return null;
    this.lost(this.reason);
    const delayMs = backoffMs(times, this.maxBackoffMs);
    // Several connections retry in step: one line per step, not per connection.
    if (times > this.lastAttempt) {
      this.lastAttempt = times;
      this.onEvent({ type: 'retry', attempt: times, delayMs, reason: this.reason });
    }
    return delayMs;
  };

  /** A connection is ready again. */
  ready(): void {
    this.connected = true;
    if (!this.down) return;
    this.down = false;
    this.lastAttempt = 0;
    this.onEvent({ type: 'restored', downMs: Date.now() - this.downSince });
  }

  /** Follow an ioredis client's events (BullMQ exposes its clients as promises). */
  watch(client: { on(event: string, f: (...a: unknown[]) => void): unknown }): void {
    client.on('ready', () => this.ready());
    client.on('error', (e: unknown) => {
      if (isConnectionError(e)) this.noteError(e);
    });
  }
}

/** Words for a connection event: `lost the connection to Redis at URL (ECONNREFUSED); retrying…`. */
export function describeConnectionEvent(e: ConnectionEvent, where: string): string {
  switch (e.type) {
    case 'lost':
      return e.connected
        ? `lost the connection to Redis at ${where} (${e.reason}); retrying with backoff`
        : `cannot reach Redis at ${where} yet (${e.reason}); retrying with backoff`;
    case 'retry':
      return `Redis at ${where} unreachable (${e.reason}); attempt ${e.attempt} in ${(e.delayMs / 1000).toFixed(e.delayMs < 1000 ? 2 : 0)} s`;
    case 'restored':
      return `connected to Redis at ${where} again after ${(e.downMs / 1000).toFixed(1)} s`;
  }
}
