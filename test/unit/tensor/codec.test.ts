/**
 * The per-datatype converters (src/tensor/codec): float16 against every half value and every
 * tie between two of them, strict base64, raw bytes, 64-bit integers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sameBytes } from '../../../src/tensor/codec/index.js';
import { ConversionError, decodeBase64, encodeBase64, float16Bits, float16Value, fromRawBytes, jsonElementText, toRawBytes } from '../../../src/tensor/index.js';
import { fromFlat } from '../../../src/tensor/convert.js';

/** Next double toward +Infinity / -Infinity (for values > 0). */
function nextUp(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + 1n);
  return view.getFloat64(0);
}
function nextDown(x: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) - 1n);
  return view.getFloat64(0);
}

describe('float16 (via @petamoriken/float16)', () => {
  it('reads and writes every half value exactly (all 63 488 finite patterns, both signs, ±Infinity)', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const exponent = (bits >> 10) & 0x1f;
      if (exponent === 0x1f && (bits & 0x3ff) !== 0) {
        if (!Number.isNaN(float16Value(bits))) wrong.push(bits);
        continue;
      }
      const value = float16Value(bits);
      // The reference: IEEE-754 binary16 decoded by hand.
      const mantissa = bits & 0x3ff;
      const magnitude = exponent === 0x1f ? Number.POSITIVE_INFINITY : exponent === 0 ? mantissa * 2 ** -24 : (1024 + mantissa) * 2 ** (exponent - 25);
      if (!Object.is(value, bits & 0x8000 ? -magnitude : magnitude) || float16Bits(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds every tie between two adjacent halves to the even one, and values beside a tie to the nearer one', () => {
    const wrong: number[] = [];
    let ties = 0;
    for (const sign of [0, 0x8000]) {
      for (let bits = 0; bits < 0x7bff; bits++) {
        const low = float16Value(sign | bits);
        const high = float16Value(sign | (bits + 1));
        const tie = (low + high) / 2; // exact in binary64
        const even = (bits & 1) === 0 ? bits : bits + 1;
        const magnitude = Math.abs(tie);
        const below = Math.sign(tie || 1) * nextDown(magnitude);
        const above = Math.sign(tie || 1) * nextUp(magnitude);
        if (float16Bits(tie) !== (sign | even) || float16Bits(below) !== (sign | bits) || float16Bits(above) !== (sign | (bits + 1))) wrong.push(sign | bits);
        ties++;
      }
    }
    expect(ties).toBe(2 * 0x7bff);
    expect(wrong).toEqual([]);
  });

  it('the issue inputs: 1.00048828125 → 1, 2^-25 → 0, and past 65504 the tie at 65520 goes to Infinity', () => {
    expect(float16Value(float16Bits(1.00048828125))).toBe(1);
    expect(float16Value(float16Bits(2 ** -25))).toBe(0);
    expect(float16Value(float16Bits(nextUp(2 ** -25)))).toBe(2 ** -24);
    expect(float16Value(float16Bits(nextDown(65520)))).toBe(65504);
    expect(float16Value(float16Bits(65520))).toBe(Number.POSITIVE_INFINITY);
    // No double rounding through float32: just above a half tie rounds up.
    expect(float16Value(float16Bits(1 + 2 ** -11 + 2 ** -40))).toBe(1 + 2 ** -10);
  });

  it('the element converter refuses a finite value that would become Infinity', () => {
    expect(() => fromFlat([65520], 'float16')).toThrow(/too large for dtype float16/);
    expect(() => fromFlat([1e39], 'float32')).toThrow(/too large for dtype float32/);
    expect(fromFlat([Number.POSITIVE_INFINITY], 'float16')).toEqual(Uint16Array.from([0x7c00]));
  });
});

describe('strict base64', () => {
  it('round-trips any bytes, and agrees with Buffer on what it accepts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(decodeBase64(text)).toEqual(bytes);
      }),
    );
  });

  it('refuses whatever is not the one canonical encoding of some bytes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        let decoded: Uint8Array | undefined;
        try {
          decoded = decodeBase64(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ConversionError);
          return;
        }
        expect(encodeBase64(decoded)).toBe(text);
      }),
    );
    for (const text of ['@@@@not base64!!', '%%%', 'aGk', 'aGk=aGk=', '_-8=', 'aGl=', 'YQ', 'YR==', ' aGk=', 'aGk=\n']) expect(() => decodeBase64(text)).toThrow(ConversionError);
    expect(decodeBase64('')).toEqual(new Uint8Array(0));
  });
});

