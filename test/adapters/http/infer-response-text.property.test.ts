/**
 * The KServe infer response's one-pass writer (the common answer: JSON outputs of exact
 * numbers) writes the very text the generic writer does, or declines and leaves the response
 * to it: never a different answer for the same outputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inferResponseText } from '../../../src/adapters/http/infer-response-text.js';
import { ELEMENTS_PER_SLICE, TensorJson, writeJson } from '../../../src/adapters/http/json-writer.js';
import { DTYPES, shapeSize, type DType, type Tensor } from '../../../src/index.js';

const NUMERIC: readonly DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32'];
const OTHER: readonly DType[] = ['float16', 'int64', 'bool'];

function tensorOf(dtype: DType, shape: number[], values: readonly number[]): Tensor {
  const size = shapeSize(shape);
  const array = DTYPES[dtype].array!;
  const data = new array(size) as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < size; i++) {
    const v = values[i % values.length] ?? 0;
    data[i] = dtype === 'int64' ? BigInt(Number.isFinite(v) ? Math.trunc(v) : 0) : v;
  }
  return { data: data as unknown as Tensor['data'], shape, dtype };
}

const shape = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 });
// Finite numbers and the values the fast path must decline: -0, NaN, infinities.
const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -300, max: 300 }), fc.constantFrom(-0, Number.NaN, Infinity, -Infinity, 0.1, 1e21, 5e-324));
const name = fc.oneof(fc.constantFrom('logits', 'y', 'ü', '"q"'), fc.string({ maxLength: 8 }));
const output = fc.record({ name, dtype: fc.constantFrom(...NUMERIC, ...OTHER), shape, values: fc.array(value, { minLength: 1, maxLength: 8 }) });

/** What kserve-v2's infer writes through writeJson for JSON outputs; its 400 as the error's message. */
async function generic(model: string, modelVersion: string | undefined, id: string, outputs: readonly { name: string; tensor: Tensor }[], limitBytes: number): Promise<string> {
  const response = {
    model_name: model,
    ...(modelVersion === undefined ? {} : { model_version: modelVersion }),
    id,
    outputs: outputs.map(({ name: n, tensor: t }) => ({ name: n, datatype: DTYPES[t.dtype].kserve, shape: [...t.shape], data: new TensorJson(n, t, 0, [shapeSize(t.shape)]) })),
  };
  try {
    return await writeJson(response, { limitBytes, hint: 'hint' });
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  }
}

describe('inferResponseText', () => {
  it('writes what writeJson writes, or declines', async () => {
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(name, fc.option(fc.constantFrom('1', '12'), { nil: undefined }), fc.string({ maxLength: 12 }), fc.array(output, { maxLength: 3 }), fc.integer({ min: 1, max: 4000 }), async (model, modelVersion, id, specs, limitBytes) => {
        const outputs = specs.map((o) => ({ name: o.name, tensor: tensorOf(o.dtype, o.shape, o.values) }));
        const fast = inferResponseText(model, modelVersion, id, outputs, limitBytes);
        const slow = await generic(model, modelVersion, id, outputs, limitBytes);
        if (fast !== undefined) {
          answered++;
          expect(fast).toBe(slow);
        }
        // It declines exactly where it must: a dtype or value without an exact JSON.stringify form, or past the bound.
        const exact = outputs.every(({ tensor }) => NUMERIC.includes(tensor.dtype) && Array.from(tensor.data as Float64Array).every((x) => Number.isFinite(x) && !Object.is(x, -0)));
        if (exact && !slow.startsWith('refused')) expect(fast).toBe(slow);
        if (slow.startsWith('refused')) expect(fast).toBeUndefined();
      }),
      { numRuns: 400 },
    );
    expect(answered).toBeGreaterThan(40); // the property compared answers, not only refusals
  });

  it('answers the MLP response of the benches, and leaves a response of ELEMENTS_PER_SLICE elements to the sliced writer', async () => {
    const logits = { name: 'logits', tensor: { data: new Float32Array([0.1, -2, 3.5, 0, 1e-7, 7, 8, 9, 10, 11]), shape: [1, 10], dtype: 'float32' as const } };
    expect(inferResponseText('mlp', '1', 'r1', [logits], 1 << 20)).toBe(
      '{"model_name":"mlp","model_version":"1","id":"r1","outputs":[{"name":"logits","datatype":"FP32","shape":[1,10],"data":[0.10000000149011612,-2,3.5,0,1.0000000116860974e-7,7,8,9,10,11]}]}',
    );
    const big = { name: 'y', tensor: { data: new Float32Array(ELEMENTS_PER_SLICE), shape: [ELEMENTS_PER_SLICE], dtype: 'float32' as const } };
    expect(inferResponseText('mlp', undefined, 'r1', [big], 1 << 30)).toBeUndefined();
  });
});
