import CircuitBreaker from 'opossum';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BREAKER_OPTIONS, type ResolvedBreakerOptions } from '../../../src/breaker/breaker-options.js';
import { type BreakerTransition, VersionBreaker } from '../../../src/breaker/version-breaker.js';

/**
 * The breaker against opossum itself (session 10 review of e7571d2): the same verdicts, at the
 * same times, fed to a VersionBreaker and to a plain opossum breaker with the same options. The
 * two must be in the same state after every verdict: modelhost opens exactly when opossum's own
 * rule would have, half-opens after the same reset, and closes or re-opens on the same probe.
 * Verdicts are fed only while a batch could run (closed, or the half-open probe), as the
 * scheduler does: an open breaker admits nothing.
 */

/** A deterministic generator (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type State = 'closed' | 'open' | 'halfOpen';
const stateOf = (b: CircuitBreaker): State => (b.halfOpen ? 'halfOpen' : b.opened ? 'open' : 'closed');

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

async function compare(options: Partial<ResolvedBreakerOptions>, seed: number, steps: number) {
  const resolved = { ...DEFAULT_BREAKER_OPTIONS, ...options };
  const changes: BreakerTransition[] = [];
  const ours = new VersionBreaker(resolved, { model: 'm', version: 1 }, (t) => changes.push(t), () => Date.now());
  const theirs = new CircuitBreaker((ok: boolean) => (ok ? Promise.resolve() : Promise.reject(new Error('down'))), {
    errorThresholdPercentage: resolved.errorThresholdPercentage,
    volumeThreshold: resolved.volumeThreshold,
    resetTimeout: resolved.resetTimeoutMs,
    rollingCountTimeout: resolved.rollingCountTimeoutMs,
  });
  const next = random(seed);
  const trace: string[] = [];
  let opened = 0;
  try {
    for (let step = 0; step < steps; step++) {
      // Time moves by up to a fifth of the window; the failure share drifts between phases.
      await vi.advanceTimersByTimeAsync(Math.floor(next() * Math.min(resolved.rollingCountTimeoutMs / 5, 5_000)));
      const share = Math.floor(step / 40) % 2 === 0 ? 0.2 : 0.8;
      const before = ours.state;
      expect(before, `step ${step}: ${trace.slice(-6).join(' ')}`).toBe(stateOf(theirs));
      if (before === 'open') {
        trace.push(`${Date.now()}:wait`);
        continue;
      }
      const ok = next() >= share;
      expect(ours.admit()).toBeUndefined();
      ours.record(ok ? 'success' : { failure: new Error('down') });
      await theirs.fire(ok).catch(() => undefined);
      await vi.advanceTimersByTimeAsync(0);
      trace.push(`${Date.now()}:${ok ? 'ok' : 'fail'}→${ours.state}/${stateOf(theirs)}`);
      expect(ours.state, `step ${step}: ${trace.slice(-6).join(' ')}`).toBe(stateOf(theirs));
      if (ours.state === 'open' && before === 'closed') opened++;
    }
  } finally {
    ours.shutdown();
    theirs.shutdown();
  }
  return { opened, changes };
}

describe('VersionBreaker and a plain opossum breaker fed the same verdicts', () => {
  const cases: [string, Partial<ResolvedBreakerOptions>][] = [
    ['defaults', {}],
    ['a small volume and a low threshold', { volumeThreshold: 3, errorThresholdPercentage: 25, resetTimeoutMs: 700 }],
    ['volumeThreshold 0', { volumeThreshold: 0, errorThresholdPercentage: 50, resetTimeoutMs: 300 }],
    ['a window that is not a multiple of 10 ms (opossum slices it in floor(15/10) = 1 ms)', { rollingCountTimeoutMs: 15, volumeThreshold: 2, resetTimeoutMs: 7 }],
    ['a 1234 ms window', { rollingCountTimeoutMs: 1234, volumeThreshold: 4, resetTimeoutMs: 500 }],
    ['the smallest window (10 ms)', { rollingCountTimeoutMs: 10, volumeThreshold: 1, resetTimeoutMs: 5 }],
    ['a day-long window', { rollingCountTimeoutMs: 86_400_000, volumeThreshold: 20, resetTimeoutMs: 60_000 }],
  ];
  for (const [name, options] of cases) {
    it(`agree after every verdict: ${name}`, async () => {
      let opened = 0;
      for (let seed = 1; seed <= 5; seed++) opened += (await compare(options, seed, 400)).opened;
      expect(opened).toBeGreaterThan(0); // the sequences did open it: the comparison is not vacuous
    });
  }
});
