import { describe, expect, it } from 'vitest';
import { ErrorCode, type Signature, type Tensor } from '../../../src/index.js';
import { Padding } from '../../../src/scheduler/padding.js';
import { Task } from '../../../src/scheduler/task.js';

/** Audio-shaped: frames [N, T, 2] padded along T, a per-request gain [N, 1], a mask [N, T]; outputs [N, T, 2] and [N, 1]. */
const signature: Signature = {
  inputs: [
    { name: 'frames', dtype: 'float32', shape: [-1, -1, 2] },
    { name: 'gain', dtype: 'float32', shape: [-1, 1] },
    { name: 'mask', dtype: 'bool', shape: [-1, -1] },
  ],
  outputs: [
    { name: 'y', dtype: 'float32', shape: [-1, -1, 2] },
    { name: 'energy', dtype: 'float32', shape: [-1, 1] },
  ],
};
const context = { model: 'm', version: 1 };
const padding = () => new Padding({ inputs: { frames: { axis: 1, value: -1, maxLength: 4 } }, mask: 'mask', outputs: { y: { axis: 1 } }, maxWaste: 0.5 }, signature, context);

function task(length: number, base: number, rows = 1, single = false): Task {
  const frames = Float32Array.from({ length: rows * length * 2 }, (_, i) => base + i);
  const inputs: Record<string, Tensor> = {
    frames: { data: frames, shape: [rows, length, 2], dtype: 'float32' },
    gain: { data: new Float32Array(rows).fill(base), shape: [rows, 1], dtype: 'float32' },
  };
  return new Task(inputs, rows, '', single, 0, Infinity, 0, () => undefined, () => undefined);
}

describe('Padding', () => {
  it('pads along the axis with the value, keeps inner dimensions together, concatenates the rest, fills the mask', () => {
    const p = padding();
    const inputs = p.pad([task(1, 10), task(3, 100)]);
    expect(inputs['frames']!.shape).toEqual([2, 3, 2]);
    expect(Array.from(inputs['frames']!.data as Float32Array)).toEqual([10, 11, -1, -1, -1, -1, 100, 101, 102, 103, 104, 105]);
    expect(Array.from(inputs['gain']!.data as Float32Array)).toEqual([10, 100]);
    expect(inputs['mask']).toEqual({ data: new Uint8Array([1, 0, 0, 1, 1, 1]), shape: [2, 3], dtype: 'bool' });
  });

  it('slices configured outputs back to each task\'s length, with or without the batch axis, and leaves the others', () => {
    const p = padding();
    const short = task(1, 0, 1, true);
    const long = task(3, 0, 2);
    p.pad([short, long]);
    const y = { data: Float32Array.from({ length: 6 }, (_, i) => i), shape: [3, 2], dtype: 'float32' as const };
    const energy = { data: new Float32Array([7]), shape: [1], dtype: 'float32' as const };
    expect(p.trim(short, { y, energy })).toEqual({ y: { data: new Float32Array([0, 1]), shape: [1, 2], dtype: 'float32' }, energy });
    const yBatch = { data: Float32Array.from({ length: 12 }, (_, i) => i), shape: [2, 3, 2], dtype: 'float32' as const };
    expect(p.trim(long, { y: yBatch }).y).toBe(yBatch); // already its length
  });

  it('lets a task join a batch only while at most maxWaste of it is padding (the first always joins)', () => {
    const accept = padding().batchFilter();
    expect(accept(task(4, 0))).toBe(true); // 4 of 4
    expect(accept(task(1, 0))).toBe(true); // 5 of 8: 37.5% padding
    expect(accept(task(1, 0))).toBe(true); // 6 of 12: 50%, at the bound
    expect(accept(task(1, 0))).toBe(false); // 7 of 16: 56%
    expect(accept(task(3, 0))).toBe(true); // 9 of 16: 43.75% (the refused one did not count)
  });

  it('admits requests of any length up to maxLength under one key, and refuses longer or empty ones', () => {
    const p = padding();
    const prepared = (length: number) => {
      const t = task(length, 0);
      return { tensors: t.inputs, rows: 1, shapeKey: `${length}x2;`, single: true };
    };
    expect(p.admit(prepared(2)).shapeKey).toBe(p.admit(prepared(4)).shapeKey);
    expect(() => p.admit(prepared(5))).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_INPUT, message: "model 'm' v1, input 'frames': expected at most 4 along axis 1 (padding.inputs.frames.maxLength), got 5 (shape [1, 5, 2])" }));
    expect(() => p.admit(prepared(0))).toThrow(/expected at least 1 along axis 1, got an empty sequence/);
  });

  it('refuses a mask that is also padded, or of the wrong shape', () => {
    expect(() => new Padding({ inputs: { frames: { maxLength: 4 } }, mask: 'frames' }, signature, context)).toThrow(/mask 'frames' must be a numeric or bool input of shape \[-1, -1\]/);
    expect(() => new Padding({ inputs: { frames: { maxLength: 4 } }, mask: 'gain' }, signature, context)).toThrow(/mask 'gain' must be .* got float32\[-1, 1\]/);
  });
});
