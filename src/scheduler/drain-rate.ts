/**
 * How fast a version drains its queue, learned from finished batches (an exponentially
 * weighted average of rows per millisecond). It predicts queue waits for admission
 * control (`queue.maxWaitMs`, deadlines) and `retryAfterMs`.
 *
 * Under load the time between one batch ending and the next starting (the event loop
 * reading sockets, parsing, refusing) is part of the drain: a backlogged batch counts from
 * the end of the one before it, not from its own start, so the prediction is what a queued
 * request will see, not what the runtime alone would do.
 */
export class DrainRate {
  /** Rows per ms of one execution slot; 0 until a batch has finished. */
  private rowsPerMs = 0;
  /** Average run time of one batch, ms. */
  batchMs = 0;
  /** Average time a backlogged batch waited for its turn after the one before it ended, ms. */
  gapMs = 0;

  /** A batch of `rows` ran `computeMs`; `spanMs` (≥ computeMs) includes the wait for its turn while rows were queued. */
  record(rows: number, computeMs: number, spanMs = computeMs): void {
    if (computeMs <= 0 && spanMs <= 0) return;
    const rate = rows / Math.max(computeMs, spanMs);
    // Weight 0.2: follows a change of load within a few batches, ignores one slow batch.
    this.rowsPerMs = this.rowsPerMs === 0 ? rate : this.rowsPerMs * 0.8 + rate * 0.2;
    if (computeMs > 0) this.batchMs = this.batchMs === 0 ? computeMs : this.batchMs * 0.8 + computeMs * 0.2;
    this.gapMs = this.gapMs * 0.8 + Math.max(0, spanMs - computeMs) * 0.2;
  }

  /** Milliseconds until `rows` queued rows have run on `slots` slots; 0 when unknown. */
  predictWaitMs(rows: number, slots: number): number {
    if (this.rowsPerMs === 0 || rows <= 0) return 0;
    return rows / (this.rowsPerMs * slots);
  }

  /** Rows `slots` slots drain in `ms`; Infinity when unknown. */
  rowsIn(ms: number, slots: number): number {
    if (this.rowsPerMs === 0) return Number.POSITIVE_INFINITY;
    return ms * this.rowsPerMs * slots;
  }
}
