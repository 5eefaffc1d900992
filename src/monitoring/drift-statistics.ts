/**
 * The statistics drift detection compares windows with: population stability index, the
 * two-sample Kolmogorov–Smirnov test and Pearson's chi-squared test of homogeneity. Plain
 * functions over typed arrays; nothing here allocates per call beyond its result.
 */

/** Share floor for an empty bin, so `ln(0)` never appears (the 1e-4 Evidently and others use). */
export const PSI_EPSILON = 1e-4;

/**
 * PSI = Σ (live − ref) · ln(live / ref) over bin shares. `reference` holds shares (sum 1),
 * `live` counts over `liveTotal` rows.
 */
export function populationStabilityIndex(reference: Float64Array, live: Float64Array, liveTotal: number): number {
  let psi = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = Math.max(reference[i]!, PSI_EPSILON);
    const l = Math.max(live[i]! / liveTotal, PSI_EPSILON);
    psi += (l - r) * Math.log(l / r);
  }
  return psi;
}

/**
 * The two-sample KS statistic D (largest gap between the empirical CDFs) of two sorted
 * samples, and its asymptotic p-value (Kolmogorov's distribution with Stephens' small-sample
 * correction, as in Numerical Recipes §14.3).
 */
export function kolmogorovSmirnov(a: Float64Array, n: number, b: Float64Array, m: number): { statistic: number; pValue: number } {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = a[i]! <= b[j]! ? a[i]! : b[j]!;
    while (i < n && a[i]! === x) i++;
    while (j < m && b[j]! === x) j++;
    const gap = Math.abs(i / n - j / m);
    if (gap > d) d = gap;
  }
  const en = Math.sqrt((n * m) / (n + m));
  return { statistic: d, pValue: kolmogorovQ((en + 0.12 + 0.11 / en) * d) };
}

/**
 * The KS statistic evaluated at grid points: the largest gap between the reference's CDF
 * (`referenceCdf`, shares below each grid point) and the window's (`counts`: the window's
 * values per grid cell, cell k below grid point k). It never exceeds the exact statistic and
 * falls short of it by at most the larger mass one cell holds, of the reference (1% on a
 * 100-point grid without ties) or of the window.
 */
export function kolmogorovSmirnovOnGrid(referenceCdf: Float64Array, referenceCount: number, counts: Float64Array, n: number): { statistic: number; pValue: number } {
  let below = 0;
  let d = 0;
  for (let k = 0; k < referenceCdf.length; k++) {
    below += counts[k]!;
    const gap = Math.abs(referenceCdf[k]! - below / n);
    if (gap > d) d = gap;
  }
  const en = Math.sqrt((n * referenceCount) / (n + referenceCount));
  return { statistic: d, pValue: kolmogorovQ((en + 0.12 + 0.11 / en) * d) };
}

/** Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2 j² λ²}: the probability of a larger D under no drift. */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 1e-3) return 1;
  let sum = 0;
  let sign = 1;
  for (let j = 1; j <= 100; j++) {
    const term = sign * Math.exp(-2 * j * j * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Chi-squared test of homogeneity on a 2×K table (reference counts against live counts).
 * Categories empty in both are left out of the degrees of freedom.
 */
export function chiSquaredHomogeneity(reference: Float64Array, referenceTotal: number, live: Float64Array, liveTotal: number): { statistic: number; pValue: number } {
  const total = referenceTotal + liveTotal;
  let x2 = 0;
  let categories = 0;
  for (let k = 0; k < reference.length; k++) {
    const column = reference[k]! + live[k]!;
    if (column === 0) continue;
    categories++;
    const er = (column * referenceTotal) / total;
    const el = (column * liveTotal) / total;
    x2 += (reference[k]! - er) ** 2 / er + (live[k]! - el) ** 2 / el;
  }
  const df = categories - 1;
  return { statistic: x2, pValue: df <= 0 ? 1 : regularizedGammaQ(df / 2, x2 / 2) };
}

/** Q(a, x) = Γ(a, x) / Γ(a), the chi-squared survival function at 2x with 2a degrees of freedom. */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    // Series for P(a, x).
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a)));
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - logGamma(a)) * h);
}

const LANCZOS = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(z) for z > 0 (Lanczos approximation, g = 7). */
export function logGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < LANCZOS.length; i++) a += LANCZOS[i]! / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