describe('raw little-endian bytes', () => {
  it('BYTES: exact element count, no overrun, nothing left over; NUL and non-UTF-8 kept', () => {
    const jpeg = Uint8Array.from([0xff, 0xd8, 0x00, 0x10]);
    const raw = toRawBytes(['hi', jpeg]);
    expect(fromRawBytes(raw, 'string', 2)).toEqual([new TextEncoder().encode('hi'), jpeg]);
    expect(() => fromRawBytes(raw, 'string', 3)).toThrow(/ends inside the length of BYTES element 2/);
    expect(() => fromRawBytes(raw, 'string', 1)).toThrow(/has 8 bytes after its 1 BYTES elements/);
    expect(() => fromRawBytes(Uint8Array.from([9, 0, 0, 0, 1]), 'string', 1)).toThrow(/declares 9 bytes, but only 1 remain/);
    expect(() => fromRawBytes(new Uint8Array(8), 'string', 1e12)).toThrow(/too few for 1000000000000 BYTES elements/);
  });

  it('fixed-size dtypes: the byte count the shape needs, BOOL bytes 0 or 1', () => {
    expect(fromRawBytes(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0x80]), 'int64', 1)).toEqual(BigInt64Array.from([-(2n ** 63n) + 1n]));
    expect(() => fromRawBytes(new Uint8Array(7), 'int64', 1)).toThrow(/has 7 bytes, but 1 elements of INT64 need 8/);
    expect(() => fromRawBytes(Uint8Array.from([0, 2]), 'bool', 2)).toThrow(/element 1 is byte 2; BOOL bytes are 0 or 1/);
  });
});

describe('64-bit integers and JSON text', () => {
  it('takes bigints and safe integers; refuses unsafe numbers and out-of-range values naming them exactly', () => {
    expect(fromFlat([2n ** 63n - 1n, -(2n ** 63n), 5], 'int64')).toEqual(BigInt64Array.from([2n ** 63n - 1n, -(2n ** 63n), 5n]));
    expect(() => fromFlat([2 ** 53], 'int64')).toThrow(/number 9007199254740992 at element 0 is beyond 2\^53/);
    expect(() => fromFlat([2n ** 64n], 'uint64')).toThrow(/value 18446744073709551616 at element 0 is out of range for dtype uint64/);
  });

  it('writes every digit, -0 as -0, and refuses what JSON cannot carry', () => {
    expect(jsonElementText('int64')(2n ** 63n - 1n, 0)).toBe('9223372036854775807');
    expect(jsonElementText('uint64')(2n ** 64n - 1n, 0)).toBe('18446744073709551615');
    expect(jsonElementText('float32')(-0, 0)).toBe('-0');
    expect(JSON.parse('-0')).toBe(-0);
    expect(() => jsonElementText('float64')(Number.NaN, 3)).toThrow(/element 3 is NaN, which JSON cannot carry/);
    expect(() => jsonElementText('float16')(0x7c00, 0)).toThrow(/Infinity, which JSON cannot carry/);
    expect(() => jsonElementText('string')(Uint8Array.from([0xff]), 1)).toThrow(/element 1 holds 1 bytes that are not UTF-8 text/);
    expect(() => fromFlat(['\ud800'], 'string')).toThrow(/lone surrogate/);
  });

  it('BYTES elements compare by their bytes (shadow and golden-set comparisons)', () => {
    expect(sameBytes('hé', new TextEncoder().encode('hé'))).toBe(true);
    expect(sameBytes(Uint8Array.from([1, 2]), Uint8Array.from([1, 2]))).toBe(true);
    expect(sameBytes(Uint8Array.from([1, 2]), Uint8Array.from([1, 3]))).toBe(false);
    expect(sameBytes('a', 'b')).toBe(false);
  });
});
