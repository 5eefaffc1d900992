import { describe, expect, it } from 'vitest';
import type { RequestSampledEvent } from '../../../src/index.js';
import { SampleRing } from '../../../src/monitoring/sample-ring.js';
import type { Tensor } from '../../../src/tensor/index.js';

function sample(i: number, tensors: Record<string, Tensor> = { x: { data: new Float32Array([i, 0.1, -2]), shape: [1, 3], dtype: 'float32' } }): RequestSampledEvent {
  return { model: 'mödel', version: 3, timestamp: 1_700_000_000_000 + i, id: i % 2 === 0 ? `req-${i}-é` : undefined, inputs: tensors, outputs: undefined, rows: 1, latencyMs: 1.2345, cached: i % 3 === 0 };
}

describe('SampleRing', () => {
  it('gives back every field and every dtype exactly, as the dtype’s array', () => {
    const ring = new SampleRing(64 * 1024);
    const inputs: Record<string, Tensor> = {
      f32: { data: new Float32Array([0.1, Number.NaN, -Infinity]), shape: [3], dtype: 'float32' },
      f64: { data: new Float64Array([Math.PI]), shape: [1, 1], dtype: 'float64' },
      f16: { data: new Uint16Array([0x3c00]), shape: [1], dtype: 'float16' },
      i64: { data: new BigInt64Array([-(2n ** 63n)]), shape: [1], dtype: 'int64' },
      u64: { data: new BigUint64Array([2n ** 64n - 1n]), shape: [1], dtype: 'uint64' },
      i8: { data: new Int8Array([-128, 127]), shape: [2], dtype: 'int8' },
      bool: { data: new Uint8Array([1, 0]), shape: [2], dtype: 'bool' },
      s: { data: ['ünï', new Uint8Array([0, 255])], shape: [2], dtype: 'string' },
    };
    // A view at an odd offset into a larger buffer: only its own bytes go in.
    const big = new Float32Array(16).fill(9);
    inputs['view'] = { data: big.subarray(5, 7), shape: [2], dtype: 'float32' };
    const event = { ...sample(2), inputs, outputs: { y: { data: new Int32Array([7]), shape: [1], dtype: 'int32' } as Tensor } };
    expect(ring.write(event)).toBe(true);
    const back = ring.read()!;
    expect(back).toEqual(event);
    expect(back.inputs!['f64']!.data).toBeInstanceOf(Float64Array);
    expect(back.inputs!['u64']!.data).toBeInstanceOf(BigUint64Array);
    expect(back.inputs!['f16']!.data).toBeInstanceOf(Uint16Array);
    expect(ring.read()).toBeUndefined();
    expect(ring.usedBytes).toBe(0);
    expect(ring.readCount).toBe(1);
  });

  it('consume() hands the sample over with its tensors viewing the ring, aligned, and releases its space after the call (even one that throws)', () => {
    const ring = new SampleRing(4096);
    const x = new Float64Array([Math.E, -0]);
    const event = { ...sample(1, { x: { data: x, shape: [2], dtype: 'float64' }, b: { data: [new Uint8Array([1, 2])], shape: [1], dtype: 'string' } as unknown as Tensor }) };
    expect(ring.write(event)).toBe(true);
    expect(ring.write(event)).toBe(true);
    const seen = ring.consume((s) => {
      const data = s.inputs!['x']!.data as Float64Array;
      // No copy: a view of the ring's shared memory, at an offset the array kind can view.
      expect(data.buffer).toBe(ring.buffer);
      expect(data.byteOffset % 8).toBe(0);
      expect(Array.from(data)).toEqual([Math.E, -0]);
      expect((s.inputs!['b']!.data as Uint8Array[])[0]!.buffer).toBe(ring.buffer);
      expect(s).toEqual(event);
      return 'line';
    });
    expect(seen).toBe('line');
    expect(ring.readCount).toBe(1);
    expect(() => ring.consume(() => { throw new Error('boom'); })).toThrow('boom');
    expect(ring.readCount).toBe(2);
    expect(ring.usedBytes).toBe(0);
    expect(ring.consume(() => 'never called')).toBeUndefined();
  });

  it('read() gives copies that outlive the ring’s space', () => {
    const ring = new SampleRing(1024);
    ring.write(sample(1));
    const first = ring.read()!;
    // The same space written again: the first sample's data must not change.
    for (let i = 2; i < 20; i++) {
      ring.write(sample(i, { x: { data: new Float32Array([i, i, i]), shape: [1, 3], dtype: 'float32' } }));
      ring.read();
    }
    expect(first.inputs!['x']!.data).toEqual(new Float32Array([1, 0.1, -2]));
    expect((first.inputs!['x']!.data as Float32Array).buffer).not.toBe(ring.buffer);
  });

  it('refuses a sample that does not fit, and keeps the ones that did, in order, across the wrap', () => {
    const ring = new SampleRing(1024);
    let written = 0;
    let read = 0;
    for (let i = 0; i < 500; i++) {
      if (ring.write(sample(i))) written++;
      else expect(ring.usedBytes).toBeGreaterThan(1024 - 2 * 140); // refused only when (nearly) full: less free than this record and the tail left unused at a wrap (records here take ≤ 140 bytes)
      if (i % 12 === 11) {
        for (let e = ring.read(); e !== undefined; e = ring.read()) {
          expect(e.timestamp).toBeGreaterThanOrEqual(1_700_000_000_000 + read);
          read++;
        }
      }
    }
    for (let e = ring.read(); e !== undefined; e = ring.read()) read++;
    expect(written).toBeGreaterThan(100);
    expect(written).toBeLessThan(500);
    expect(read).toBe(written);
    expect(ring.usedBytes).toBe(0);
  });

  it('refuses a sample larger than the ring, never overwriting', () => {
    const ring = new SampleRing(256);
    expect(ring.write(sample(0, { x: { data: new Float32Array(100), shape: [100], dtype: 'float32' } }))).toBe(false);
    expect(ring.usedBytes).toBe(0);
    expect(ring.write(sample(1))).toBe(true);
  });
});
