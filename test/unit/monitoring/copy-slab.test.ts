import { describe, expect, it } from 'vitest';
import { CopySlab } from '../../../src/monitoring/copy-slab.js';
import type { Tensor } from '../../../src/index.js';

const t = (data: Tensor['data'], dtype: string): Tensor => ({ data, shape: [1, (data as ArrayLike<unknown>).length], dtype }) as Tensor;

describe('CopySlab', () => {
  it('copies every element type exactly, aligned, sharing nothing with the source', () => {
    const slab = new CopySlab();
    const sources = [
      t(new Uint8Array([1, 2, 3]), 'uint8'), // 3 bytes: the next copy must be realigned
      t(new Float64Array([-0, Number.NaN, 1e308]), 'float64'),
      t(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), 'int64'),
      t(new Float32Array([0.1, -3.5]).subarray(1), 'float32'),
      t(new Uint16Array([0x3c00]), 'float16'),
    ];
    const copies = sources.map((s) => slab.copyTensor(s));
    copies.forEach((copy, i) => {
      const source = sources[i]!;
      expect(copy).toEqual(source);
      expect(copy.data.constructor).toBe(source.data.constructor);
      expect((copy.data as ArrayBufferView).byteOffset % (copy.data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT).toBe(0);
      expect(copy.shape).not.toBe(source.shape);
    });
    expect(Object.is((copies[1]!.data as Float64Array)[0], -0)).toBe(true);
    (sources[1]!.data as Float64Array)[2] = 7;
    expect((copies[1]!.data as Float64Array)[2]).toBe(1e308);
    // Copies never overlap one another.
    (copies[0]!.data as Uint8Array).fill(255);
    expect(copies[1]!.data).toEqual(new Float64Array([-0, Number.NaN, 1e308]));
  });

  it('starts a new buffer when one is full, and gives large tensors and strings their own', () => {
    const slab = new CopySlab();
    const row = new Float32Array(1000).map((_, i) => i); // 4 KB
    const copies = Array.from({ length: 40 }, () => slab.copyTensor(t(row, 'float32')).data as Float32Array);
    for (const c of copies) expect(c).toEqual(row);
    expect(new Set(copies.map((c) => c.buffer)).size).toBe(3); // 16 per 64 KiB buffer
    const large = slab.copyTensor(t(new Float32Array(5000), 'float32')).data as Float32Array; // 20 KB > a quarter
    expect(large.buffer.byteLength).toBe(20_000);
    const strings = slab.copyTensor({ data: ['a', new Uint8Array([9])], shape: [2], dtype: 'bytes' } as never);
    expect(strings.data).toEqual(['a', new Uint8Array([9])]);
  });
});
