import { LatencyHistogram } from '../metrics/latency-histogram.js';
import type { OutputComparison } from './output-comparison.js';

export interface ShadowStats {
  /** The shadow version and the version whose answers it is compared with. */
  readonly version: number;
  readonly fraction: number;
  /** Mirrored requests compared so far. */
  readonly compared: number;
  /** Share of compared requests whose outputs agreed (within tolerance, or same argmax). */
  readonly agreement: number;
  /** Share of compared requests with the same argmax, for score outputs; undefined otherwise. */
  readonly argmaxAgreement: number | undefined;
  readonly maxAbsDiff: number;
  readonly meanAbsDiff: number;
  /** Mirrored requests the shadow failed, or had no room for (they are not compared). */
  readonly failed: number;
  readonly dropped: number;
  readonly latency: { readonly primaryP50Ms: number; readonly primaryP99Ms: number; readonly shadowP50Ms: number; readonly shadowP99Ms: number };
}

/**
 * Which share of requests to mirror (deterministically: every 1/fraction-th), and how the
 * shadow's answers compared with the ones callers got.
 */
export class ShadowTracker {
  private credit = 0;
  private compared = 0;
  private agreed = 0;
  private argmaxCompared = 0;
  private argmaxAgreed = 0;
  private maxAbsDiff = 0;
  private sumMeanAbsDiff = 0;
  failed = 0;
  dropped = 0;
  private readonly primary = new LatencyHistogram();
  private readonly shadow = new LatencyHistogram();

  constructor(
    readonly version: number,
    readonly fraction: number,
  ) {}

  /** Whether this request is mirrored. */
  take(): boolean {
    this.credit += this.fraction;
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }

  record(comparison: OutputComparison, primaryMs: number, shadowMs: number): void {
    this.compared++;
    if (comparison.agrees) this.agreed++;
    if (comparison.argmaxAgrees !== undefined) {
      this.argmaxCompared++;
      if (comparison.argmaxAgrees) this.argmaxAgreed++;
    }
    this.maxAbsDiff = Math.max(this.maxAbsDiff, comparison.maxAbsDiff);
    this.sumMeanAbsDiff += comparison.meanAbsDiff;
    this.primary.record(primaryMs);
    this.shadow.record(shadowMs);
  }

  stats(): ShadowStats {
    return {
      version: this.version,
      fraction: this.fraction,
      compared: this.compared,
      agreement: this.compared === 0 ? 1 : this.agreed / this.compared,
      argmaxAgreement: this.argmaxCompared === 0 ? undefined : this.argmaxAgreed / this.argmaxCompared,
      maxAbsDiff: this.maxAbsDiff,
      meanAbsDiff: this.compared === 0 ? 0 : this.sumMeanAbsDiff / this.compared,
      failed: this.failed,
      dropped: this.dropped,
      latency: {
        primaryP50Ms: this.primary.quantile(0.5),
        primaryP99Ms: this.primary.quantile(0.99),
        shadowP50Ms: this.shadow.quantile(0.5),
        shadowP99Ms: this.shadow.quantile(0.99),
      },
    };
  }
}
