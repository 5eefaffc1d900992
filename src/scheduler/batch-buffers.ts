import { concatRows, DTYPES, type Tensor, type TensorData } from '../tensor/index.js';

interface Storage {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): Float32Array;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * The memory a scheduler concatenates batches into, reused batch after batch: spare buffers
 * per input (one per batch that may run at once), each lent to a run and given back once the
 * run succeeded.
 *
 * Why: every batch of several requests needs its rows in one typed array, and a new one per
 * batch (`maxBatchSize` rows: 16 KB for 64 rows of 64 floats) is an off-heap allocation,
 * zeroed and later freed by the garbage collector. On the MLP (onnxruntime) at 64 callers a
 * new buffer per batch cost ~2–3% of the raw runtime's own throughput (bench/profile).
 *
 * Safe because a session must not keep its inputs after it settles (the `Session` SPI), and
 * only inline executors lend (their runs read inputs on this thread; a thread executor moves
 * them). A buffer is not given back when an output shares it (a runtime that returns its
 * input, as tfjs's cpu backend can for an identity graph: those rows now belong to callers),
 * when it was detached, or when its run failed (a run the breaker's time bound gave up on may
 * still be reading it).
 */
export class BatchBuffers {
  /** Free buffers per input name, at most `keep` each; a buffer a run holds is in none. */
  private readonly spare = new Map<string, ArrayBuffer[]>();

  /**
   * @param maxRows rows a batch may have: a new buffer is made that large, so one fits every batch.
   * @param keep free buffers kept per input: the batches that may run at once (the executor's
   *   concurrency). With one, two batches in flight took turns making a new `maxRows` buffer
   *   each time, whatever their size (a 19 MB zeroed allocation for 2 rows of MobileNet).
   */
  constructor(
    private readonly maxRows: number,
    private readonly keep = 1,
  ) {}

  /**
   * The tasks' rows of input `name` in one tensor, in the order given: written into a free
   * buffer when one is large enough (the data is a view of its first elements), else into a
   * new one. Strings are concatenated as `concatRows` does.
   */
  concat(name: string, parts: readonly Tensor[]): Tensor {
    const first = parts[0]!;
    const Typed = DTYPES[first.dtype].array as Storage | undefined;
    if (Typed === undefined) return concatRows(parts);
    let rows = 0;
    let length = 0;
    for (let i = 0; i < parts.length; i++) {
      rows += parts[i]!.shape[0]!;
      length += parts[i]!.data.length;
    }
    const bytes = Typed.BYTES_PER_ELEMENT;
    // A free buffer too small for this batch (narrower rows made it) is dropped for a larger one.
    let buffer = this.spare.get(name)?.pop();
    if (buffer === undefined || buffer.byteLength < length * bytes) buffer = new ArrayBuffer(Math.max(length, rows === 0 ? 0 : (length / rows) * this.maxRows) * bytes);
    const data = new Typed(buffer, 0, length);
    let offset = 0;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!.data as Float32Array;
      data.set(part, offset);
      offset += part.length;
    }
    const shape = first.shape.slice();
    shape[0] = rows;
    return { data: data as TensorData, shape, dtype: first.dtype };
  }

  /** After a successful run of `inputs` (from `concat`): their buffers are spare again, unless an output shares one. */
  release(inputs: Record<string, Tensor>, outputs: Record<string, Tensor>): void {
    for (const name in inputs) {
      const data = inputs[name]!.data;
      if (Array.isArray(data)) continue;
      const buffer = (data as Float32Array).buffer as ArrayBuffer;
      if (buffer.byteLength === 0 || sharedBy(buffer, outputs)) continue;
      let free = this.spare.get(name);
      if (free === undefined) this.spare.set(name, (free = []));
      if (free.length < this.keep) free.push(buffer);
    }
  }
}

function sharedBy(buffer: ArrayBuffer, outputs: Record<string, Tensor>): boolean {
  for (const name in outputs) {
    const data = outputs[name]!.data;
    if (!Array.isArray(data) && (data as Float32Array).buffer === buffer) return true;
  }
  return false;
}
