import { getFloat16, setFloat16 } from '@petamoriken/float16';

// @petamoriken/float16 rounds a double straight to half precision, ties to even (no
// intermediate float32 rounding), and reads halves exactly: see test/unit/tensor/float16.test.ts.
const view = new DataView(new ArrayBuffer(2));

/** The IEEE-754 half-precision bits nearest to `value` (round half to even; overflow gives ±Infinity). */
export function float16Bits(value: number): number {
  setFloat16(view, 0, value, true);
  return view.getUint16(0, true);
}

/** The number a half-precision bit pattern holds (NaN payloads read as NaN). */
export function float16Value(bits: number): number {
  view.setUint16(0, bits, true);
  return getFloat16(view, 0, true);
}

/** The largest finite half: larger magnitudes round to Infinity at or past 65520. */
export const FLOAT16_MAX = 65504;
