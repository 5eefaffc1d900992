/** The succeeded requests of one batch: counts, and arrival times as runs of equal values. */
export class CompletedRuns {
  requests = 0;
  rows = 0;
  readonly enqueuedAt: number[] = [];
  readonly counts: number[] = [];

  /** Empties it for the next batch (one summary per scheduler: its listener reads it at once, keeps nothing). */
  reset(): this {
    this.requests = 0;
    this.rows = 0;
    this.enqueuedAt.length = 0;
    this.counts.length = 0;
    return this;
  }

  add(enqueuedAt: number, rows: number): void {
    this.requests++;
    this.rows += rows;
    const last = this.enqueuedAt.length - 1;
    if (last >= 0 && this.enqueuedAt[last] === enqueuedAt) this.counts[last]!++;
    else {
      this.enqueuedAt.push(enqueuedAt);
      this.counts.push(1);
    }
  }
}
