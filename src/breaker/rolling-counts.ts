/**
 * Successes and failures over a rolling window, kept in `buckets` equal slices as opossum's
 * `Status` keeps them: slices of `floor(windowMs / buckets)` ms (at least 1) from the moment it
 * was made, so a window that is not a multiple of `buckets` ms is as long as opossum's
 * (`rollingCountTimeout: 15` is 10 slices of 1 ms). A count belongs to the slice of the time
 * it was made, and a slice leaves the window whole. Counting is two additions and a clock
 * read, with nothing allocated: it runs once per batch, which at one caller is once per request.
 */
export class RollingCounts {
  private readonly successCounts: Float64Array;
  private readonly failureCounts: Float64Array;
  private readonly sliceMs: number;
  /** When slice 0 began (the construction), ms. */
  private readonly origin: number;
  /** The slice counted into now, as `floor((time - origin) / sliceMs)`. */
  private slice = Number.NEGATIVE_INFINITY;
  private successTotal = 0;
  private failureTotal = 0;

  /**
   * @param windowMs the window's length, ms (> 0)
   * @param buckets slices it is kept in (opossum's `rollingCountBuckets`, default 10)
   * @param now monotonic ms (`performance.now`; a test's clock)
   */
  constructor(
    readonly windowMs: number,
    private readonly buckets: number,
    private readonly now: () => number,
  ) {
    this.sliceMs = Math.max(1, Math.floor(windowMs / buckets));
    this.origin = now();
    this.successCounts = new Float64Array(buckets);
    this.failureCounts = new Float64Array(buckets);
  }

  /** Successes in the window. */
  get successes(): number {
    this.advance();
    return this.successTotal;
  }

  /** Failures in the window. */
  get failures(): number {
    this.advance();
    return this.failureTotal;
  }

  success(): void {
    const i = this.advance();
    this.successCounts[i]! += 1;
    this.successTotal++;
  }

  failure(): void {
    const i = this.advance();
    this.failureCounts[i]! += 1;
    this.failureTotal++;
  }

  /** Moves the window to the current slice (emptying the slices it leaves) and returns that slice's index. */
  private advance(): number {
    const slice = Math.floor((this.now() - this.origin) / this.sliceMs);
    const { buckets } = this;
    if (slice !== this.slice) {
      // Every slice after the last one counted into, up to the current one, starts empty again.
      const stale = Math.min(slice - this.slice, buckets);
      for (let k = 0; k < stale; k++) {
        const i = (((slice - k) % buckets) + buckets) % buckets;
        this.successTotal -= this.successCounts[i]!;
        this.failureTotal -= this.failureCounts[i]!;
        this.successCounts[i] = 0;
        this.failureCounts[i] = 0;
      }
      this.slice = slice;
    }
    return ((slice % buckets) + buckets) % buckets;
  }
}
