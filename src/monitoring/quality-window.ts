/** Labelled rows over a sliding window of time: how many, how many right, the summed absolute error. */
export interface QualityTotals {
  readonly labels: number;
  readonly correct: number;
  readonly absErrorSum: number;
}

const SLICES = 10;

/**
 * Live quality over the last `windowMs`: a ring of ten slices, so old labels leave the window
 * a slice at a time without per-label bookkeeping (the same shape as the stats windows).
 */
export class QualityWindow {
  private readonly starts = new Float64Array(SLICES).fill(Number.NEGATIVE_INFINITY);
  private readonly labels = new Float64Array(SLICES);
  private readonly correct = new Float64Array(SLICES);
  private readonly absError = new Float64Array(SLICES);
  private readonly sliceMs: number;

  constructor(readonly windowMs: number) {
    this.sliceMs = windowMs / SLICES;
  }

  record(now: number, labels: number, correct: number, absErrorSum: number): void {
    const start = Math.floor(now / this.sliceMs) * this.sliceMs;
    const i = Math.floor(now / this.sliceMs) % SLICES;
    if (this.starts[i] !== start) {
      this.starts[i] = start;
      this.labels[i] = 0;
      this.correct[i] = 0;
      this.absError[i] = 0;
    }
    this.labels[i]! += labels;
    this.correct[i]! += correct;
    this.absError[i]! += absErrorSum;
  }

  totals(now: number): QualityTotals {
    let labels = 0;
    let correct = 0;
    let absErrorSum = 0;
    for (let i = 0; i < SLICES; i++) {
      if (now - this.starts[i]! >= this.windowMs) continue;
      labels += this.labels[i]!;
      correct += this.correct[i]!;
      absErrorSum += this.absError[i]!;
    }
    return { labels, correct, absErrorSum };
  }
}
