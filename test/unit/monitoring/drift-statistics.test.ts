import { describe, expect, it } from 'vitest';
import { chiSquaredHomogeneity, kolmogorovQ, kolmogorovSmirnov, kolmogorovSmirnovOnGrid, logGamma, populationStabilityIndex, regularizedGammaQ } from '../../../src/monitoring/drift-statistics.js';
import { mulberry32 } from '../../fixtures/prng.js';
import { binOf, NumericReference } from '../../../src/monitoring/reference-stats.js';

describe('drift statistics', () => {
  it('PSI is 0 for equal shares and Σ (l − r) ln(l / r) otherwise', () => {
    const ref = Float64Array.from([0.25, 0.25, 0.25, 0.25]);
    expect(populationStabilityIndex(ref, Float64Array.from([25, 25, 25, 25]), 100)).toBe(0);
    const live = Float64Array.from([10, 20, 30, 40]);
    const expected = [0.1, 0.2, 0.3, 0.4].reduce((s, l) => s + (l - 0.25) * Math.log(l / 0.25), 0);
    expect(populationStabilityIndex(ref, live, 100)).toBeCloseTo(expected, 12);
    // An empty bin is floored at 1e-4, not infinite.
    expect(Number.isFinite(populationStabilityIndex(ref, Float64Array.from([0, 0, 50, 50]), 100))).toBe(true);
  });

  it("Kolmogorov's Q matches the table: Q(1.36) ≈ 0.049, Q(1.63) ≈ 0.010", () => {
    expect(kolmogorovQ(1.36)).toBeCloseTo(0.0494, 3);
    expect(kolmogorovQ(1.63)).toBeCloseTo(0.0098, 3);
    expect(kolmogorovQ(0)).toBe(1);
  });

  it('the two-sample KS statistic is the largest CDF gap; equal samples give p = 1', () => {
    const a = Float64Array.from([1, 2, 3, 4]);
    expect(kolmogorovSmirnov(a, 4, a, 4)).toEqual({ statistic: 0, pValue: 1 });
    const b = Float64Array.from([3, 4, 5, 6]);
    expect(kolmogorovSmirnov(a, 4, b, 4).statistic).toBe(0.5);
    const far = Float64Array.from([10, 11, 12, 13]);
    expect(kolmogorovSmirnov(a, 4, far, 4).statistic).toBe(1);
  });

  it('the chi-squared survival function matches the 5% critical values', () => {
    expect(regularizedGammaQ(0.5, 3.841 / 2)).toBeCloseTo(0.05, 3); // df 1
    expect(regularizedGammaQ(1, 5.991 / 2)).toBeCloseTo(0.05, 3); // df 2
    expect(regularizedGammaQ(4.5, 16.919 / 2)).toBeCloseTo(0.05, 3); // df 9
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 10);
  });

  it('a chi-squared homogeneity test: same shares → p = 1; different shares → small p', () => {
    const ref = Float64Array.from([500, 300, 200]);
    expect(chiSquaredHomogeneity(ref, 1000, Float64Array.from([50, 30, 20]), 100).pValue).toBeCloseTo(1, 6);
    expect(chiSquaredHomogeneity(ref, 1000, Float64Array.from([10, 30, 60]), 100).pValue).toBeLessThan(1e-6);
  });

  it('reference bins are equal-frequency quantiles; ties merge bins', () => {
    const sample = Float64Array.from({ length: 100 }, (_, i) => i);
    const ref = new NumericReference(sample, 100, 10);
    expect([...ref.edges]).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect([...ref.shares]).toEqual(Array(10).fill(0.1));
    expect(ref.mean).toBe(49.5);
    expect(ref.variance).toBeCloseTo(833.25, 10);
    expect(binOf(ref.edges, -5)).toBe(0);
    expect(binOf(ref.edges, 10)).toBe(1);
    expect(binOf(ref.edges, 1e9)).toBe(9);
    const binary = new NumericReference(Float64Array.from({ length: 100 }, (_, i) => i % 2), 100, 10);
    expect([...binary.edges]).toEqual([1]);
    expect([...binary.shares]).toEqual([0.5, 0.5]);
  });

  it('a window counted per grid cell gives the same PSI bins as binning each value, and a KS statistic within one cell of the exact one', () => {
    const random = mulberry32(1);
    const sample = Float64Array.from({ length: 1000 }, () => Math.round(random() * 50) / 10); // ties on purpose
    const ref = new NumericReference(sample, 1000, 10);
    const window = Float64Array.from({ length: 500 }, () => Math.round((random() * 50 + 5) * 10) / 100);
    const direct = new Float64Array(ref.shares.length);
    const cells = new Float64Array(ref.grid.length + 1);
    for (const v of window) {
      direct[binOf(ref.edges, v)]!++;
      cells[binOf(ref.grid, v)]!++;
    }
    const fromCells = new Float64Array(ref.shares.length);
    cells.forEach((c, k) => (fromCells[ref.cellBins[k]!]! += c));
    expect([...fromCells]).toEqual([...direct]);
    const exact = kolmogorovSmirnov(sample.slice().sort(), 1000, window.slice().sort(), 500).statistic;
    const onGrid = kolmogorovSmirnovOnGrid(ref.gridCdf, ref.count, cells, 500).statistic;
    expect(onGrid).toBeLessThanOrEqual(exact + 1e-12);
    // Short of it by at most the larger mass one grid cell holds (reference or window).
    const refCdf = [0, ...ref.gridCdf, 1];
    const cellMass = Math.max(...refCdf.slice(1).map((c, k) => c - refCdf[k]!), ...[...cells].map((c) => c / 500));
    expect(exact - onGrid).toBeLessThanOrEqual(cellMass + 1e-12);
    expect(onGrid).toBeGreaterThan(0.05); // the shift of a tenth of the range is seen
  });
});
