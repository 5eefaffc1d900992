import { isVersionFault } from '../errors/index.js';
import { RollingWindow } from '../metrics/rolling-window.js';
import type { Clock } from '../scheduler/clock.js';
import { QualityWindow } from '../monitoring/quality-window.js';
import type { RolloutOptions } from './model-options.js';

export interface GuardVerdict {
  /** The metric that breached, its threshold and its value, in words. */
  readonly reason: string;
}

export interface GuardState {
  readonly candidate: number;
  readonly baseline: number | undefined;
  readonly startedAt: number;
  readonly candidateRequests: number;
  readonly candidateErrorRate: number;
  readonly baselineRequests: number;
  readonly baselineErrorRate: number;
  readonly candidateP99Ms: number;
  readonly baselineP99Ms: number;
  readonly shadowCompared: number;
  readonly shadowDisagreement: number;
  /** Live quality from `host.feedback` (labels joined in the window; accuracy or MAE, undefined without labels). */
  readonly candidateLabels: number;
  readonly baselineLabels: number;
  readonly candidateAccuracy: number | undefined;
  readonly baselineAccuracy: number | undefined;
  readonly candidateMae: number | undefined;
  readonly baselineMae: number | undefined;
}

/**
 * Watches a newly deployed version against the one it replaces, over a sliding window:
 * error rate, p99 latency and (with a shadow) output disagreement. A breach names the
 * metric, the threshold and the value; the host then rolls back on its own.
 */
export class RolloutGuard {
  private readonly candidateWindow: RollingWindow;
  private readonly baselineWindow: RollingWindow;
  private readonly shadowWindow: RollingWindow;
  private readonly candidateQuality: QualityWindow;
  private readonly baselineQuality: QualityWindow;
  readonly startedAt: number;
  private lastCheck = Number.NEGATIVE_INFINITY;

  constructor(
    readonly model: string,
    readonly candidate: number,
    readonly baseline: number | undefined,
    private readonly options: Readonly<Required<RolloutOptions>>,
    private readonly clock: Clock,
  ) {
    const now = clock.now();
    this.startedAt = now;
    this.candidateWindow = new RollingWindow(options.windowMs, now);
    this.baselineWindow = new RollingWindow(options.windowMs, now);
    this.shadowWindow = new RollingWindow(options.windowMs, now);
    this.candidateQuality = new QualityWindow(options.windowMs);
    this.baselineQuality = new QualityWindow(options.windowMs);
  }

  /** Whether the observation period is still running. */
  active(now = this.clock.now()): boolean {
    return now - this.startedAt < this.options.observeMs;
  }

  /** One finished request of `version`; `code` is set for failures. Returns a verdict on a breach. */
  record(version: number, totalMs: number, code: string | undefined): GuardVerdict | undefined {
    const window = version === this.candidate ? this.candidateWindow : version === this.baseline ? this.baselineWindow : undefined;
    if (window === undefined) return undefined;
    // The caller's problem, not the version's (requests blamed on themselves never reach here: GuardWatcher).
    if (code !== undefined && !isVersionFault(code, undefined)) return undefined;
    const now = this.clock.now();
    const slice = window.slice(now);
    slice.requests++;
    if (code !== undefined) slice.errors++;
    else slice.total.record(totalMs);
    return version === this.candidate ? this.check(now) : undefined;
  }

  /** One shadow comparison of the candidate against the serving version. */
  recordShadow(agrees: boolean): GuardVerdict | undefined {
    const now = this.clock.now();
    const slice = this.shadowWindow.slice(now);
    slice.requests++;
    if (!agrees) slice.errors++;
    return this.check(now);
  }

  /** Labels joined to `version`'s predictions (`host.feedback`): how many, how many right, summed absolute error. */
  recordQuality(version: number, labels: number, correct: number, absErrorSum: number): GuardVerdict | undefined {
    const window = version === this.candidate ? this.candidateQuality : version === this.baseline ? this.baselineQuality : undefined;
    if (window === undefined) return undefined;
    const now = this.clock.now();
    window.record(now, labels, correct, absErrorSum);
    return this.check(now);
  }

