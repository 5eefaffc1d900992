import type { Tensor } from '../tensor/index.js';
import { copyTensor } from './response-cache.js';

type Tensors = Record<string, Tensor>;
type TypedArrayOf = new (buffer: ArrayBuffer, byteOffset: number, length: number) => Tensor['data'] & { set(source: ArrayLike<number> & ArrayLike<bigint>): void };

/** Bytes per shared buffer; a tensor larger than a quarter of it gets a buffer of its own. */
const SLAB_BYTES = 64 * 1024;

/**
 * Copies of sampled tensors carved from shared 64 KiB ArrayBuffers: a typed array over a part
 * of an existing buffer costs a small object, where a new one of more than 64 bytes allocates
 * a backing store outside V8's heap (~0.2 µs, plus the collector's tracking of it). One model's
 * samples share a buffer, so a copy's `data.buffer` may hold other samples of the same model:
 * read `data` (or its `byteOffset`/`byteLength`), never `data.buffer` whole.
 */
export class CopySlab {
  private buffer = new ArrayBuffer(SLAB_BYTES);
  private used = 0;

  copyTensors(tensors: Readonly<Tensors>): Tensors {
    const copy: Tensors = {};
    for (const name in tensors) copy[name] = this.copyTensor(tensors[name]!);
    return copy;
  }

  copyTensor(t: Tensor): Tensor {
    const data = t.data;
    if (Array.isArray(data) || (data as ArrayBufferView).byteLength > SLAB_BYTES / 4) return copyTensor(t);
    const view = data as ArrayBufferView & ArrayLike<number>;
    // 8-byte aligned, so every element type (float64, int64) can view its place.
    let offset = (this.used + 7) & ~7;
    if (offset + view.byteLength > SLAB_BYTES) {
      this.buffer = new ArrayBuffer(SLAB_BYTES);
      offset = 0;
    }
    const copy = new (view.constructor as TypedArrayOf)(this.buffer, offset, view.length);
    copy.set(view as never);
    this.used = offset + view.byteLength;
    return { data: copy, shape: t.shape.slice(), dtype: t.dtype };
  }
}
