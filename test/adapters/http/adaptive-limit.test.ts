/**
 * The adaptive in-flight limit, driven by a fake clock: samples carry their own times, so
 * every step is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../../src/adapters/http/adaptive-limit.js';

/** Feeds one window of `samples` requests of `rttMs` each, admitted with `inflight` in flight; returns the clock after it. */
function window(limit: AdaptiveLimit, now: number, rttMs: number, inflight: number, samples = limit.options.windowSamples): number {
  const step = limit.options.windowMs / (samples - 1);
  for (let i = 0; i < samples; i++) limit.sample(rttMs, inflight, now + i * step);
  return now + limit.options.windowMs + step;
}

describe('AdaptiveLimit', () => {
  const options = { minLimit: 4, maxLimit: 100, initialLimit: 16, tolerance: 2, windowMs: 100, windowSamples: 10, minRttIntervalMs: 10_000 };

  it('holds minLimit while it measures the no-load latency, then starts from initialLimit', () => {
    const limit = new AdaptiveLimit(options);
    expect(limit.limit).toBe(4);
    expect(limit.minRttMs).toBeUndefined();
    window(limit, 0, 2, 4);
    expect(limit.minRttMs).toBe(2);
    expect(limit.limit).toBe(16);
  });

  it('does not close a window before both windowMs and windowSamples have passed', () => {
    const limit = new AdaptiveLimit(options);
    for (let i = 0; i < 50; i++) limit.sample(2, 4, i); // 50 samples within 50 ms
    expect(limit.minRttMs).toBeUndefined();
    limit.sample(2, 4, 100);
    expect(limit.minRttMs).toBe(2);
  });

  it('grows by √limit per window while latency stays within tolerance × the no-load latency', () => {
    const limit = new AdaptiveLimit(options);
    let now = window(limit, 0, 2, 4);
    now = window(limit, now, 3.9, 16); // 3.9 ms ≤ 2 × 2 ms: no queueing
    expect(limit.limit).toBe(20); // 16 + √16
    window(limit, now, 4, 20);
    expect(limit.limit).toBe(24); // 20 + √20 = 24.47
  });

  it('does not grow while the limit is not used (fewer than half of it in flight)', () => {
    const limit = new AdaptiveLimit(options);
    const now = window(limit, 0, 2, 4);
    window(limit, now, 2, 7);
    expect(limit.limit).toBe(16);
  });

  it('shrinks in proportion when latency passes tolerance × the no-load latency, at most by half a window, never below minLimit', () => {
    const limit = new AdaptiveLimit(options);
    let now = window(limit, 0, 2, 4);
    now = window(limit, now, 5, 16); // gradient 4 / 5 = 0.8
    expect(limit.limit).toBe(12); // 16 × 0.8 = 12.8
    now = window(limit, now, 100, 12); // gradient 0.04, clamped to 0.5
    expect(limit.limit).toBe(6);
    now = window(limit, now, 100, 6);
    now = window(limit, now, 100, 4);
    expect(limit.limit).toBe(4);
  });

  it('never passes maxLimit', () => {
    const limit = new AdaptiveLimit({ ...options, maxLimit: 18 });
    let now = window(limit, 0, 2, 4);
    for (let i = 0; i < 5; i++) now = window(limit, now, 2, 100);
    expect(limit.limit).toBe(18);
  });

  it('measures the no-load latency again every minRttIntervalMs, at minLimit, and keeps its estimate meanwhile', () => {
    const limit = new AdaptiveLimit({ ...options, minRttIntervalMs: 1000 });
    let now = window(limit, 0, 2, 4);
    now = window(limit, now, 2, 16); // 20
    now = window(limit, 2000, 3, 20); // past the interval: this window still updates (24), then measuring starts
    expect(limit.limit).toBe(4);
    now = window(limit, now, 10, 4); // the new no-load latency
    expect(limit.minRttMs).toBe(10);
    expect(limit.limit).toBe(24);
    window(limit, now, 12, 24); // 12 ≤ 2 × 10: grows again
    expect(limit.limit).toBe(29); // 24.47 + √24.47 = 29.4
  });

  it('measures the no-load latency only from requests admitted after the measurement began (not those let in under the higher limit)', () => {
    const limit = new AdaptiveLimit({ ...options, minRttIntervalMs: 1000 });
    let now = window(limit, 0, 2, 4);
    now = window(limit, 2000, 3, 16); // past the interval: measuring from `now`
    // Requests admitted before it (rtt longer than the time since) are ignored, however many.
    for (let i = 0; i < 50; i++) limit.sample(100, 16, now + 10 + i);
    expect(limit.minRttMs).toBe(2);
    window(limit, now + 100, 5, 4);
    expect(limit.minRttMs).toBe(5);
  });

  it('setMinLimit moves the floor: the limit is at least the new floor at once, measures there, and may fall to a lower one', () => {
    const limit = new AdaptiveLimit(options);
    expect(limit.limit).toBe(4);
    limit.setMinLimit(64); // measuring: the limit is the floor
    expect(limit.limit).toBe(64);
    expect(limit.options.minLimit).toBe(64);
    let now = window(limit, 0, 2, 64);
    expect(limit.limit).toBe(64); // initialLimit 16 clamped to the floor
    limit.setMinLimit(8);
    now = window(limit, now, 100, 64); // latency far past 2× the no-load: halved, down to the new floor's side
    expect(limit.limit).toBe(32);
    expect(() => limit.setMinLimit(0)).toThrow('adaptive limit: minLimit must be a positive number, got 0');
    expect(() => limit.setMinLimit(101)).toThrow('adaptive limit: minLimit (101) must not exceed maxLimit (100)');
    expect(limit.options.minLimit).toBe(8);
  });

  it.each([
    [{ minLimit: 0 }, 'adaptive limit: minLimit must be a positive number, got 0'],
    [{ tolerance: Number.NaN }, 'adaptive limit: tolerance must be a positive number, got NaN'],
    [{ minLimit: 10, maxLimit: 5 }, 'adaptive limit: minLimit (10) must not exceed maxLimit (5)'],
    [{ window: 3 }, /adaptive limit: window is not an option \(expected one of minLimit, /],
  ])('refuses %j', (bad, message) => {
    expect(() => new AdaptiveLimit(bad as never)).toThrow(message);
  });
});
