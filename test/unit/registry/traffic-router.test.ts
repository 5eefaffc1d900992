import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashToUnit, TrafficRouter } from '../../../src/registry/traffic-router.js';

describe('TrafficRouter', () => {
  it('sends everything to a sole version', () => {
    const router = new TrafficRouter(new Map([[3, 1]]));
    expect(router.sole).toBe(3);
    expect(router.pick()).toBe(3);
    expect(router.pick('user-1')).toBe(3);
  });

  it('observed shares match the weights (property, round-robin)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.integer({ min: 1, max: 20 }).map(String), fc.integer({ min: 1, max: 100 }), { minKeys: 1, maxKeys: 5 }), (raw) => {
        const weights = new Map(Object.entries(raw).map(([v, w]) => [Number(v), w] as const));
        const total = [...weights.values()].reduce((a, b) => a + b, 0);
        const router = new TrafficRouter(weights);
        const n = 10_000;
        const seen = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          const v = router.pick()!;
          seen.set(v, (seen.get(v) ?? 0) + 1);
        }
        for (const [version, weight] of weights) expect(Math.abs((seen.get(version) ?? 0) / n - weight / total)).toBeLessThan(0.005);
      }),
      { numRuns: 100 },
    );
  });

  it('observed shares over many routing keys match the weights (property, keyed)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.05, max: 0.95, noNaN: true }), (canary) => {
        const router = new TrafficRouter(new Map([[1, 1 - canary], [2, canary]]));
        const n = 20_000;
        let toCanary = 0;
        for (let i = 0; i < n; i++) if (router.pick(`session-${i}`) === 2) toCanary++;
        expect(Math.abs(toCanary / n - canary)).toBeLessThan(0.02);
      }),
      { numRuns: 30 },
    );
  });

  it('is sticky: the same key lands on the same version while the weights stay', () => {
    const router = new TrafficRouter(new Map([[1, 0.5], [2, 0.5]]));
    for (let i = 0; i < 200; i++) {
      const key = `user-${i}`;
      const first = router.pick(key);
      for (let j = 0; j < 5; j++) expect(router.pick(key)).toBe(first);
      expect(new TrafficRouter(new Map([[1, 0.5], [2, 0.5]])).pick(key)).toBe(first); // replicas agree
    }
  });

  it('hashes keys uniformly into [0, 1)', () => {
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(hashToUnit(`k${i}`) * 10)]++;
    for (const count of buckets) expect(count).toBeGreaterThan(850);
  });
});
