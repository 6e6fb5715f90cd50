/** The Redis connection monitor: one line per backoff step for all of a process's connections. */
import { describe, expect, it } from 'vitest';
import {
  ConnectionMonitor,
  backoffMs,
  describeConnectionEvent,
  isConnectionError,
  type ConnectionEvent,
} from '../../src/sweep/connection.js';

describe('connection monitor', () => {
  it('backs off from 0.25 s, doubling, to at most 10 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => backoffMs(n))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('merges the retries of several connections into one event per step, then says when it is back', () => {
    const events: ConnectionEvent[] = [];
    const m = new ConnectionMonitor((e) => events.push(e));
    m.ready(); // connected at start
    m.noteError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }));
    // The main and the blocking connection both retry, in step.
    expect([m.retryStrategy(1), m.retryStrategy(1), m.retryStrategy(2), m.retryStrategy(2), m.retryStrategy(3)]).toEqual([
      250, 250, 500, 500, 1000,
    ]);
    expect(m.isDown).toBe(true);
    m.ready();
    m.ready();
    expect(events.map((e) => e.type)).toEqual(['lost', 'retry', 'retry', 'retry', 'restored']);
    expect(events[0]).toMatchObject({ type: 'lost', connected: true });
    expect(events.filter((e) => e.type === 'retry').map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2, 3]);
    expect(describeConnectionEvent(events[1]!, 'redis://h:1')).toBe('Redis at redis://h:1 unreachable (ECONNREFUSED); attempt 1 in 0.25 s');
    // A second outage starts over at attempt 1.
    m.retryStrategy(1);
    expect(events.slice(-2).map((e) => e.type)).toEqual(['lost', 'retry']);
    // Closing stops reconnecting (a dead Redis must not keep the process alive).
    m.closing = true;
    expect(m.retryStrategy(2)).toBeNull();
  });

  it('a Redis never reached is not called lost; connection errors are recognised', () => {
    const events: ConnectionEvent[] = [];
    const m = new ConnectionMonitor((e) => events.push(e));
    m.retryStrategy(1);
    expect(describeConnectionEvent(events[0]!, 'redis://h:1')).toMatch(/^cannot reach Redis at redis:\/\/h:1 yet/);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    expect(isConnectionError(new Error('Missing key for job 1. moveToFinished'))).toBe(false);
  });
});
