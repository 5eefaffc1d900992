import { describe, expect, it } from 'vitest';
import { declaredDatatype, DTYPES, dtypeFromKServe, dtypeOfData, float16BitsToNumber, float32ToFloat16Bits, fromNested } from '../../../src/tensor/index.js';

describe('dtype table', () => {
  it('has storage for every dtype the issue names', () => {
    expect(DTYPES.float32.array).toBe(Float32Array);
    expect(DTYPES.float64.array).toBe(Float64Array);
    expect(DTYPES.int32.array).toBe(Int32Array);
    expect(DTYPES.int64.array).toBe(BigInt64Array);
    expect(DTYPES.uint8.array).toBe(Uint8Array);
    expect(DTYPES.int8.array).toBe(Int8Array);
    expect(DTYPES.bool.array).toBe(Uint8Array);
    expect(DTYPES.string.array).toBeUndefined();
  });

  it('maps KServe datatypes both ways', () => {
    for (const info of Object.values(DTYPES)) expect(dtypeFromKServe(info.kserve)).toBe(info.name === 'float16' ? 'float16' : info.name);
    expect(dtypeFromKServe('BYTES')).toBe('string');
  });

  it('names the dtype of typed arrays', () => {
    expect(dtypeOfData(new Float32Array(1))).toBe('float32');
    expect(dtypeOfData(new BigInt64Array(1))).toBe('int64');
    expect(dtypeOfData(['a'])).toBe('string');
    expect(dtypeOfData({})).toBeUndefined();
  });

  it('converts float16 exactly where half precision can represent the value', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 1.5]) expect(float16BitsToNumber(float32ToFloat16Bits(v))).toBe(v);
    expect(float16BitsToNumber(float32ToFloat16Bits(1e6))).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(float16BitsToNumber(float32ToFloat16Bits(Number.NaN)))).toBe(true);
    // rounding that carries into the exponent: 2047.9 → 2048
    expect(float16BitsToNumber(float32ToFloat16Bits(2047.9))).toBe(2048);
  });

  it('refuses int values that do not fit', () => {
    expect(() => fromNested([300], 'uint8')).toThrow(/value 300 at element 0 is out of range for dtype uint8/);
    expect(() => fromNested([-1], 'uint64')).toThrow(/value -1 at element 0 is out of range for dtype uint64/);
    expect(() => fromNested([2n ** 63n], 'int64')).toThrow(/is out of range for dtype int64/);
    expect(fromNested([2n ** 63n], 'uint64').data).toEqual(BigUint64Array.from([2n ** 63n]));
    expect(fromNested([[1, 2], [3, 4]], 'int32')).toEqual({ data: new Int32Array([1, 2, 3, 4]), shape: [2, 2] });
  });

  it('names every dtype in KServe v2 and TF Serving (TensorFlow DataType names)', () => {
    const names = Object.fromEntries(Object.values(DTYPES).map((d) => [d.name, [d.kserve, d.tfServing]]));
    expect(names).toEqual({
      float32: ['FP32', 'DT_FLOAT'],
      float64: ['FP64', 'DT_DOUBLE'],
      float16: ['FP16', 'DT_HALF'],
      int8: ['INT8', 'DT_INT8'],
      uint8: ['UINT8', 'DT_UINT8'],
      int16: ['INT16', 'DT_INT16'],
      uint16: ['UINT16', 'DT_UINT16'],
      int32: ['INT32', 'DT_INT32'],
      uint32: ['UINT32', 'DT_UINT32'],
      int64: ['INT64', 'DT_INT64'],
      uint64: ['UINT64', 'DT_UINT64'],
      bool: ['BOOL', 'DT_BOOL'],
      string: ['BYTES', 'DT_STRING'],
    });
  });

  it('declaredDatatype: the declared dtype where the runtime computes on a wider one, else the dtype', () => {
    expect(declaredDatatype({ dtype: 'int32', declaredDtype: 'uint8' })).toEqual({ dtype: 'uint8', kserve: 'UINT8', tfServing: 'DT_UINT8' });
    expect(declaredDatatype({ dtype: 'int16' })).toEqual({ dtype: 'int16', kserve: 'INT16', tfServing: 'DT_INT16' });
    // Only a narrower integer an int32 carries: no type requests could not be sent in (a custom runtime's float16 on float32, uint32 on int32).
    expect(declaredDatatype({ dtype: 'float32', declaredDtype: 'float16' }).kserve).toBe('FP32');
    expect(declaredDatatype({ dtype: 'int32', declaredDtype: 'uint32' }).kserve).toBe('INT32');
    expect(declaredDatatype({ dtype: 'int32', declaredDtype: 'int16' }).kserve).toBe('INT16');
  });
});
