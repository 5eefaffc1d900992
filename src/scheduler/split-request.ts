import type { ModelHostError } from '../errors/index.js';
import { concatRows, splitRows, type PreparedInputs, type Tensor } from '../tensor/index.js';
import { markAnsweredBy, SEVERAL_VERSIONS } from './answered-by.js';
import { Task } from './task.js';

/**
 * How a split request settled, for its one request event: the scheduler reports the request,
 * never its chunks (a chunk is not a request: counting each would count one request several times).
 */
export type SplitOutcome = { readonly ok: true } | { readonly ok: false; readonly error: ModelHostError };

/**
 * A `predictBatch` larger than `maxBatchSize`, run as chunks of at most that many rows and
 * reassembled in order. The first chunk to fail fails the request and cancels the rest, but
 * for chunks whose failure is still being judged (against a rollout's baseline): the request
 * is reported once their verdicts are in, so none is lost (its caller is answered at once).
 * It keeps what its one request event reports: its arrival, when its first chunk started,
 * the compute its chunks' runs took, and when the last one ended.
 */
export class SplitRequest {
  private readonly parts: (Record<string, Tensor> | undefined)[] = [];
  private tasks: Task[] = [];
  private remaining = 0;
  private done = false;
  /** When it arrived, on the scheduler's clock. */
  enqueuedAt = 0;
  /** When its first chunk started running, on the scheduler's clock (-1: none has). */
  startedAt = -1;
  /** When its last chunk run ended, on the scheduler's clock. */
  endedAt = 0;
  /** The summed compute time of the runs its chunks succeeded in, ms. */
  computeMs = 0;
  /** Rows of the largest batch one of its chunks ran in. */
  batchRows = 0;
  /**
   * The first chunk failure another version answered (the baseline's answer, `breaker.fallback:
   * 'previous-version'`): the request resolves, but is reported as this failure, once.
   */
  answeredFailure: { readonly error: ModelHostError; readonly answeredBy: number } | undefined = undefined;
  /** Failures of chunks that were still being judged when the request failed, as they came. */
  readonly lateFailures: ModelHostError[] = [];
  /** When the request failed, on the scheduler's clock (set by the scheduler's `cancel`). */
  failedAt: number | undefined = undefined;
  /** Chunks still being judged after the request failed: its report waits for them. */
  private judging = 0;
  /** The request's outcome, kept while its report waits. */
  private failure: SplitOutcome | undefined = undefined;

  /** The request's rows (all chunks). */
  readonly rows: number;
  /** Until its chunks are cut: a settled chunk the deadline heap still holds keeps this object, never the request's buffers. */
  private prepared: PreparedInputs | undefined;

  constructor(
    prepared: PreparedInputs,
    private readonly maxBatchSize: number,
    private readonly resolve: (outputs: Record<string, Tensor>) => void,
    private readonly reject: (error: ModelHostError) => void,
    /**
     * Settles the chunks that are still queued or running, with the scheduler's bookkeeping,
     * but for those whose failure is being judged; returns how many it left to settle.
     */
    private readonly cancel: (tasks: readonly Task[], error: ModelHostError) => number,
    /** The error for chunk outputs that cannot be joined (INFERENCE_FAILED, in the scheduler's words). */
    private readonly unjoinable: (message: string) => ModelHostError,
    /** Called once, after the request settled (and its other chunks were cancelled): the request's one event. */
    private readonly settled: (split: SplitRequest, outcome: SplitOutcome) => void,
  ) {
    this.prepared = prepared;
    this.rows = prepared.rows;
  }

  chunks(priority: number, deadline: number, now: number): Task[] {
    const { prepared, maxBatchSize } = this;
    if (prepared === undefined) throw new Error('SplitRequest.chunks() called twice');
    this.prepared = undefined;
    this.enqueuedAt = now;
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
      task.split = this;
      task.chunkOf = { inputs: prepared.tensors, firstRow, maxBatchSize };
      firstRow += rows;
      return task;
    });
    return this.tasks;
  }

  /** A chunk's run succeeded (called before the chunk resolves): its times count toward the request's. */
  ran(chunk: Task, computeMs: number, endedAt: number): void {
    if (this.done) return;
    if (this.startedAt < 0 || chunk.startedAt < this.startedAt) this.startedAt = chunk.startedAt;
    if (endedAt > this.endedAt) this.endedAt = endedAt;
    this.computeMs += computeMs;
    if (chunk.batchRows > this.batchRows) this.batchRows = chunk.batchRows;
  }

  /** A chunk failed here but `version` answered it (called before the chunk resolves with that answer). */
  answeredDespite(error: ModelHostError, version: number): void {
    if ((!this.done || this.judging > 0) && this.answeredFailure === undefined) this.answeredFailure = { error, answeredBy: version };
  }

  /** When its first chunk started, or `now` when none has (it failed before any ran). */
  startedOr(now: number): number {
    return this.startedAt < 0 ? now : this.startedAt;
  }

  private partDone(index: number, outputs: Record<string, Tensor>): void {
    if (this.done) return this.judged(undefined);
    this.parts[index] = outputs;
    if (--this.remaining > 0) return;
    this.done = true;
    const first = this.parts[0]!;
    const whole: Record<string, Tensor> = {};
    for (const name in first) {
      const parts = this.parts.map((p) => p![name]!);
      // A size beyond the batch dimension that followed the chunk (declared -1) cannot be joined exactly: refuse.
      const other = parts.find((p) => !sameRowShape(p.shape, parts[0]!.shape));
      if (other !== undefined) {
        const error = this.unjoinable(
          `output '${name}' has shape [${parts[0]!.shape.join(', ')}] for one chunk and [${other.shape.join(', ')}] for another of this predictBatch (split at maxBatchSize ${this.maxBatchSize} rows); chunks can be joined only if their sizes beyond the batch dimension agree`,
        );
        this.release();
        this.reject(error);
        this.settled(this, { ok: false, error });
        return;
      }
      whole[name] = concatRows(parts);
    }
    this.release();
    // A chunk the baseline answered: the rows are not all this version's.
    if (this.answeredFailure !== undefined) markAnsweredBy(whole, SEVERAL_VERSIONS);
    this.resolve(whole);
    this.settled(this, { ok: true });
  }

  private partFailed(error: ModelHostError): void {
    if (this.done) return this.judged(error);
    this.done = true;
    this.reject(error);
    // Its siblings settle now (their settling calls back here, `judged` ignores them), but for
    // those being judged: the one report waits for their verdicts.
    const judging = this.cancel(this.tasks, error);
    this.release();
    if (judging === 0) return this.settled(this, { ok: false, error });
    this.judging = judging;
    this.failure = { ok: false, error };
  }

  /** A chunk settled after its request failed: one of those being judged, when the report waits. */
  private judged(error: ModelHostError | undefined): void {
    if (this.judging === 0) return;
    if (error !== undefined) this.lateFailures.push(error);
    if (--this.judging === 0) this.settled(this, this.failure!);
  }

  /** Settled: the chunks' outputs and tasks are let go (a chunk left in the deadline heap still points here). */
  private release(): void {
    this.parts.length = 0;
    this.tasks = [];
  }
}

/** Whether two shapes agree beyond their first (batch) dimension. */
function sameRowShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 1; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
