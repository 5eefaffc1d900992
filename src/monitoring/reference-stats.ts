/**
 * What a feature looked like in the reference: for a numeric feature its sorted sample
 * (for KS), mean, variance, equal-frequency bin edges and the reference share of each bin
 * (for PSI); for a class feature the share of each class.
 */
export class NumericReference {
  readonly sorted: Float64Array;
  readonly mean: number;
  readonly variance: number;
  /** Interior bin edges, ascending and distinct: bin i holds values in [edges[i−1], edges[i]). */
  readonly edges: Float64Array;
  /** Reference share of each of `edges.length + 1` bins. */
  readonly shares: Float64Array;

  /** `sample` is copied; `bins` equal-frequency bins are cut at the reference's quantiles (ties merge bins). */
  constructor(sample: Float64Array, count: number, bins: number) {
    this.sorted = sample.slice(0, count).sort();
    const { mean, variance } = moments(this.sorted, count);
    this.mean = mean;
    this.variance = variance;
    const edges: number[] = [];
    for (let b = 1; b < bins; b++) {
      const edge = this.sorted[Math.min(count - 1, Math.floor((b * count) / bins))]!;
      if (edges.length === 0 ? edge > this.sorted[0]! : edge > edges[edges.length - 1]!) edges.push(edge);
    }
    this.edges = Float64Array.from(edges);
    this.shares = new Float64Array(edges.length + 1);
    for (let i = 0; i < count; i++) this.shares[binOf(this.edges, this.sorted[i]!)]!++;
    for (let i = 0; i < this.shares.length; i++) this.shares[i]! /= count;
  }
}

/** Share of each class (argmax index) in the reference. */
export class ClassReference {
  readonly shares: Float64Array;
  constructor(
    readonly counts: Float64Array,
    readonly total: number,
  ) {
    this.counts = counts.slice();
    this.shares = counts.map((c) => c / total);
  }
}

/** The bin of a value: binary search over the interior edges. */
export function binOf(edges: Float64Array, value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Mean and (population) variance of the first `count` values. */
export function moments(values: Float64Array, count: number): { mean: number; variance: number } {
  if (count === 0) return { mean: 0, variance: 0 };
  let sum = 0;
  for (let i = 0; i < count; i++) sum += values[i]!;
  const mean = sum / count;
  let sq = 0;
  for (let i = 0; i < count; i++) sq += (values[i]! - mean) ** 2;
  return { mean, variance: sq / count };
}
