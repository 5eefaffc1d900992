/**
 * How many requests may be in flight at once, learned from their latency (a gradient
 * controller, after Envoy's adaptive concurrency filter and Netflix's concurrency-limits).
 *
 * Latency that stays near the no-load latency means the server has room: the limit grows by
 * about √limit per window. Latency that rises past `tolerance` × the no-load latency means
 * requests are queueing inside the server: the limit shrinks in proportion (at most halved
 * per window). The no-load latency is measured at the start and every `minRttIntervalMs`
 * by pinning the limit to `minLimit` for one window (requests past it wait in the
 * listener's FIFO meanwhile, they are not refused).
 *
 * Time comes from the caller (`now` in ms, any monotonic origin), so tests drive it with a
 * fake clock.
 */
export interface AdaptiveLimitOptions {
  /** Smallest limit, and the limit while the no-load latency is measured. Default 8. */
  readonly minLimit?: number;
  /** Largest limit. Default 1000. */
  readonly maxLimit?: number;
  /** Limit before the first measurement. Default 32. */
  readonly initialLimit?: number;
  /** Latency up to this multiple of the no-load latency counts as no queueing. Default 2. */
  readonly tolerance?: number;
  /** A window ends after at least this many ms… Default 100. */
  readonly windowMs?: number;
  /** …and at least this many samples. Default 16. */
  readonly windowSamples?: number;
  /** How often the no-load latency is measured again, ms. Default 10 000. */
  readonly minRttIntervalMs?: number;
}

/** The options' defaults (the listener takes its floor within `minLimit`…`maxLimit`). */
export const ADAPTIVE_LIMIT_DEFAULTS = Object.freeze({
  minLimit: 8,
  maxLimit: 1000,
  initialLimit: 32,
  tolerance: 2,
  windowMs: 100,
  windowSamples: 16,
  minRttIntervalMs: 10_000,
});

export type ResolvedAdaptiveLimitOptions = { readonly [K in keyof typeof ADAPTIVE_LIMIT_DEFAULTS]: number };

export class AdaptiveLimit {
  private resolved: ResolvedAdaptiveLimitOptions;
  /** The no-load latency, ms; undefined until measured. */
  minRttMs: number | undefined;
  private estimate: number;
  private measuringMinRtt = true;
  /** When the current no-load measurement began: requests admitted before it, under a higher limit, do not count. */
  private measuringSince = Number.NEGATIVE_INFINITY;
  private nextMinRttAt = 0;
  private windowStart: number | undefined;
  private windowSum = 0;
  private windowCount = 0;
  private windowPeakInflight = 0;

  constructor(options: AdaptiveLimitOptions = {}) {
    const resolved: Record<string, number> = { ...ADAPTIVE_LIMIT_DEFAULTS };
    for (const [key, value] of Object.entries(options)) {
      if (!(key in ADAPTIVE_LIMIT_DEFAULTS)) throw new TypeError(`adaptive limit: ${key} is not an option (expected one of ${Object.keys(ADAPTIVE_LIMIT_DEFAULTS).join(', ')})`);
      if (value !== undefined) resolved[key] = value as number;
    }
    for (const [key, value] of Object.entries(resolved)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`adaptive limit: ${key} must be a positive number, got ${String(value)}`);
    }
    if (resolved['minLimit']! > resolved['maxLimit']!) throw new TypeError(`adaptive limit: minLimit (${resolved['minLimit']}) must not exceed maxLimit (${resolved['maxLimit']})`);
    this.resolved = Object.freeze(resolved as ResolvedAdaptiveLimitOptions);
    this.estimate = clamp(this.options.initialLimit, this.options.minLimit, this.options.maxLimit);
  }

  /** The options in force (`minLimit` as last set by {@link setMinLimit}). */
  get options(): ResolvedAdaptiveLimitOptions {
    return this.resolved;
  }

  /**
   * Moves the floor (the limit never goes below it, and the no-load latency is measured there):
   * the model behind the limit changed, e.g. reloaded with another batch size. The estimate is
   * clamped to the new floor at once; the no-load latency already measured is kept until the next
   * scheduled measurement.
   *
   * @throws TypeError when `minLimit` is not a positive number or exceeds `maxLimit`.
   */
  setMinLimit(minLimit: number): void {
    if (minLimit === this.resolved.minLimit) return;
    if (typeof minLimit !== 'number' || !Number.isFinite(minLimit) || minLimit <= 0) throw new TypeError(`adaptive limit: minLimit must be a positive number, got ${String(minLimit)}`);
    if (minLimit > this.resolved.maxLimit) throw new TypeError(`adaptive limit: minLimit (${minLimit}) must not exceed maxLimit (${this.resolved.maxLimit})`);
    this.resolved = Object.freeze({ ...this.resolved, minLimit });
    this.estimate = clamp(this.estimate, minLimit, this.resolved.maxLimit);
  }

  /** Requests that may be in flight now (an integer ≥ minLimit). */
  get limit(): number {
    return this.measuringMinRtt ? this.options.minLimit : Math.floor(this.estimate);
  }

  /**
   * One finished request: its latency in ms from admission to response, the requests in
   * flight when it was admitted, and the time now (ms).
   */
  sample(rttMs: number, inflight: number, now: number): void {
    if (this.measuringMinRtt && now - rttMs < this.measuringSince) return;
    this.windowStart ??= now;
    this.windowSum += rttMs;
    this.windowCount++;
    if (inflight > this.windowPeakInflight) this.windowPeakInflight = inflight;
    if (this.windowCount < this.options.windowSamples || now - this.windowStart < this.options.windowMs) return;
    const meanRtt = this.windowSum / this.windowCount;
    const peakInflight = this.windowPeakInflight;
    this.windowStart = now;
    this.windowSum = 0;
    this.windowCount = 0;
    this.windowPeakInflight = 0;
    if (this.measuringMinRtt) {
      this.minRttMs = meanRtt;
      this.measuringMinRtt = false;
      this.nextMinRttAt = now + this.options.minRttIntervalMs;
      return;
    }
    this.update(meanRtt, peakInflight);
    if (now >= this.nextMinRttAt) {
      this.measuringMinRtt = true;
      this.measuringSince = now;
      this.windowStart = undefined;
    }
  }

  private update(sampleRtt: number, peakInflight: number): void {
    const { tolerance, minLimit, maxLimit } = this.options;
    const gradient = clamp((tolerance * this.minRttMs!) / sampleRtt, 0.5, 2);
    // Growing is earned only by using the limit: an idle server keeps it (Netflix's app-limited rule).
    if (gradient >= 1 && peakInflight < this.estimate / 2) return;
    const next = Math.min(this.estimate * gradient, this.estimate) + (gradient >= 1 ? Math.sqrt(this.estimate) : 0);
    this.estimate = clamp(next, minLimit, maxLimit);
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
