import type { ModelHostError } from '../errors/index.js';
import { concatRows, splitRows, type PreparedInputs, type Tensor } from '../tensor/index.js';
import { Task } from './task.js';

/**
 * A `predictBatch` larger than `maxBatchSize`, run as chunks of at most that many rows and
 * reassembled in order. The first chunk to fail fails the request and cancels the rest.
 */
export class SplitRequest {
  private readonly parts: (Record<string, Tensor> | undefined)[] = [];
  private tasks: Task[] = [];
  private remaining = 0;
  private done = false;

  constructor(
    private readonly prepared: PreparedInputs,
    private readonly maxBatchSize: number,
    private readonly resolve: (outputs: Record<string, Tensor>) => void,
    private readonly reject: (error: ModelHostError) => void,
    /** Settles the chunks that are still queued or running, with the scheduler's bookkeeping. */
    private readonly cancel: (tasks: readonly Task[], error: ModelHostError) => void,
    /** The error for chunk outputs that cannot be joined (INFERENCE_FAILED, in the scheduler's words). */
    private readonly unjoinable: (message: string) => ModelHostError,
  ) {}

  chunks(priority: number, deadline: number, now: number): Task[] {
    const { prepared, maxBatchSize } = this;
    const sizes: number[] = [];
    for (let left = prepared.rows; left > 0; left -= maxBatchSize) sizes.push(Math.min(left, maxBatchSize));
    const perInput = Object.entries(prepared.tensors).map(([name, t]) => [name, splitRows(t, sizes)] as const);
    this.remaining = sizes.length;
    let firstRow = 0;
    this.tasks = sizes.map((rows, i) => {
      const inputs: Record<string, Tensor> = {};
      for (const [name, parts] of perInput) inputs[name] = parts[i]!;
      const task = new Task(
        inputs,
        rows,
        prepared.shapeKey,
        false,
        priority,
        deadline,
        now,
        (outputs) => this.partDone(i, outputs),
        (error) => this.partFailed(error),
      );
      task.chunk = true;
      task.chunkOf = { inputs: prepared.tensors, firstRow, maxBatchSize };
      firstRow += rows;
      return task;
    });
    return this.tasks;
  }

  private partDone(index: number, outputs: Record<string, Tensor>): void {
    this.parts[index] = outputs;
    if (--this.remaining > 0 || this.done) return;
    this.done = true;
    const first = this.parts[0]!;
    const whole: Record<string, Tensor> = {};
    for (const name in first) {
      const parts = this.parts.map((p) => p![name]!);
      // A size beyond the batch dimension that followed the chunk (declared -1) cannot be joined exactly: refuse.
      const other = parts.find((p) => !sameRowShape(p.shape, parts[0]!.shape));
      if (other !== undefined) {
        this.reject(
          this.unjoinable(
            `output '${name}' has shape [${parts[0]!.shape.join(', ')}] for one chunk and [${other.shape.join(', ')}] for another of this predictBatch (split at maxBatchSize ${this.maxBatchSize} rows); chunks can be joined only if their sizes beyond the batch dimension agree`,
          ),
        );
        return;
      }
      whole[name] = concatRows(parts);
    }
    this.resolve(whole);
  }

  private partFailed(error: ModelHostError): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
    this.cancel(this.tasks, error);
  }
}

/** Whether two shapes agree beyond their first (batch) dimension. */
function sameRowShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
