import { DTYPES, float16BitsToNumber, type DType, type Tensor } from 'modelhost';

/**
 * A tensor's elements as JSON values, row-major and flat: numbers (int64 beyond 2^53 loses
 * precision, as in every JSON client), booleans for bool, half floats decoded.
 */
export function jsonValues(t: Tensor): unknown[] {
  const { data, dtype } = t;
  if (Array.isArray(data)) return data;
  const out = new Array<unknown>(data.length);
  if (dtype === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0;
  else if (dtype === 'float16') for (let i = 0; i < data.length; i++) out[i] = float16BitsToNumber(data[i] as number);
  else if (dtype === 'int64' || dtype === 'uint64') for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  else for (let i = 0; i < data.length; i++) out[i] = data[i];
  return out;
}

/** Flat values nested to a shape (`[6]` + `[2, 3]` → `[[a, b, c], [d, e, f]]`); a scalar comes back bare. */
export function nest(values: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  let offset = 0;
  const build = (depth: number): unknown[] => {
    const size = shape[depth]!;
    const out = new Array<unknown>(size);
    if (depth === shape.length - 1) {
      for (let i = 0; i < size; i++) out[i] = values[offset++];
    } else {
      for (let i = 0; i < size; i++) out[i] = build(depth + 1);
    }
    return out;
  };
  return build(0);
}

/** Flattens nested arrays (KServe allows either form for `data`). */
export function flat(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  if (!data.some(Array.isArray)) return data;
  return (data as unknown[]).flat(Number.POSITIVE_INFINITY);
}

/** The storage of a dtype read from raw little-endian bytes (KServe binary data extension). */
export function fromBytes(bytes: Uint8Array, dtype: DType, elements: number): Tensor['data'] {
  if (dtype === 'string') {
    // BYTES: each element is a 4-byte little-endian length, then that many bytes.
    const out: string[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const decoder = new TextDecoder();
    let offset = 0;
    while (offset + 4 <= bytes.byteLength) {
      const length = view.getUint32(offset, true);
      offset += 4;
      out.push(decoder.decode(bytes.subarray(offset, offset + length)));
      offset += length;
    }
    return out;
  }
  const storage = DTYPES[dtype].array!;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes); // aligned, and not a view of the request buffer
  return new storage(copy.buffer, 0, elements);
}

/** A tensor's raw little-endian bytes (KServe binary data extension). */
export function toBytes(t: Tensor): Uint8Array {
  if (!Array.isArray(t.data)) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const encoder = new TextEncoder();
  const parts = (t.data as string[]).map((s) => encoder.encode(s));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.byteLength, true);
    out.set(part, offset + 4);
    offset += 4 + part.byteLength;
  }
  return out;
}
