/**
 * How long a batch of `rows` takes to run, learned from finished batches: a line
 * `fixedMs + perRowMs × rows` fitted by exponentially weighted least squares, so it follows
 * a change of speed within a few dozen batches. Until two batch sizes have been seen it is
 * proportional to rows (no fixed part). The scheduler uses it to cut batches whose predicted
 * end fits the tightest deadline in them (Triton's queue policy lets requests time out in
 * the queue; this keeps them from timing out together in a batch too big for their deadline).
 */
export class BatchCost {
  /** Weighted sums of 1, rows, ms, rows², rows·ms. */
  private n = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;
  private fixedMs = 0;
  private perRowMs = 0;

  /** Batches recorded. */
  samples = 0;

  /**
   * How much longer batches ran than predicted, recently (an average of actual ÷ predicted,
   * at least 1): a shared machine or a batch size not seen before runs slower than the line
   * says, and a batch cut to end just before its deadline must not miss it by that much.
   */
  private overrun = 1;

  /** Refusals made on the estimate since the last batch was recorded (see `trusted`). */
  private refusalsSinceRecord = 0;

  /**
   * A finished batch of `rows` that ran `ms`. Once the line is known, one batch moves it as
   * if it ran at most MAX_STEP times its prediction: a single stall (the event loop blocked
   * by a large body, a page-fault storm) must not become the estimate that refuses every
   * later request, while a real slowdown is still learned, a factor MAX_STEP per batch.
   */
  record(rows: number, ms: number): void {
    if (!(rows > 0) || !(ms >= 0)) return;
    const predicted = this.predictMs(rows);
    const seen = predicted > 0 && this.samples >= 2 ? Math.min(ms, predicted * MAX_STEP) : ms;
    if (predicted > 0) this.overrun = Math.min(MAX_STEP, Math.max(1, this.overrun * 0.7 + (seen / predicted) * 0.3));
    const d = DECAY;
    this.n = this.n * d + 1;
    this.sx = this.sx * d + rows;
    this.sy = this.sy * d + seen;
    this.sxx = this.sxx * d + rows * rows;
    this.sxy = this.sxy * d + rows * seen;
    this.samples++;
    this.refusalsSinceRecord = 0;
    this.fit();
  }

  /**
   * Whether a request may be refused on this estimate alone. An estimate that refuses every
   * request never sees another batch to correct it, so after PROBE_AFTER refusals with no
   * batch recorded, requests are let through again until one runs and is measured (a
   * half-open probe, as a circuit breaker does).
   */
  get trusted(): boolean {
    return this.refusalsSinceRecord < PROBE_AFTER;
  }

  /** A request was refused (or failed before running) because of this estimate. */
  noteRefusal(): void {
    this.refusalsSinceRecord++;
  }

  /** Predicted run time of a batch of `rows`, ms; 0 until a batch has finished. */
  predictMs(rows: number): number {
    return this.fixedMs + this.perRowMs * rows;
  }

  /** `predictMs` with the recent overrun: what a deadline must allow for. */
  safeMs(rows: number): number {
    return this.predictMs(rows) * this.overrun;
  }

  /** Most rows whose predicted run time is at most `ms` (0 when not even one row fits; Infinity when unknown). */
  rowsWithin(ms: number): number {
    if (this.perRowMs <= 0) return this.samples === 0 ? Number.POSITIVE_INFINITY : ms >= this.fixedMs ? Number.POSITIVE_INFINITY : 0;
    return Math.max(0, Math.floor((ms - this.fixedMs) / this.perRowMs));
  }

  private fit(): void {
    const { n, sx, sy, sxx, sxy } = this;
    const meanX = sx / n;
    const meanY = sy / n;
    const varX = sxx / n - meanX * meanX;
    if (varX > 1e-6 * meanX * meanX) {
      const slope = (sxy / n - meanX * meanY) / varX;
      const intercept = meanY - slope * meanX;
      if (slope > 0 && intercept >= 0) {
        this.perRowMs = slope;
        this.fixedMs = intercept;
        return;
      }
    }
    // One batch size seen, or a fit that makes no physical sense (noise): proportional.
    this.perRowMs = meanX > 0 ? meanY / meanX : 0;
    this.fixedMs = 0;
  }
}

/** Weight kept by the past at each new batch: about the last 20 batches count. */
const DECAY = 0.95;

/** Most a batch may count for, in multiples of its prediction (and the largest overrun allowance). */
const MAX_STEP = 4;

/** Refusals on the estimate, with no batch measured meanwhile, before requests are let through to measure again. */
const PROBE_AFTER = 8;
