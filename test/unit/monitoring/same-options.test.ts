import { describe, expect, it } from 'vitest';
import { sameOptions } from '../../../src/monitoring/model-monitor.js';

describe('sameOptions (which monitor parts a changed config keeps)', () => {
  it('equal by value, whatever the objects', () => {
    expect(sameOptions({ bins: 10, reference: [[1, 2]] }, { bins: 10, reference: [[1, 2]] })).toBe(true);
    expect(sameOptions(undefined, undefined)).toBe(true);
  });

  it('tells apart what JSON would merge: Infinity, NaN and null; typed arrays of other kinds', () => {
    expect(sameOptions({ windowMs: Infinity }, { windowMs: null })).toBe(false);
    expect(sameOptions({ threshold: NaN }, { threshold: null })).toBe(false);
    expect(sameOptions({ r: new Float32Array([1]) }, { r: new Float64Array([1]) })).toBe(false);
    expect(sameOptions({ r: [1] }, undefined)).toBe(false);
  });
});
