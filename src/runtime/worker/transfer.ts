import type { Tensor } from '../../tensor/index.js';

/**
 * The buffers of `tensors` that may be moved to another thread instead of copied: only
 * buffers the tensors use whole (a view of part of a buffer would take its neighbours along)
 * and that the sender owns (`owned`). Anything not listed is copied by structured clone.
 */
export function transferables(tensors: Record<string, Tensor>, owned = true): ArrayBuffer[] {
  if (!owned) return [];
  const list: ArrayBuffer[] = [];
  for (const name in tensors) {
    const data = tensors[name]!.data;
    if (Array.isArray(data)) continue;
    const buffer = (data as Float32Array).buffer;
    if (!(buffer instanceof ArrayBuffer) || data.byteOffset !== 0 || data.byteLength !== buffer.byteLength || list.includes(buffer)) continue;
    list.push(buffer);
  }
  return list;
}
