/**
 * The succeeded requests of one batch: counts, and arrival times as runs of equal values
 * (`runs` of them: entries past it are left over from an earlier batch). One per scheduler,
 * reset per batch: truncating its arrays cost a runtime call each, per batch.
 */
export class CompletedRuns {
  requests = 0;
  rows = 0;
  runs = 0;
  readonly enqueuedAt: number[] = [];
  readonly counts: number[] = [];

  /** Empties it for the next batch; its listener reads it at once and keeps nothing. */
  reset(): this {
    this.requests = 0;
    this.rows = 0;
    this.runs = 0;
    return this;
  }

  add(enqueuedAt: number, rows: number): void {
    this.requests++;
    this.rows += rows;
    const last = this.runs - 1;
    if (last >= 0 && this.enqueuedAt[last] === enqueuedAt) this.counts[last]!++;
    else {
      this.enqueuedAt[this.runs] = enqueuedAt;
      this.counts[this.runs] = 1;
      this.runs++;
    }
  }
}
