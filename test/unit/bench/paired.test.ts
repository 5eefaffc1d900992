import { describe, expect, it } from 'vitest';
import { medianInterval } from '../../../bench/lib/paired.js';

describe('medianInterval (bench/lib/paired.ts)', () => {
  it('takes the 6th and 15th of 20 values: the sign-test interval of 95.9% coverage', () => {
    const values = Array.from({ length: 20 }, (_, i) => 20 - i); // 20…1, unsorted on purpose
    const r = medianInterval(values);
    expect(r.median).toBe(10.5);
    expect([r.low, r.high]).toEqual([6, 15]);
    expect(r.confidence).toBeCloseTo(1 - 2 * (1 + 20 + 190 + 1140 + 4845 + 15504) / 2 ** 20, 12);
  });

  it('falls back to min and max, with the coverage they have, when n is too small for 95%', () => {
    const r = medianInterval([0.99, 0.95, 1.01, 0.97, 0.98]);
    expect(r.median).toBe(0.98);
    expect([r.low, r.high]).toEqual([0.95, 1.01]);
    expect(r.confidence).toBeCloseTo(1 - 2 / 32, 12);
  });

  it('refuses no values', () => {
    expect(() => medianInterval([])).toThrow(/no values/);
  });
});
