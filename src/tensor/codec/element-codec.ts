/**
 * One strict converter per datatype between plain values (what JSON and callers carry) and
 * tensor storage. Every encoding goes through here: KServe JSON, TF Serving rows/columns,
 * the library's nested arrays, and (for the values they decode to) binary and `b64`.
 * A value is stored exactly as the dtype can hold it, or refused with a ConversionError.
 */
import { DTYPES, type DType, type TensorData } from '../dtype.js';
import { ConversionError } from './conversion-error.js';
import { float16Bits, float16Value } from './float16.js';

/** One element of a `string` (BYTES) tensor: UTF-8 text, or raw bytes. */
export type BytesElement = string | Uint8Array;

/** Stores `value` as element `index` of the storage it was made for; throws ConversionError. */
export type ElementWriter = (index: number, value: unknown) => void;

// In a `u` regex a surrogate pair is one code point: only lone halves match.
const LONE_SURROGATE = /\p{Cs}/u;

const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const BIGINT_RANGE: Partial<Record<DType, readonly [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** New storage of `length` elements for `dtype`. */
export function allocate(dtype: DType, length: number): TensorData {
  const storage = DTYPES[dtype].array;
  return storage === undefined ? new Array<BytesElement>(length) : new storage(length);
}

/**
 * The writer of `dtype` into `out`. Accepted values: float16/32/64 take numbers (and bigints,
 * which lossless JSON parsing yields for long integer literals), refusing a finite value too
 * large for the dtype; 8..32-bit integers take integer numbers within range; int64/uint64
 * take bigints or safe-integer numbers within range; bool takes true/false (or 1/0); string
 * takes well-formed strings (UTF-8 text) or Uint8Arrays (bytes).
 */
export function elementWriter(dtype: DType, out: TensorData): ElementWriter {
  const target = out as unknown as Record<number, unknown>;
  switch (DTYPES[dtype].kind) {
    case 'string':
      return (i, v) => {
        if (typeof v === 'string') {
          if (LONE_SURROGATE.test(v)) throw new ConversionError(`element ${i} is a string with a lone surrogate, which is not UTF-8 text`);
        } else if (!(v instanceof Uint8Array)) {
          throw new ConversionError(`expected strings or bytes (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        }
        target[i] = v;
      };
    case 'bool':
      return (i, v) => {
        if (v === true || v === 1) target[i] = 1;
        else if (v === false || v === 0) target[i] = 0;
        else throw new ConversionError(`expected booleans (dtype bool), got ${describeValue(v)} at element ${i}`);
      };
    case 'bigint': {
      const [min, max] = BIGINT_RANGE[dtype]!;
      return (i, v) => {
        let value: bigint;
        if (typeof v === 'bigint') value = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) value = BigInt(v);
        else if (typeof v === 'number' && Number.isInteger(v)) {
          throw new ConversionError(`number ${v} at element ${i} is beyond 2^53, where a JS number no longer holds every integer: pass it as a bigint (dtype ${dtype})`);
        } else throw new ConversionError(`expected integers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        if (value < min || value > max) throw new ConversionError(`value ${value} at element ${i} is out of range for dtype ${dtype} [${min}, ${max}]`);
        target[i] = value;
      };
    }
    case 'int': {
      const [min, max] = INT_RANGE[dtype]!;
      return (i, v) => {
        const value = typeof v === 'bigint' && v >= min && v <= max ? Number(v) : v;
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          if (typeof value === 'bigint') throw new ConversionError(`value ${value} at element ${i} is out of range for dtype ${dtype} [${min}, ${max}]`);
          throw new ConversionError(`expected integers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        }
        if (value < min || value > max) throw new ConversionError(`value ${value} at element ${i} is out of range for dtype ${dtype} [${min}, ${max}]`);
        target[i] = value;
      };
    }
    case 'float': {
      const round = dtype === 'float16' ? float16Bits : dtype === 'float32' ? Math.fround : (x: number) => x;
      const overflows = dtype === 'float16' ? (bits: number) => (bits & 0x7fff) === 0x7c00 : (x: number) => !Number.isFinite(x);
      return (i, v) => {
        const value = typeof v === 'bigint' ? Number(v) : v;
        if (typeof value !== 'number') throw new ConversionError(`expected numbers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        const stored = round(value);
        if (Number.isFinite(value) && overflows(stored)) throw new ConversionError(`value ${String(v)} at element ${i} is too large for dtype ${dtype}`);
        target[i] = stored;
      };
    }
  }
}

/**
 * The JSON text of each element of `dtype`: numbers exactly as stored (float32 as the double
 * it is, -0 as `-0`, half floats decoded, 64-bit integers with all their digits), booleans for
 * bool, strings for BYTES. Refuses (ConversionError) what JSON cannot carry: NaN and ±Infinity,
 * and BYTES that are not UTF-8 text.
 */
export function jsonElementText(dtype: DType): (value: unknown, index: number) => string {
  switch (DTYPES[dtype].kind) {
    case 'string':
      return (v, i) => JSON.stringify(bytesAsText(v as BytesElement, i));
    case 'bool':
      return (v) => (v === 0 ? 'false' : 'true');
    case 'bigint':
    case 'int':
      return (v) => String(v);
    case 'float': {
      const read = dtype === 'float16' ? float16Value : (x: number) => x;
      return (v, i) => {
        const x = read(v as number);
        if (!Number.isFinite(x)) throw new ConversionError(`element ${i} is ${x}, which JSON cannot carry`);
        return Object.is(x, -0) ? '-0' : String(x);
      };
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A BYTES element as text: strings as they are, bytes when they are valid UTF-8; else ConversionError. */
export function bytesAsText(value: BytesElement, index: number): string {
  if (typeof value === 'string') return value;
  try {
    return utf8.decode(value);
  } catch {
    throw new ConversionError(`element ${index} holds ${value.byteLength} bytes that are not UTF-8 text`);
  }
}

const encoder = new TextEncoder();

/** A BYTES element as bytes: strings UTF-8 encoded, bytes as they are. */
export function bytesOf(value: BytesElement): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/** Whether two BYTES elements hold the same bytes (a string as its UTF-8). */
export function sameBytes(a: BytesElement, b: BytesElement): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  const x = bytesOf(a);
  const y = bytesOf(b);
  return x.byteLength === y.byteLength && x.every((v, i) => v === y[i]);
}

/**
 * The index of the first element of bool storage that is neither 0 nor 1 (a Uint8Array holds
 * it; a bool cannot mean it), or -1. Raw bytes sent for BOOL are refused by it, and so is a
 * runtime's bool output (tfjs's wasm backend casts 7 to a bool stored as 7, and 256 to 0).
 */
export function invalidBool(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 1) return i;
  return -1;
}

/** A short description of a value for error messages: `a string ("abc")`, `null`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length}`;
  if (typeof value === 'function') return 'a function';
  return 'an object';
}
