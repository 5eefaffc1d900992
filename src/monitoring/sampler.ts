/**
 * Decides which requests are sampled, each independently with probability `rate`, at the
 * cost of a counter decrement per request: instead of a random draw per request it draws the
 * number of requests to skip before the next sampled one, which for independent draws is
 * geometric (P(skip = k) = (1 − rate)^k · rate). Same distribution, one draw per sample.
 */
export class Sampler {
  /** Requests still to pass unsampled before the next sampled one. */
  private skip: number;
  /** ln(1 − rate), precomputed: a draw is one log and one division. */
  private readonly logKeep: number;

  /**
   * @param rate share of requests sampled, 0 ≤ rate ≤ 1
   * @param random uniform in [0, 1) (`Math.random`, or a seeded generator in tests)
   */
  constructor(
    readonly rate: number,
    private readonly random: () => number,
  ) {
    this.logKeep = Math.log1p(-rate);
    this.skip = this.draw();
  }

  /** Passes the next request unsampled if it is one to skip (true); false leaves the decision to {@link next}. */
  skipOne(): boolean {
    if (this.skip > 0) {
      this.skip--;
      return true;
    }
    return false;
  }

  /** Whether the next request is sampled. */
  next(): boolean {
    if (this.skipOne() || this.rate <= 0) return false;
    this.skip = this.draw();
    return true;
  }

  private draw(): number {
    if (this.rate >= 1) return 0;
    if (this.rate <= 0) return Number.POSITIVE_INFINITY;
    // 1 − random() is in (0, 1]: its log is finite.
    return Math.floor(Math.log(1 - this.random()) / this.logKeep);
  }
}
