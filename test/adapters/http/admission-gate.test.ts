/**
 * The admission gate: in-flight limit, FIFO, refusal on a full FIFO or a predicted wait past
 * maxWaitMs, expiry of waiters; fake timers and a fake clock, no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdaptiveLimit } from '../../../src/adapters/http/adaptive-limit.js';
import { AdmissionGate, WaitExpired, type Entry, type Permit } from '../../../src/adapters/http/admission-gate.js';
import { settlePermit } from '../../../src/adapters/http/node-listener.js';

function admitted(entry: Entry): Permit {
  if (entry.kind !== 'admitted') throw new Error(`expected admitted, got ${entry.kind}`);
  return entry.permit;
}

function queued(entry: Entry): Extract<Entry, { kind: 'queued' }> {
  if (entry.kind !== 'queued') throw new Error(`expected queued, got ${entry.kind}`);
  return entry;
}

describe('AdmissionGate', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());
  const clock = () => Date.now();

  it('admits up to the limit, queues the next in arrival order, admits them as permits are released', async () => {
    const gate = new AdmissionGate({ limit: 2, maxWaiting: 10, maxWaitMs: 1000, clock });
    const a = admitted(gate.enter());
    admitted(gate.enter());
    const c = queued(gate.enter());
    const d = queued(gate.enter());
    expect(gate.inFlight).toBe(2);
    expect(gate.waiting).toBe(2);
    const order: string[] = [];
    void c.permit.then(() => order.push('c'));
    void d.permit.then(() => order.push('d'));
    a.release();
    a.release(); // idempotent: frees one slot only
    await Promise.resolve();
    expect(order).toEqual(['c']);
    expect(gate.inFlight).toBe(2);
    expect(gate.waiting).toBe(1);
  });

  it('never lets a newcomer pass a waiting request, even when a slot is free', () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 10, maxWaitMs: 1000, clock });
    admitted(gate.enter());
    queued(gate.enter());
    expect(queued(gate.enter())).toBeDefined();
  });

  it('refuses at once when maxWaiting requests already wait', () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 2, maxWaitMs: 1000, clock });
    admitted(gate.enter());
    queued(gate.enter());
    queued(gate.enter());
    expect(gate.enter()).toMatchObject({ kind: 'refused', reason: 'full', retryAfterMs: 1000 });
  });

  it('a cancelled waiter leaves the FIFO and is never admitted', async () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 1, maxWaitMs: 1000, clock });
    const first = admitted(gate.enter());
    const gone = queued(gate.enter());
    gone.cancel();
    expect(gate.waiting).toBe(0);
    const next = queued(gate.enter()); // the place is free again
    let goneAdmitted = false;
    void gone.permit.then(() => (goneAdmitted = true));
    first.release();
    await expect(next.permit).resolves.toBeDefined();
    expect(goneAdmitted).toBe(false);
  });

  it('a cancel that comes after the waiter was admitted or expired (before its callback ran) changes nothing', async () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 10, maxWaitMs: 1000, clock });
    const first = admitted(gate.enter());
    const admittedLate = queued(gate.enter());
    const expiring = queued(gate.enter());
    first.release(); // admits `admittedLate` ...
    admittedLate.cancel(); // ... and its connection closes in the same turn
    expect(gate.waiting).toBe(1);
    expect(gate.inFlight).toBe(1);
    vi.advanceTimersByTime(1000);
    await expect(expiring.permit).rejects.toBeInstanceOf(WaitExpired);
    expiring.cancel();
    expect(gate.waiting).toBe(0);
    (await admittedLate.permit).yield();
    // Back at rest: the next request is admitted at once.
    admitted(gate.enter());
  });

  it('rejects a waiter with WaitExpired after maxWaitMs, with one timer for the FIFO', async () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 10, maxWaitMs: 1000, clock });
    admitted(gate.enter());
    const early = queued(gate.enter());
    vi.advanceTimersByTime(400);
    const late = queued(gate.enter());
    expect(vi.getTimerCount()).toBe(1);
    const earlyResult = early.permit.catch((e: unknown) => e);
    vi.advanceTimersByTime(600);
    const error = await earlyResult;
    expect(error).toBeInstanceOf(WaitExpired);
    expect((error as WaitExpired).waitedMs).toBe(1000);
    expect(gate.waiting).toBe(1);
    const lateResult = late.permit.catch((e: unknown) => e);
    vi.advanceTimersByTime(400);
    expect(await lateResult).toBeInstanceOf(WaitExpired);
    expect(gate.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses on arrival a request whose predicted wait (requests ahead × latency ÷ limit) passes maxWaitMs', () => {
    const gate = new AdmissionGate({ limit: 2, maxWaiting: 1000, maxWaitMs: 1000, clock });
    // Requests take 100 ms each, two at a time: 20 per second, however long the server idled before.
    const permit = admitted(gate.enter());
    vi.advanceTimersByTime(100);
    permit.release();
    vi.advanceTimersByTime(60_000);
    expect(gate.completionsPerSecond).toBeCloseTo(20, 5);
    admitted(gate.enter());
    admitted(gate.enter());
    // At 20/s, 20 waiters drain in 1 s: the 20th still fits, the 21st does not.
    for (let i = 0; i < 20; i++) queued(gate.enter());
    expect(gate.enter()).toMatchObject({ kind: 'refused', reason: 'wait' });
    expect((gate.enter() as { retryAfterMs: number }).retryAfterMs).toBeCloseTo(1050, 5);
  });

  it('follows an adaptive limit: minLimit while it measures, more once it has', () => {
    const limit = new AdaptiveLimit({ minLimit: 2, initialLimit: 5, windowMs: 10, windowSamples: 2 });
    const gate = new AdmissionGate({ limit, maxWaiting: 10, maxWaitMs: 1000, clock });
    expect(gate.limit).toBe(2);
    for (let i = 0; i < 2; i++) {
      const permit = admitted(gate.enter());
      vi.advanceTimersByTime(10);
      permit.release();
    }
    expect(gate.limit).toBe(5);
    for (let i = 0; i < 5; i++) admitted(gate.enter());
    queued(gate.enter());
  });
});

describe('settlePermit (the listener frees a slot when its response closes)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('learns latency only from answers that took the model’s time: a fast 400/404/429, or a client that left, frees the slot and teaches nothing', () => {
    const gate = new AdmissionGate({ limit: 1, maxWaiting: 10, maxWaitMs: 1000, clock: () => Date.now() });
    const ok = admitted(gate.enter());
    vi.advanceTimersByTime(100);
    settlePermit(ok, { statusCode: 200, writableFinished: true });
    expect(gate.completionsPerSecond).toBe(10);
    for (const [statusCode, writableFinished] of [[400, true], [404, true], [429, true], [503, true], [200, false]] as const) {
      const fast = admitted(gate.enter());
      vi.advanceTimersByTime(1);
      settlePermit(fast, { statusCode, writableFinished });
      expect(gate.inFlight).toBe(0);
      expect(gate.completionsPerSecond, `${statusCode} ${writableFinished}`).toBe(10);
    }
    const failed = admitted(gate.enter());
    vi.advanceTimersByTime(200);
    settlePermit(failed, { statusCode: 504, writableFinished: true });
    expect(gate.completionsPerSecond).toBeCloseTo(1000 / 110, 9);
  });
});
