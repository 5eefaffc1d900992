import { LatencyHistogram } from './latency-histogram.js';

/** What one slice of time collected. */
export class WindowSlice {
  start = 0;
  requests = 0;
  rows = 0;
  errors = 0;
  /** Failures that are the version's (`isVersionFault`), not the caller's. */
  versionErrors = 0;
  readonly errorsByCode = new Map<string, number>();
  readonly total = new LatencyHistogram();
  readonly queue = new LatencyHistogram();
  readonly compute = new LatencyHistogram();
  batches = 0;
  batchRows = 0;
  /** Batch sizes seen: size → count. */
  readonly batchSizes = new Map<number, number>();

  reset(start: number): void {
    this.start = start;
    this.requests = 0;
    this.rows = 0;
    this.errors = 0;
    this.versionErrors = 0;
    this.errorsByCode.clear();
    this.total.clear();
    this.queue.clear();
    this.compute.clear();
    this.batches = 0;
    this.batchRows = 0;
    this.batchSizes.clear();
  }
}

/** A window's totals, merged from its slices. */
export interface WindowTotals {
  readonly requests: number;
  readonly rows: number;
  readonly errors: number;
  readonly versionErrors: number;
  readonly errorsByCode: ReadonlyMap<string, number>;
  readonly total: LatencyHistogram;
  readonly queue: LatencyHistogram;
  readonly compute: LatencyHistogram;
  readonly batches: number;
  readonly batchRows: number;
  readonly batchSizes: ReadonlyMap<number, number>;
  /** How much time the totals cover, ms (less than the window until it has filled). */
  readonly spanMs: number;
}

/**
 * Counters over a sliding window of time: a ring of `slices` slices of `windowMs / slices`
 * each, so old data leaves the window slice by slice without per-event bookkeeping.
 */
export class RollingWindow {
  private readonly ring: WindowSlice[];
  private readonly sliceMs: number;
  private readonly created: number;

  constructor(
    readonly windowMs: number,
    now: number,
    slices = 12,
  ) {
    this.sliceMs = windowMs / slices;
    this.created = now;
    this.ring = Array.from({ length: slices }, () => new WindowSlice());
    const first = this.ring[0]!;
    first.reset(this.sliceStart(now));
    for (let i = 1; i < slices; i++) this.ring[i]!.start = Number.NEGATIVE_INFINITY;
  }

  /** The slice for `now`, recycling the oldest when time moved on. */
  slice(now: number): WindowSlice {
    const start = this.sliceStart(now);
    const index = Math.floor(start / this.sliceMs) % this.ring.length;
    const slice = this.ring[index < 0 ? index + this.ring.length : index]!;
    if (slice.start !== start) slice.reset(start);
    return slice;
  }

  /** Everything recorded within the last `spanMs` (at most the whole window), to slice precision. */
  totals(now: number, spanMs = this.windowMs): WindowTotals {
    const span = Math.min(spanMs, this.windowMs);
    const from = this.sliceStart(now) - span + this.sliceMs;
    const total = new LatencyHistogram();
    const queue = new LatencyHistogram();
    const compute = new LatencyHistogram();
    const errorsByCode = new Map<string, number>();
    const batchSizes = new Map<number, number>();
    let requests = 0;
    let rows = 0;
    let errors = 0;
    let versionErrors = 0;
    let batches = 0;
    let batchRows = 0;
    for (const slice of this.ring) {
      if (slice.start < from || slice.start > now) continue;
      requests += slice.requests;
      rows += slice.rows;
      errors += slice.errors;
      versionErrors += slice.versionErrors;
      batches += slice.batches;
      batchRows += slice.batchRows;
      total.add(slice.total);
      queue.add(slice.queue);
      compute.add(slice.compute);
      for (const [code, n] of slice.errorsByCode) errorsByCode.set(code, (errorsByCode.get(code) ?? 0) + n);
      for (const [size, n] of slice.batchSizes) batchSizes.set(size, (batchSizes.get(size) ?? 0) + n);
    }
    const covered = Math.max(this.sliceMs, Math.min(span, now - this.created));
    return { requests, rows, errors, versionErrors, errorsByCode, total, queue, compute, batches, batchRows, batchSizes, spanMs: covered };
  }

  private sliceStart(now: number): number {
    return Math.floor(now / this.sliceMs) * this.sliceMs;
  }
}
