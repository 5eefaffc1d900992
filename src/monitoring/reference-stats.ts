/**
 * What a feature looked like in the reference: for a numeric feature its sorted sample
 * (for KS), mean, variance, equal-frequency bin edges and the reference share of each bin
 * (for PSI); for a class feature the share of each class.
 */
export class NumericReference {
  readonly count: number;
  readonly mean: number;
  readonly variance: number;
  /** Interior bin edges, ascending and distinct: bin i holds values in [edges[i−1], edges[i]). */
  readonly edges: Float64Array;
  /** Reference share of each of `edges.length + 1` bins. */
  readonly shares: Float64Array;
  /** The reference's percentiles (distinct): where the KS statistic is evaluated. */
  readonly grid: Float64Array;
  /** Share of the reference below each grid point. */
  readonly gridCdf: Float64Array;
  /**
   * The PSI bin of each grid cell (cell k holds values in [grid[k−1], grid[k])). The bin
   * edges are grid points (both are quantiles of the same sorted sample), so a window is
   * counted once, per grid cell, and its bin counts are summed from the cells.
   */
  readonly cellBins: Int32Array;

  /**
   * `sample` is not kept; `bins` equal-frequency bins are cut at the reference's quantiles
   * (ties merge bins), and a `gridPoints`-quantile grid is kept for the KS test.
   */
  constructor(sample: Float64Array, count: number, bins: number, gridPoints = 10 * bins) {
    const sorted = sample.slice(0, count).sort();
    this.count = count;
    const { mean, variance } = moments(sorted, count);
    this.mean = mean;
    this.variance = variance;
    this.edges = quantileEdges(sorted, count, bins);
    this.shares = new Float64Array(this.edges.length + 1);
    for (let i = 0; i < count; i++) this.shares[binOf(this.edges, sorted[i]!)]!++;
    for (let i = 0; i < this.shares.length; i++) this.shares[i]! /= count;
    this.grid = quantileEdges(sorted, count, gridPoints);
    this.gridCdf = this.grid.map((edge) => lowerBound(sorted, count, edge) / count);
    this.cellBins = new Int32Array(this.grid.length + 1);
    for (let k = 1; k <= this.grid.length; k++) this.cellBins[k] = binOf(this.edges, this.grid[k - 1]!);
  }
}

/** Distinct interior cut points at the `parts`-quantiles of a sorted sample. */
function quantileEdges(sorted: Float64Array, count: number, parts: number): Float64Array {
  const edges: number[] = [];
  for (let b = 1; b < parts; b++) {
    const edge = sorted[Math.min(count - 1, Math.floor((b * count) / parts))]!;
    if (edges.length === 0 ? edge > sorted[0]! : edge > edges[edges.length - 1]!) edges.push(edge);
  }
  return Float64Array.from(edges);
}

/** How many of the first `count` sorted values are below `value`. */
function lowerBound(sorted: Float64Array, count: number, value: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
