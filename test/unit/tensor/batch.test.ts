import { describe, expect, it } from 'vitest';
import { concatRows, splitRows, type Tensor } from '../../../src/tensor/index.js';

const rows = (n: number, start: number, width = 2): Tensor => ({
  data: Float32Array.from({ length: n * width }, (_, i) => start + i),
  shape: [n, width],
  dtype: 'float32',
});

describe('concatRows / splitRows', () => {
  it('round-trips parts of different row counts', () => {
    const parts = [rows(1, 0), rows(3, 100), rows(2, 200)];
    const batch = concatRows(parts);
    expect(batch.shape).toEqual([6, 2]);
    const split = splitRows(batch, [1, 3, 2]);
    expect(split).toEqual(parts);
  });

  it('splits into views of the batch buffer, without copying', () => {
    const batch = rows(4, 0);
    const [a, b] = splitRows(batch, [1, 3]);
    expect((a!.data as Float32Array).buffer).toBe((batch.data as Float32Array).buffer);
    expect(b!.data).toEqual(new Float32Array([2, 3, 4, 5, 6, 7]));
  });

  it('returns a single part as is', () => {
    const only = rows(2, 0);
    expect(concatRows([only])).toBe(only);
    expect(splitRows(only, [2])[0]).toBe(only);
  });

  it('handles strings and bigints', () => {
    const s = concatRows([
      { data: ['a'], shape: [1], dtype: 'string' },
      { data: ['b', 'c'], shape: [2], dtype: 'string' },
    ]);
    expect(s.data).toEqual(['a', 'b', 'c']);
    expect(splitRows(s, [2, 1]).map((t) => t.data)).toEqual([['a', 'b'], ['c']]);
    const b = concatRows([
      { data: BigInt64Array.from([1n]), shape: [1, 1], dtype: 'int64' },
      { data: BigInt64Array.from([2n]), shape: [1, 1], dtype: 'int64' },
    ]);
    expect(b.data).toEqual(BigInt64Array.from([1n, 2n]));
  });
});
