import { describe, expect, it } from 'vitest';
import { Sampler } from '../../../src/monitoring/sampler.js';
import { mulberry32 } from '../../fixtures/prng.js';

/** Which of `n` requests a sampler of `rate` picks, with a seeded generator. */
function picks(rate: number, n: number, seed: number): { sampled: number; draws: number; gaps: number[] } {
  const random = mulberry32(seed);
  let draws = 0;
  const sampler = new Sampler(rate, () => {
    draws++;
    return random();
  });
  let sampled = 0;
  let last = -1;
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!sampler.next()) continue;
    sampled++;
    gaps.push(i - last - 1);
    last = i;
  }
  return { sampled, draws, gaps };
}

describe('Sampler', () => {
  it('samples each request with probability `rate`: the count stays within 4 standard deviations of n·rate', () => {
    for (const [rate, seed] of [[0.01, 1], [0.1, 2], [0.5, 3], [0.9, 4]] as const) {
      const n = 200_000;
      const { sampled } = picks(rate, n, seed);
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(sampled - n * rate), `rate ${rate}`).toBeLessThan(4 * sd);
    }
  });

  it('gaps between samples are geometric: mean (1 − rate) / rate, and a gap of 0 as often as `rate` says', () => {
    const rate = 0.2;
    const { gaps } = picks(rate, 500_000, 5);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeCloseTo((1 - rate) / rate, 1);
    // P(gap = 0) = rate: the next request after a sample is sampled independently.
    expect(gaps.filter((g) => g === 0).length / gaps.length).toBeCloseTo(rate, 2);
  });

  it('draws once per sampled request, not per request', () => {
    const { sampled, draws } = picks(0.01, 100_000, 6);
    expect(draws).toBe(sampled + 1); // the first skip, then one after each sample
  });

  it('rate 1 samples every request and rate 0 none, without drawing', () => {
    expect(picks(1, 1000, 7)).toMatchObject({ sampled: 1000 });
    expect(picks(0, 1000, 8)).toMatchObject({ sampled: 0, draws: 0 });
  });

  it('skipOne then next (the monitor fast path) picks the same requests as next alone', () => {
    for (const rate of [0, 0.01, 0.3, 1]) {
      const alone = new Sampler(rate, mulberry32(11));
      const split = new Sampler(rate, mulberry32(11));
      const a: boolean[] = [];
      const b: boolean[] = [];
      for (let i = 0; i < 5000; i++) {
        a.push(alone.next());
        b.push(split.skipOne() ? false : split.next());
      }
      expect(b).toEqual(a);
      if (rate === 0.01) expect(a.filter(Boolean).length).toBeGreaterThan(20);
    }
  });
});

