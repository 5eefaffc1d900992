/**
 * Latencies in log-scale buckets (about 4% wide, from 1 µs to ~17 minutes): constant memory,
 * O(1) record, mergeable across time buckets, quantiles within the bucket width.
 */
export class LatencyHistogram {
  static readonly BUCKETS = 512;
  /** ln of the bucket growth factor. */
  private static readonly STEP = Math.log(1.04);
  /** Bucket 0 holds everything up to this many ms. */
  private static readonly MIN_MS = 0.001;

  readonly counts = new Uint32Array(LatencyHistogram.BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  /** Records `count` observations of `ms` (a batch's requests share their compute time). */
  record(ms: number, count = 1): void {
    const value = ms > 0 ? ms : 0;
    this.counts[LatencyHistogram.bucketOf(value)]! += count;
    this.count += count;
    this.sum += value * count;
    if (value > this.max) this.max = value;
  }

  add(other: LatencyHistogram): void {
    for (let i = 0; i < other.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** The q-quantile (0..1) in ms, or 0 when empty. Reports the bucket's upper edge, capped at the max seen. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, LatencyHistogram.upperEdge(i));
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  private static bucketOf(ms: number): number {
    if (ms <= LatencyHistogram.MIN_MS) return 0;
    const index = Math.ceil(Math.log(ms / LatencyHistogram.MIN_MS) / LatencyHistogram.STEP);
    return index < LatencyHistogram.BUCKETS ? index : LatencyHistogram.BUCKETS - 1;
  }

  private static upperEdge(bucket: number): number {
    return LatencyHistogram.MIN_MS * Math.exp(bucket * LatencyHistogram.STEP);
  }
}
