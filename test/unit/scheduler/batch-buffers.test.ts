import { describe, expect, it } from 'vitest';
import { BatchBuffers } from '../../../src/scheduler/batch-buffers.js';
import type { Tensor } from '../../../src/tensor/index.js';

const rows = (...values: number[][]): Tensor => ({ data: Float32Array.from(values.flat()), shape: [values.length, values[0]!.length], dtype: 'float32' });
const bufferOf = (t: Tensor) => (t.data as Float32Array).buffer;

describe('BatchBuffers', () => {
  it('concatenates rows in order into a view of exactly the batch', () => {
    const buffers = new BatchBuffers(4);
    const batch = buffers.concat('x', [rows([1, 2]), rows([3, 4], [5, 6])]);
    expect(batch.shape).toEqual([3, 2]);
    expect(Array.from(batch.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((batch.data as Float32Array).length).toBe(6);
    // Room for maxRows rows of this width, so any later batch fits.
    expect(bufferOf(batch).byteLength).toBe(4 * 2 * 4);
  });

  it('writes the next batch into a released buffer', () => {
    const buffers = new BatchBuffers(4);
    const first = buffers.concat('x', [rows([1, 2]), rows([3, 4])]);
    buffers.release({ x: first }, { y: rows([0], [0]) });
    const second = buffers.concat('x', [rows([7, 8]), rows([9, 10]), rows([11, 12])]);
    expect(bufferOf(second)).toBe(bufferOf(first));
    expect(Array.from(second.data as Float32Array)).toEqual([7, 8, 9, 10, 11, 12]);
  });

  it('never lends a buffer twice: a batch made while another holds it gets its own', () => {
    const buffers = new BatchBuffers(4);
    const first = buffers.concat('x', [rows([1, 2]), rows([3, 4])]);
    const second = buffers.concat('x', [rows([5, 6]), rows([7, 8])]);
    expect(bufferOf(second)).not.toBe(bufferOf(first));
    expect(Array.from(first.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('keeps a buffer an output shares: those rows were handed to callers', () => {
    const buffers = new BatchBuffers(4);
    const first = buffers.concat('x', [rows([1, 2]), rows([3, 4])]);
    buffers.release({ x: first }, { y: first });
    const second = buffers.concat('x', [rows([5, 6]), rows([7, 8])]);
    expect(bufferOf(second)).not.toBe(bufferOf(first));
    expect(Array.from(first.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('makes a larger buffer when a batch of wider rows does not fit the spare one', () => {
    const buffers = new BatchBuffers(2);
    const narrow = buffers.concat('x', [rows([1]), rows([2])]);
    buffers.release({ x: narrow }, {});
    const wide = buffers.concat('x', [rows([1, 2, 3]), rows([4, 5, 6])]);
    expect(bufferOf(wide)).not.toBe(bufferOf(narrow));
    expect(Array.from(wide.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps each dtype in its own storage, and strings as arrays', () => {
    const buffers = new BatchBuffers(4);
    const ints = buffers.concat('i', [
      { data: BigInt64Array.from([1n, 2n]), shape: [1, 2], dtype: 'int64' },
      { data: BigInt64Array.from([3n, 4n]), shape: [1, 2], dtype: 'int64' },
    ]);
    expect(ints.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(ints.data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n]);
    const text = buffers.concat('s', [
      { data: ['a'], shape: [1], dtype: 'string' },
      { data: ['b'], shape: [1], dtype: 'string' },
    ]);
    expect(text).toEqual({ data: ['a', 'b'], shape: [2], dtype: 'string' });
  });

  it('keeps a free buffer per batch that may run at once: two batches in flight take turns without new buffers', () => {
    const buffers = new BatchBuffers(4, 2);
    const a = buffers.concat('x', [rows([1, 2]), rows([3, 4])]);
    const b = buffers.concat('x', [rows([5, 6]), rows([7, 8])]);
    buffers.release({ x: a }, {});
    buffers.release({ x: b }, {});
    const made = new Set([bufferOf(a), bufferOf(b)]);
    for (let round = 0; round < 5; round++) {
      const c = buffers.concat('x', [rows([round, 1]), rows([round, 2])]);
      const d = buffers.concat('x', [rows([round, 3]), rows([round, 4])]);
      expect(made.has(bufferOf(c)) && made.has(bufferOf(d)) && bufferOf(c) !== bufferOf(d)).toBe(true);
      expect(Array.from(c.data as Float32Array)).toEqual([round, 1, round, 2]);
      expect(Array.from(d.data as Float32Array)).toEqual([round, 3, round, 4]);
      buffers.release({ x: d }, {});
      buffers.release({ x: c }, {});
    }
    // never more than `keep`: a third buffer released is let go
    const e = buffers.concat('x', [rows([1, 1]), rows([1, 1])]);
    const f = buffers.concat('x', [rows([1, 1]), rows([1, 1])]);
    const g = buffers.concat('x', [rows([1, 1]), rows([1, 1])]);
    for (const t of [e, f, g]) buffers.release({ x: t }, {});
    const kept = [buffers.concat('x', [rows([0, 0]), rows([0, 0])]), buffers.concat('x', [rows([0, 0]), rows([0, 0])]), buffers.concat('x', [rows([0, 0]), rows([0, 0])])];
    expect(kept.filter((t) => [e, f, g].some((u) => bufferOf(u) === bufferOf(t)))).toHaveLength(2);
  });
});
