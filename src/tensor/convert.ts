import { DTYPES, float32ToFloat16Bits, type DType, type TensorData } from './dtype.js';

/**
 * Why a value could not become tensor data. The validator turns it into an
 * INVALID_INPUT error that names the input.
 */
export class ConversionError extends Error {}

/** Infers the shape of a nested array (`[[1, 2], [3, 4]]` → `[2, 2]`); a scalar has shape `[]`. */
export function inferShape(value: unknown): number[] {
  const shape: number[] = [];
  let level = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

/**
 * Flattens a nested array (or a scalar) into the storage of `dtype`, checking that it is
 * regular (not ragged) and that every element fits the dtype.
 */
export function fromNested(value: unknown, dtype: DType): { data: TensorData; shape: number[] } {
  const shape = inferShape(value);
  let size = 1;
  for (const dim of shape) size *= dim;
  const info = DTYPES[dtype];
  const out: TensorData = info.array === undefined ? new Array<string>(size) : new info.array(size);
  let offset = 0;
  const put = makePut(dtype, out);
  const walk = (node: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new ConversionError(`is ragged: expected a value at depth ${depth}, got an array`);
      put(offset++, node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `length ${node.length}` : describeValue(node);
      throw new ConversionError(`is ragged: expected an array of length ${shape[depth]} at depth ${depth}, got ${got}`);
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1);
  };
  walk(value, 0);
  return { data: out, shape };
}

/** Converts a flat array of plain values (numbers, bigints, booleans, strings) into the storage of `dtype`. */
export function fromFlat(values: readonly unknown[], dtype: DType): TensorData {
  const info = DTYPES[dtype];
  const out: TensorData = info.array === undefined ? new Array<string>(values.length) : new info.array(values.length);
  const put = makePut(dtype, out);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Array.isArray(v)) throw new ConversionError(`expected a flat array, got a nested array at index ${i}`);
    put(i, v);
  }
  return out;
}

type Put = (index: number, value: unknown) => void;

function makePut(dtype: DType, out: TensorData): Put {
  const kind = DTYPES[dtype].kind;
  const target = out as unknown as Record<number, unknown>;
  switch (kind) {
    case 'string':
      return (i, v) => {
        if (typeof v !== 'string') throw new ConversionError(`expected strings (dtype string), got ${describeValue(v)} at element ${i}`);
        target[i] = v;
      };
    case 'bool':
      return (i, v) => {
        if (v === true || v === 1) target[i] = 1;
        else if (v === false || v === 0) target[i] = 0;
        else throw new ConversionError(`expected booleans (dtype bool), got ${describeValue(v)} at element ${i}`);
      };
    case 'bigint':
      return (i, v) => {
        let value: bigint;
        if (typeof v === 'bigint') value = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) value = BigInt(v);
        else throw new ConversionError(`expected integers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        target[i] = value;
        // BigInt64Array/BigUint64Array wrap silently: refuse what does not fit.
        if (target[i] !== value) throw new ConversionError(`value ${value} at element ${i} does not fit dtype ${dtype}`);
      };
    case 'int':
      return (i, v) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          throw new ConversionError(`expected integers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        }
        target[i] = v;
        if (target[i] !== v) throw new ConversionError(`value ${v} at element ${i} does not fit dtype ${dtype}`);
      };
    case 'float':
      if (dtype === 'float16') {
        return (i, v) => {
          if (typeof v !== 'number') throw new ConversionError(`expected numbers (dtype float16), got ${describeValue(v)} at element ${i}`);
          target[i] = float32ToFloat16Bits(v);
        };
      }
      return (i, v) => {
        if (typeof v !== 'number') throw new ConversionError(`expected numbers (dtype ${dtype}), got ${describeValue(v)} at element ${i}`);
        target[i] = v;
      };
  }
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
