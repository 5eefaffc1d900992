/**
 * Successes and failures over a rolling window of `windowMs`, kept in `buckets` equal slices
 * as opossum's `Status` keeps them (10 slices of `rollingCountTimeout / 10`): a count belongs
 * to the slice of the time it was made, and a slice leaves the window whole. Counting is two
 * additions and a clock read, with nothing allocated: it runs once per batch, which at one
 * caller is once per request.
 */
export class RollingCounts {
  private readonly successCounts: Float64Array;
  private readonly failureCounts: Float64Array;
  private readonly sliceMs: number;
  /** The slice counted into now, as `floor(time / sliceMs)`. */
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
    this.sliceMs = windowMs / buckets;
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
    const slice = Math.floor(this.now() / this.sliceMs);
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
