import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE } from '../../../src/monitoring/monitoring-options.js';
import { copyTensor, ResponseCache } from '../../../src/monitoring/response-cache.js';
import type { Tensor } from '../../../src/index.js';

const x = (...values: number[]): Record<string, Tensor> => ({ x: { data: new Float32Array(values), shape: [1, values.length], dtype: 'float32' } });
const y: Record<string, Tensor> = { y: { data: new Float32Array([7]), shape: [1, 1], dtype: 'float32' } };

describe('ResponseCache', () => {
  it('keys differ by version, bytes, shape and mode; equal inputs give equal keys', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    const k = cache.key(1, x(1, 2), false);
    expect(cache.key(1, x(1, 2), false)).toBe(k);
    expect(Number.isSafeInteger(k)).toBe(true);
    expect(cache.key(2, x(1, 2), false)).not.toBe(k);
    expect(cache.key(1, x(1, 3), false)).not.toBe(k);
    expect(cache.key(1, x(1, 2), true)).not.toBe(k);
    expect(cache.key(1, { x: { data: new Float32Array([1, 2]), shape: [2, 1], dtype: 'float32' } }, false)).not.toBe(k);
    expect(cache.key(1, { s: { data: ['ab', 'c'], shape: [2], dtype: 'string' } } as never, false)).not.toBe(cache.key(1, { s: { data: ['a', 'bc'], shape: [2], dtype: 'string' } } as never, false));
  });

  it('a hash collision is a miss, never another request’s answer: hits are checked byte for byte', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    const key = cache.key(1, x(1, 2), false);
    cache.set(key, 1, x(1, 2), false, y);
    expect(cache.get(key, 1, x(1, 2), false)).toEqual(y);
    // Same key, other inputs (as a collision would be).
    expect(cache.get(key, 1, x(9, 9), false)).toBeUndefined();
    expect(cache.get(key, 1, x(1, 2), true)).toBeUndefined();
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 2 });
  });

  it('an answer is never given for another version, even at a colliding key (a canary and its stable version share the cache)', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    const key = cache.key(1, x(1, 2), false);
    cache.set(key, 1, x(1, 2), false, y);
    // Version 2's same request under version 1's key, as a 30-bit collision of their keys would be.
    expect(cache.get(key, 2, x(1, 2), false)).toBeUndefined();
    expect(cache.get(key, 1, x(1, 2), false)).toEqual(y);
  });

  it('matches as exactly as bytes: -0 is not 0, and an input holding NaN never hits', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    for (const [kept, asked] of [[x(0, 1), x(-0, 1)], [x(Number.NaN, 1), x(Number.NaN, 1)]] as const) {
      const key = cache.key(1, kept, false);
      cache.set(key, 1, kept, false, y);
      expect(cache.get(key, 1, asked, false)).toBeUndefined();
    }
    const ints = (v: number): Record<string, Tensor> => ({ x: { data: new Int32Array([v]), shape: [1, 1], dtype: 'int32' } });
    cache.set(cache.key(1, ints(0), false), 1, ints(0), false, y);
    expect(cache.get(cache.key(1, ints(0), false), 1, ints(0), false)).toEqual(y);
    // Same bytes, another dtype: never the same request.
    expect(cache.get(cache.key(1, ints(0), false), 1, x(0), false)).toBeUndefined();
  });

  it('keeps no answer to inputs holding NaN: it could never be hit, and would only push out answers that can', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    for (const inputs of [x(Number.NaN, 1), { x: { data: new Float64Array([1, Number.NaN]), shape: [1, 2], dtype: 'float64' } } as Record<string, Tensor>]) {
      cache.set(cache.key(1, inputs, false), 1, inputs, false, y);
    }
    expect(cache.size).toBe(0);
    // float16 is its bits: a NaN's bits equal themselves (kept, and hit by the same bits); -0's bits are not 0's.
    const half = (...bits: number[]): Record<string, Tensor> => ({ x: { data: new Uint16Array(bits), shape: [1, bits.length], dtype: 'float16' } });
    cache.set(cache.key(1, half(0x7e00, 0x3c00), false), 1, half(0x7e00, 0x3c00), false, y);
    expect(cache.get(cache.key(1, half(0x7e00, 0x3c00), false), 1, half(0x7e00, 0x3c00), false)).toEqual(y);
    cache.set(cache.key(1, half(0x0000), false), 1, half(0x0000), false, y);
    expect(cache.get(cache.key(1, half(0x8000), false), 1, half(0x8000), false)).toBeUndefined();
    expect(cache.get(cache.key(1, half(0x0000), false), 1, half(0x8000), false)).toBeUndefined();
    expect(cache.size).toBe(2);
    cache.clear();
    cache.set(cache.key(1, x(Number.POSITIVE_INFINITY, 1), false), 1, x(Number.POSITIVE_INFINITY, 1), false, y); // Infinity equals itself: kept
    expect(cache.get(cache.key(1, x(Number.POSITIVE_INFINITY, 1), false), 1, x(Number.POSITIVE_INFINITY, 1), false)).toEqual(y);
  });

  it('keeps an answer from the second sighting of its key: distinct requests cost a hash each and keep nothing', () => {
    const cache = new ResponseCache(DEFAULT_CACHE);
    for (let i = 0; i < 10_000; i++) expect(cache.admits(cache.key(1, x(i), false))).toBe(false);
    expect(cache.size).toBe(0);
    const key = cache.key(1, x(-5), false);
    expect(cache.admits(key)).toBe(false);
    expect(cache.admits(key)).toBe(true); // seen before: keep it
    expect(cache.admits(key)).toBe(false); // admitted once; noted again only if it misses again
    cache.clear();
    expect(cache.admits(cache.key(1, x(7), false))).toBe(false); // a swap forgets what was noted too
  });

  it('counts inputs and outputs against maxBytes and evicts the least recently used', () => {
    const cache = new ResponseCache({ enabled: true, maxBytes: 1000 });
    for (let i = 0; i < 20; i++) cache.set(cache.key(1, x(i), false), 1, x(i), false, y);
    expect(cache.bytes).toBeLessThanOrEqual(1000);
    expect(cache.size).toBeLessThan(20);
    expect(cache.get(cache.key(1, x(19), false), 1, x(19), false)).toEqual(y);
    expect(cache.get(cache.key(1, x(0), false), 1, x(0), false)).toBeUndefined();
  });

  it('copyTensor copies exactly the view, of the same type, sharing nothing with the original', () => {
    const backing = new Float64Array([9, 1.5, -0, Number.NaN, 9]);
    const view = backing.subarray(1, 4);
    const cases: Tensor[] = [
      { data: view, shape: [3], dtype: 'float64' } as never,
      { data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), shape: [2], dtype: 'int64' } as never,
      { data: new Uint16Array([0x3c00, 0xfc00]), shape: [2], dtype: 'float16' } as never,
      { data: ['a', new Uint8Array([0, 255])], shape: [2], dtype: 'bytes' } as never,
    ];
    for (const t of cases) {
      const copy = copyTensor(t);
      expect(copy).toEqual(t);
      expect(copy.data.constructor).toBe(t.data.constructor);
      expect(copy.data).not.toBe(t.data);
      expect(copy.shape).not.toBe(t.shape);
    }
    const copied = copyTensor(cases[0]!).data as Float64Array;
    expect(copied.buffer.byteLength).toBe(3 * 8);
    expect(Object.is(copied[1], -0)).toBe(true);
    view[0] = 42;
    expect(copied[0]).toBe(1.5);
    const bytes = copyTensor(cases[3]!).data as unknown as [string, Uint8Array];
    (cases[3]!.data as unknown as [string, Uint8Array])[1][0] = 7;
    expect(bytes[1][0]).toBe(0);
  });
});
