import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionPark } from '../../../src/adapters/http/connection-park.js';

/** What the park uses of a socket: pause, resume, destroyed. */
class FakeSocket extends EventEmitter {
  paused = false;
  destroyed = false;
  pause() {
    this.paused = true;
    return this;
  }
  resume() {
    this.paused = false;
    return this;
  }
}
const socket = () => new FakeSocket() as FakeSocket & Socket;

describe('ConnectionPark', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('pauses a parked connection and resumes the oldest still open first', () => {
    const park = new ConnectionPark(1000, () => Date.now());
    const [a, b, c] = [socket(), socket(), socket()];
    park.park(a);
    park.park(b);
    park.park(c);
    expect([a.paused, b.paused, c.paused]).toEqual([true, true, true]);
    a.destroyed = true;
    expect(park.resumeOldest()).toBe(true);
    expect([b.paused, c.paused]).toEqual([false, true]);
    expect(park.pending).toBe(1);
    expect(park.size).toBe(1);
    park.arrived(b);
    expect(park.pending).toBe(0);
    expect(park.resumeOldest()).toBe(true);
    expect(c.paused).toBe(false);
    expect(park.resumeOldest()).toBe(false);
  });

  it('resumes a connection parked for maxParkMs even while no slot frees', () => {
    const park = new ConnectionPark(1000, () => Date.now());
    const a = socket();
    park.park(a);
    vi.advanceTimersByTime(500);
    const b = socket();
    park.park(b);
    vi.advanceTimersByTime(499);
    expect([a.paused, b.paused]).toEqual([true, true]);
    vi.advanceTimersByTime(1);
    expect([a.paused, b.paused]).toEqual([false, true]);
    vi.advanceTimersByTime(500);
    expect(b.paused).toBe(false);
    expect(park.size).toBe(0);
  });

  it('stops counting a resumed connection that sends nothing for maxParkMs, or closed', () => {
    const park = new ConnectionPark(1000, () => Date.now());
    const [idle, closed, next] = [socket(), socket(), socket()];
    for (const s of [idle, closed, next]) park.park(s);
    park.resumeOldest();
    park.resumeOldest();
    expect(park.pending).toBe(2);
    closed.destroyed = true;
    vi.advanceTimersByTime(1001);
    park.resumeOldest(); // nothing left to resume (next expired and was resumed), but stale entries are forgotten
    expect(park.pending).toBe(0);
  });

  it('resumeAll resumes every parked connection (the host drains)', () => {
    const park = new ConnectionPark(1000, () => Date.now());
    const sockets = [socket(), socket()];
    for (const s of sockets) park.park(s);
    park.resumeAll();
    expect(sockets.map((s) => s.paused)).toEqual([false, false]);
    expect(park.size).toBe(0);
  });

  it('does not park a destroyed connection', () => {
    const park = new ConnectionPark(1000, () => Date.now());
    const a = socket();
    a.destroyed = true;
    park.park(a);
    expect(park.size).toBe(0);
  });
});

describe('ConnectionPark pending count', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('forgets resumed connections that closed or stayed silent without another resume being asked for', () => {
    // The listener parks while `waiting + pending >= limit` and resumes only while it is below:
    // stale entries forgotten only inside resumeOldest would park every connection forever.
    const park = new ConnectionPark(1000, () => Date.now());
    const sockets = [socket(), socket(), socket()];
    for (const s of sockets) park.park(s);
    for (const _ of sockets) park.resumeOldest();
    expect(park.pending).toBe(3);
    sockets[0]!.destroyed = true;
    vi.advanceTimersByTime(1001);
    expect(park.pending).toBe(0);
  });
});
