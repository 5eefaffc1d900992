import { allocate, ConversionError, describeValue, elementWriter, walkNested } from './codec/index.js';
import type { DType, TensorData } from './dtype.js';

export { ConversionError, describeValue };

/** Infers the shape of a nested array (`[[1, 2], [3, 4]]` → `[2, 2]`); a scalar has shape `[]`. Throws ConversionError when ragged. */
export function inferShape(value: unknown): number[] {
  return walkNested(value).shape;
}

/**
 * Flattens a nested array (or a scalar) into the storage of `dtype`. The structure is checked
 * (regular, not ragged) before anything is allocated, and every element goes through the
 * dtype's strict converter.
 */
export function fromNested(value: unknown, dtype: DType): { data: TensorData; shape: number[] } {
  const { shape, elements } = walkNested(value);
  const out = allocate(dtype, elements);
  const put = elementWriter(dtype, out);
  let offset = 0;
  const fill = (node: unknown, depth: number): void => {
    if (depth === shape.length) put(offset++, node);
    else for (const item of node as unknown[]) fill(item, depth + 1);
  };
  fill(value, 0);
  return { data: out, shape };
}

/** Converts a flat array of plain values (numbers, bigints, booleans, strings, bytes) into the storage of `dtype`. */
export function fromFlat(values: readonly unknown[], dtype: DType): TensorData {
  if (dtype === 'float32' || dtype === 'float64') {
    const numbers = fromFlatNumbers(values, dtype);
    if (numbers !== undefined) return numbers;
  }
  const out = allocate(dtype, values.length);
  const put = elementWriter(dtype, out);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Array.isArray(v)) throw new ConversionError(`expected a flat array, got a nested array at index ${i}`);
    put(i, v);
  }
  return out;
}

/**
 * The common case of fromFlat in one tight loop: plain numbers into float32/float64, no call
 * per element. Undefined at the first value it cannot store as the strict writer would (not a
 * number, or a finite number too large for float32): the strict writer then decides and names it.
 */
function fromFlatNumbers(values: readonly unknown[], dtype: 'float32' | 'float64'): Float32Array | Float64Array | undefined {
  const out = dtype === 'float32' ? new Float32Array(values.length) : new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') return undefined;
    out[i] = v;
    const stored = out[i]!;
    if (stored - stored !== 0 && v - v === 0) return undefined;
  }
  return out;
}
