import { DTYPES, type DType, type TensorData } from './dtype.js';
import type { Tensor } from './tensor.js';

/**
 * Joins tensors along the batch dimension (dimension 0). All parts share dtype and
 * non-batch dimensions; callers (the scheduler) guarantee it. One part is returned as is.
 */
export function concatRows(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0]!;
  let rows = 0;
  let length = 0;
  for (const part of parts) {
    rows += part.shape[0]!;
    length += part.data.length;
  }
  const shape = first.shape.slice();
  shape[0] = rows;
  return { data: concatData(parts, first.dtype, length), shape, dtype: first.dtype };
}

function concatData(parts: readonly Tensor[], dtype: DType, length: number): TensorData {
  const storage = DTYPES[dtype].array;
  if (storage === undefined) {
    const out: (string | Uint8Array)[] = [];
    for (const part of parts) for (const s of part.data as (string | Uint8Array)[]) out.push(s);
    return out;
  }
  const out = new storage(length) as Float32Array;
  let offset = 0;
  for (const part of parts) {
    out.set(part.data as Float32Array, offset);
    offset += part.data.length;
  }
  return out;
}

/**
 * Splits a tensor along dimension 0 into parts of `rows[i]` rows each. Typed-array parts are
 * views (`subarray`) of the batch's buffer, so splitting copies nothing.
 */
export function splitRows(batch: Tensor, rows: readonly number[]): Tensor[] {
  if (rows.length === 1) return [batch];
  const total = batch.shape[0]!;
  const rowSize = total === 0 ? 0 : batch.data.length / total;
  const parts: Tensor[] = new Array(rows.length);
  let offset = 0;
  for (let i = 0; i < rows.length; i++) {
    const n = rows[i]!;
    const shape = batch.shape.slice();
    shape[0] = n;
    const end = offset + n * rowSize;
    parts[i] = { data: sliceData(batch.data, offset, end), shape, dtype: batch.dtype };
    offset = end;
  }
  return parts;
}

function sliceData(data: TensorData, start: number, end: number): TensorData {
  return Array.isArray(data) ? data.slice(start, end) : (data as Float32Array).subarray(start, end);
}

/** Removes the leading batch dimension of a one-row tensor (for `predict`). */
export function dropBatchDimension(t: Tensor): Tensor {
  return { data: t.data, shape: t.shape.slice(1), dtype: t.dtype };
}
