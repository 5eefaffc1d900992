import { describe, expect, it } from 'vitest';
import { ErrorCode, ModelHost, type Signature, type Tensor } from '../../../src/index.js';
import { asDeclared } from '../../../src/tensor/index.js';
import { FAKE_SOURCE, fakeRuntime } from '../../helpers/fake-runtime.js';

// An output a runtime computes wider than the model declares it comes back as declared, exactly or not at all.

const SIGNATURE: Signature = {
  inputs: [{ name: 'x', dtype: 'int32', shape: [-1, 2] }],
  outputs: [{ name: 'y', dtype: 'int32', declaredDtype: 'uint8', shape: [-1, 2] }],
};

const identity = (inputs: Record<string, Tensor>) => ({ y: { data: Int32Array.from(inputs['x']!.data as Int32Array), shape: [...inputs['x']!.shape], dtype: 'int32' } as Tensor });

describe('asDeclared: one converter per datatype', () => {
  it('narrows int32 storage to the declared type when every value fits, and refuses the first that does not', () => {
    const spec = { dtype: 'int32', declaredDtype: 'uint8' } as const;
    expect(asDeclared(spec, { data: Int32Array.of(0, 255), shape: [2], dtype: 'int32' })).toEqual({ data: Uint8Array.of(0, 255), shape: [2], dtype: 'uint8' });
    expect(() => asDeclared(spec, { data: Int32Array.of(0, 256, -1), shape: [3], dtype: 'int32' })).toThrow('value 256 at element 1 is out of range for dtype uint8 [0, 255]');
    expect(() => asDeclared({ dtype: 'int32', declaredDtype: 'int16' }, { data: Int32Array.of(-32769), shape: [1], dtype: 'int32' })).toThrow('value -32769 at element 0 is out of range for dtype int16');
    // Nothing narrower declared, or a pair modelhost does not honour: as it is.
    const wide: Tensor = { data: Int32Array.of(300), shape: [1], dtype: 'int32' };
    expect(asDeclared({ dtype: 'int32' }, wide)).toBe(wide);
    expect(asDeclared({ dtype: 'int32', declaredDtype: 'uint32' }, wide)).toBe(wide);
  });
});

describe('a custom runtime that declares an int32 output uint8 (TensorSpec.declaredDtype)', () => {
  it('answers uint8 in-process, split per request; a value over 255 fails that request alone with INFERENCE_FAILED', async () => {
    const host = new ModelHost({ runtimes: { fake: fakeRuntime({ signature: SIGNATURE, compute: identity }) }, defaults: { batching: { maxBatchSize: 4, maxDelayMs: 5 }, warmup: false } });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'fake' } });
    const answers = await Promise.all([[1, 2], [3, 256], [254, 255]].map((x) => host.predict('m', Int32Array.from(x)).then((out) => out['y'], (error: Error) => error)));
    expect(answers[0]).toEqual({ data: Uint8Array.of(1, 2), shape: [2], dtype: 'uint8' });
    expect(answers[2]).toEqual({ data: Uint8Array.of(254, 255), shape: [2], dtype: 'uint8' });
    expect(answers[1]).toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringContaining("output 'y' is declared uint8 by the model, but holds a value that type cannot hold (the runtime computes it as int32): value 256 at element 1 is out of range for dtype uint8 [0, 255]") });
    expect(host.metadata('m').outputs[0]).toMatchObject({ dtype: 'int32', declaredDtype: 'uint8' });
    await host.close();
  });

  it('a runtime that already returns the declared uint8 is taken as it is; any other dtype is still refused', async () => {
    const host = new ModelHost({
      runtimes: {
        fake: fakeRuntime({
          signature: SIGNATURE,
          compute: (inputs) => {
            const x = inputs['x']!.data as Int32Array;
            return { y: x[0] === 9 ? { data: Float32Array.from(x), shape: [...inputs['x']!.shape], dtype: 'float32' } : { data: Uint8Array.from(x), shape: [...inputs['x']!.shape], dtype: 'uint8' } } as Record<string, Tensor>;
          },
        }),
      },
      defaults: { batching: false, warmup: false },
    });
    await host.load('m', { source: FAKE_SOURCE, config: { runtime: 'fake' } });
    expect((await host.predict('m', Int32Array.of(7, 8)))['y']).toEqual({ data: Uint8Array.of(7, 8), shape: [2], dtype: 'uint8' });
    await expect(host.predict('m', Int32Array.of(9, 8))).rejects.toMatchObject({ code: ErrorCode.INFERENCE_FAILED, message: expect.stringContaining("output 'y' has dtype \"float32\", expected int32") });
    await host.close();
  });
});
