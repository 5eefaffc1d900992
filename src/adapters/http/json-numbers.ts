/**
 * A JSON array of numbers into a typed array in one pass, checking while it writes what the
 * body's limits walk checks (json-body.ts): each value a number, finite, no integer past 2^53.
 *
 * Why its own loop: V8 boxes every double that a loop over arrays of mixed element kinds
 * reads, and the limits walk reads arrays of objects, small integers and doubles alike; this
 * loop only ever reads `data` arrays (docs/benchmarks.md, issue 17's fourth pass). A `data`
 * array mixing numbers with other values (`[0.5, "a"]`, refused on the strict path) widens what
 * the loop has seen and can slow it for the rest of the process (about 2× in a micro run): a
 * cost, never a different answer.
 */
import type { DType } from 'modelhost';

/** The dtypes whose JSON values are plain numbers stored as they are (float32 rounded to nearest). */
export type NumberDType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32';

type NumberStorage = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

const NUMBER_DTYPES: ReadonlySet<string> = new Set<NumberDType>(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32']);

export function isNumberDType(dtype: DType | undefined): dtype is NumberDType {
  return dtype !== undefined && NUMBER_DTYPES.has(dtype);
}

/**
 * `values` stored as `dtype`, exactly as the strict element writer stores them; undefined at
 * the first value this loop does not vouch for: not a number, beyond ±2^53 (an overflowed
 * literal, or an integer a double may have rounded), or, for an integer dtype, not an integer
 * within its range. The caller then takes the strict path, which decides and words the refusal.
 */
export function jsonNumbersInto(values: readonly unknown[], dtype: NumberDType): NumberStorage | undefined {
  switch (dtype) {
    case 'float32':
      return float32s(values);
    case 'float64':
      return float64s(values);
    case 'int8':
      return integers(values, new Int8Array(values.length));
    case 'uint8':
      return integers(values, new Uint8Array(values.length));
    case 'int16':
      return integers(values, new Int16Array(values.length));
    case 'uint16':
      return integers(values, new Uint16Array(values.length));
    case 'int32':
      return integers(values, new Int32Array(values.length));
    case 'uint32':
      return integers(values, new Uint32Array(values.length));
  }
}

// One loop per storage kind: each store site sees one typed array class.

function float32s(values: readonly unknown[]): Float32Array | undefined {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // Within ±2^53 (NaN fails too): finite, exact, and never past float32's range.
    if (typeof v !== 'number' || !(v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER)) return undefined;
    out[i] = v;
  }
  return out;
}

function float64s(values: readonly unknown[]): Float64Array | undefined {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !(v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER)) return undefined;
    out[i] = v;
  }
  return out;
}

/**
 * An integer typed array stores a number by truncating it and wrapping it into its range, so
 * the value reads back unchanged exactly when it is an integer within the dtype's range (the
 * strict writer's check, without a second copy of its range table); NaN and ±Infinity read
 * back as 0.
 */
function integers<T extends Exclude<NumberStorage, Float32Array | Float64Array>>(values: readonly unknown[], out: T): T | undefined {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') return undefined;
    out[i] = v;
    if (out[i] !== v) return undefined;
  }
  return out;
}
