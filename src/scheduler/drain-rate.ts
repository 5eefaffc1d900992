/**
 * How fast a version drains its queue, learned from finished batches (an exponentially
 * weighted average of rows per millisecond). It predicts queue waits for admission
 * control and `retryAfterMs`.
 */
export class DrainRate {
  /** Rows per ms of one execution slot; 0 until a batch has finished. */
  private rowsPerMs = 0;
  /** Average time of one batch, ms. */
  batchMs = 0;

  record(rows: number, computeMs: number): void {
    if (computeMs <= 0) return;
    const rate = rows / computeMs;
    // Weight 0.2: follows a change of load within a few batches, ignores one slow batch.
    this.rowsPerMs = this.rowsPerMs === 0 ? rate : this.rowsPerMs * 0.8 + rate * 0.2;
    this.batchMs = this.batchMs === 0 ? computeMs : this.batchMs * 0.8 + computeMs * 0.2;
  }

  /** Milliseconds until `rows` queued rows have run on `slots` slots; 0 when unknown. */
  predictWaitMs(rows: number, slots: number): number {
    if (this.rowsPerMs === 0 || rows <= 0) return 0;
    return rows / (this.rowsPerMs * slots);
  }
}
