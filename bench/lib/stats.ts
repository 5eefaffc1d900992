/** Distribution of a set of samples (milliseconds, where they are latencies). */
export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * The p-th percentile (0–100) of ascending-sorted samples, interpolated linearly between
 * the two nearest ranks (the "R-7" rule of spreadsheets and numpy), NaN when empty.
 * Interpolating keeps p99 stable on small sample sets instead of jumping between ranks.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const low = Math.floor(rank);
  const high = Math.min(n - 1, low + 1);
  const lowValue = sorted[low]!;
  return lowValue + (sorted[high]! - lowValue) * (rank - low);
}

/** Summarizes samples without reordering the caller's array. */
export function summarize(samples: ArrayLike<number>): Summary {
  // A Float64Array sorts numerically (Array#sort would compare strings) and fast.
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  const n = sorted.length;
  return {
    count: n,
    mean: n === 0 ? Number.NaN : sum / n,
    min: n === 0 ? Number.NaN : sorted[0]!,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}
