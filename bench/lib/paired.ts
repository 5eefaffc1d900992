/**
 * Paired comparison of two sides measured back to back: a ratio per pair, then their median
 * with a distribution-free confidence interval (order statistics of the binomial(n, ½) sign
 * test, as in Conover, "Practical Nonparametric Statistics", §3.2). Pairs cancel the machine's
 * drift (other processes, thermal, GC of an earlier phase), which a ratio of totals does not;
 * the median ignores a pair that one preemption spoiled.
 */
export interface MedianInterval {
  readonly count: number;
  readonly median: number;
  /** The interval's bounds (order statistics), and the confidence it actually has (≥ the one asked, when n allows). */
  readonly low: number;
  readonly high: number;
  readonly confidence: number;
}

/** P(X ≤ k) for X ~ binomial(n, ½). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n; // P(X = 0)
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term = (term * (n - i + 1)) / i;
    sum += term;
  }
  return sum;
}

/**
 * The median of `values` and the widest-rank interval [x(k+1), x(n−k)] whose coverage is at
 * least `confidence` (two-sided). With fewer than 6 values no such interval reaches 95%; the
 * bounds are then the minimum and maximum and `confidence` says what they cover.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval {
  const n = values.length;
  if (n === 0) throw new Error('medianInterval: no values');
  const sorted = Float64Array.from(values).sort();
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  // Largest k with 1 − 2·P(X ≤ k) ≥ confidence; x(k+1)…x(n−k) (1-based) then covers the median.
  let k = 0;
  while (k + 1 < n / 2 && 1 - 2 * binomialHalfCdf(n, k + 1) >= confidence) k++;
  return { count: n, median, low: sorted[k]!, high: sorted[n - 1 - k]!, confidence: 1 - 2 * binomialHalfCdf(n, k) };
}