  state(): GuardState {
    const now = this.clock.now();
    const c = this.candidateWindow.totals(now);
    const b = this.baselineWindow.totals(now);
    const s = this.shadowWindow.totals(now);
    const cq = this.candidateQuality.totals(now);
    const bq = this.baselineQuality.totals(now);
    return {
      candidate: this.candidate,
      baseline: this.baseline,
      startedAt: this.startedAt,
      candidateRequests: c.requests,
      candidateErrorRate: rate(c.errors, c.requests),
      baselineRequests: b.requests,
      baselineErrorRate: rate(b.errors, b.requests),
      candidateP99Ms: c.total.quantile(0.99),
      baselineP99Ms: b.total.quantile(0.99),
      shadowCompared: s.requests,
      shadowDisagreement: rate(s.errors, s.requests),
      candidateLabels: cq.labels,
      baselineLabels: bq.labels,
      candidateAccuracy: cq.labels === 0 ? undefined : cq.correct / cq.labels,
      baselineAccuracy: bq.labels === 0 ? undefined : bq.correct / bq.labels,
      candidateMae: cq.labels === 0 ? undefined : cq.absErrorSum / cq.labels,
      baselineMae: bq.labels === 0 ? undefined : bq.absErrorSum / bq.labels,
    };
  }

  /** At most every tenth of a window: enough to act within one window, cheap per request. */
  private check(now: number): GuardVerdict | undefined {
    if (!this.active(now) || now - this.lastCheck < this.options.windowMs / 10) return undefined;
    this.lastCheck = now;
    return this.evaluate();
  }

  evaluate(): GuardVerdict | undefined {
    const { minSamples, maxErrorRateIncrease, maxLatencyRatio, maxDisagreement, windowMs, minFeedback, maxAccuracyDrop, maxMaeRatio } = this.options;
    const s = this.state();
    const versus = `v${this.candidate} vs v${this.baseline ?? '–'}`;
    const over = `over the last ${Math.round(windowMs / 1000)} s`;
    if (s.candidateRequests >= minSamples) {
      // Without enough baseline traffic (a full swap), the baseline's error rate counts as 0.
      const baselineRate = s.baselineRequests >= minSamples ? s.baselineErrorRate : 0;
      const increase = s.candidateErrorRate - baselineRate;
      if (increase > maxErrorRateIncrease) {
        return {
          reason: `error rate: ${fmt(s.candidateErrorRate)} against ${fmt(baselineRate)} (${versus}, ${s.candidateRequests} requests ${over}); allowed increase ${fmt(maxErrorRateIncrease)}, got ${fmt(increase)}`,
        };
      }
      if (s.baselineRequests >= minSamples && s.baselineP99Ms > 0) {
        const ratio = s.candidateP99Ms / s.baselineP99Ms;
        // A ratio on tiny latencies is noise: also require 5 ms of real difference.
        if (ratio > maxLatencyRatio && s.candidateP99Ms - s.baselineP99Ms > 5) {
          return {
            reason: `p99 latency: ${s.candidateP99Ms.toFixed(1)} ms against ${s.baselineP99Ms.toFixed(1)} ms (${versus} ${over}); allowed ratio ${maxLatencyRatio}, got ${ratio.toFixed(2)}`,
          };
        }
      }
    }
    // Live quality needs labels on both sides: a drop is relative to what the baseline does now.
    if (s.candidateLabels >= minFeedback && s.baselineLabels >= minFeedback) {
      const drop = s.baselineAccuracy! - s.candidateAccuracy!;
      if (maxAccuracyDrop < 1 && drop > maxAccuracyDrop) {
        return {
          reason: `live accuracy: ${fmt(s.candidateAccuracy!)} against ${fmt(s.baselineAccuracy!)} (${versus}, ${s.candidateLabels} and ${s.baselineLabels} labels ${over}); allowed drop ${fmt(maxAccuracyDrop)}, got ${fmt(drop)}`,
        };
      }
      if (Number.isFinite(maxMaeRatio) && s.baselineMae! > 0 && s.candidateMae! / s.baselineMae! > maxMaeRatio) {
        return {
          reason: `live MAE: ${s.candidateMae!.toPrecision(3)} against ${s.baselineMae!.toPrecision(3)} (${versus} ${over}); allowed ratio ${maxMaeRatio}, got ${(s.candidateMae! / s.baselineMae!).toFixed(2)}`,
        };
      }
    }
    if (s.shadowCompared >= minSamples && s.shadowDisagreement > maxDisagreement) {
      return {
        reason: `shadow disagreement: ${fmt(s.shadowDisagreement)} of ${s.shadowCompared} mirrored requests (${versus} ${over}); allowed ${fmt(maxDisagreement)}`,
      };
    }
    return undefined;
  }
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

function fmt(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
