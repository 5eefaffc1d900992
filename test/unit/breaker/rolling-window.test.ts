import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BREAKER_OPTIONS, type ResolvedBreakerOptions } from '../../../src/breaker/breaker-options.js';
import { RollingCounts } from '../../../src/breaker/rolling-counts.js';
import { type BreakerTransition, VersionBreaker } from '../../../src/breaker/version-breaker.js';
import { ErrorCode, ModelHostError } from '../../../src/errors/index.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

const failure = { failure: new Error('GPU fell off') };
const breakers: VersionBreaker[] = [];
afterEach(() => {
  for (const b of breakers.splice(0)) b.shutdown();
});

function breaker(options: Partial<ResolvedBreakerOptions> = {}) {
  const clock = manualClock();
  const changes: BreakerTransition[] = [];
  const b = new VersionBreaker({ ...DEFAULT_BREAKER_OPTIONS, ...options }, { model: 'm', version: 1 }, (t) => changes.push(t), clock.now);
  breakers.push(b);
  return { b, clock, changes };
}

describe('RollingCounts', () => {
  it('counts into slices of the window, and a slice leaves it whole', () => {
    const clock = manualClock(0);
    const counts = new RollingCounts(10_000, 10, clock.now);
    counts.success();
    counts.failure();
    clock.advance(1_000);
    counts.success();
    expect([counts.successes, counts.failures]).toEqual([2, 1]);
    clock.advance(8_999); // 9.999 s: the first slice is still in the window
    expect([counts.successes, counts.failures]).toEqual([2, 1]);
    clock.advance(1); // 10 s: it left
    expect([counts.successes, counts.failures]).toEqual([1, 0]);
    clock.advance(1_000);
    expect([counts.successes, counts.failures]).toEqual([0, 0]);
  });

  it('a jump longer than the window empties it, and counting goes on', () => {
    const clock = manualClock(0);
    const counts = new RollingCounts(10_000, 10, clock.now);
    for (let i = 0; i < 5; i++) counts.failure();
    clock.advance(3_600_000);
    expect(counts.failures).toBe(0);
    counts.failure();
    expect(counts.failures).toBe(1);
  });
});

describe('VersionBreaker: the window that opens a closed breaker (opossum’s rule)', () => {
  it('opens at the failure that brings volumeThreshold calls with a failure share above the threshold, naming them', () => {
    const { b, changes } = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50 });
    for (let i = 0; i < 9; i++) b.record(failure);
    expect(b.state).toBe('closed'); // 9 calls: below the volume
    b.record(failure);
    expect(b.state).toBe('open');
    expect(changes).toEqual([{ from: 'closed', to: 'open', reason: '10 of 10 runtime calls failed in the last 10 s (threshold 50%)' }]);
  });

  it('counts successes: a share equal to the threshold does not open, one above does', () => {
    const { b, changes } = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50 });
    for (let i = 0; i < 10; i++) b.record('success');
    for (let i = 0; i < 10; i++) b.record(failure);
    expect(b.state).toBe('closed'); // 10 of 20: 50%, not above
    b.record(failure);
    expect(b.state).toBe('open');
    expect(changes[0]!.reason).toBe('11 of 21 runtime calls failed in the last 10 s (threshold 50%)');
  });

  it('forgets what left the window: old successes do not hold it closed, old failures do not open it', () => {
    const { b, clock } = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50, rollingCountTimeoutMs: 10_000 });
    for (let i = 0; i < 100; i++) b.record('success');
    clock.advance(5_000);
    for (let i = 0; i < 10; i++) b.record(failure);
    expect(b.state).toBe('closed'); // 10 of 110
    clock.advance(6_000); // the successes left; the failures are 6 s old
    b.record(failure);
    expect(b.state).toBe('open'); // 11 of 11
  });

  it('old failures alone do not open it once they left the window', () => {
    const { b, clock } = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50, rollingCountTimeoutMs: 10_000 });
    for (let i = 0; i < 9; i++) b.record(failure);
    clock.advance(10_000);
    b.record(failure);
    expect(b.state).toBe('closed'); // 1 of 1: below the volume
  });

  it("a caller's error counts as a success (opossum's errorFilter), a request-blamed verdict not at all", () => {
    const { b } = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50 });
    for (let i = 0; i < 20; i++) b.record({ failure: new ModelHostError(ErrorCode.INVALID_INPUT, 'bad') });
    for (let i = 0; i < 100; i++) b.record('request');
    for (let i = 0; i < 20; i++) b.record(failure);
    expect(b.state).toBe('closed'); // 20 of 40
    b.record(failure);
    expect(b.state).toBe('open');
  });

  it('volumeThreshold 0 and threshold 0: the first failure opens it', () => {
    const { b } = breaker({ volumeThreshold: 0, errorThresholdPercentage: 0 });
    b.record('success');
    expect(b.state).toBe('closed');
    b.record(failure);
    expect(b.state).toBe('open');
  });

  it('while open, verdicts of batches admitted before the opening are ignored; the half-open probe decides, and the window is kept', async () => {
    const { b, changes } = breaker({ volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 20 });
    b.record(failure);
    b.record(failure);
    expect(b.state).toBe('open');
    for (let i = 0; i < 50; i++) b.record('success'); // late verdicts: not counted
    await vi.waitFor(() => expect(b.state).toBe('halfOpen'));
    expect(b.admit()).toBeUndefined(); // the probe
    expect(b.admit()?.code).toBe(ErrorCode.CIRCUIT_OPEN); // one probe at a time
    b.record(failure);
    await vi.waitFor(() => expect(changes.map((c) => c.to)).toEqual(['open', 'halfOpen', 'open', 'halfOpen']));
    expect(b.admit()).toBeUndefined();
    b.record('success');
    await vi.waitFor(() => expect(b.state).toBe('closed'));
    expect(changes.map((c) => c.to)).toEqual(['open', 'halfOpen', 'open', 'halfOpen', 'closed']);
    // The window still holds the three failures and the probe's success (3 of 4): the next failure opens it again, as opossum's kept window would.
    b.record(failure);
    expect(b.state).toBe('open');
    expect(changes.at(-1)!.reason).toBe('4 of 5 runtime calls failed in the last 10 s (threshold 50%)');
  });

  it('after shutdown nothing is counted and nothing opens', () => {
    const { b } = breaker({ volumeThreshold: 0, errorThresholdPercentage: 0 });
    b.shutdown();
    b.record(failure);
    expect(b.state).toBe('closed');
  });
});
