/** The succeeded requests of one batch: counts, and arrival times as runs of equal values. */
export class CompletedRuns {
  requests = 0;
  rows = 0;
  readonly enqueuedAt: number[] = [];
  readonly counts: number[] = [];

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
