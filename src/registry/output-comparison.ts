import { sameBytes, type BytesElement } from '../tensor/codec/index.js';
import type { Tensor } from '../tensor/index.js';

export interface OutputComparison {
  /** Largest absolute element difference across numeric outputs. */
  readonly maxAbsDiff: number;
  /** Mean absolute element difference across numeric outputs. */
  readonly meanAbsDiff: number;
  /**
   * Whether every row's argmax agrees, for outputs that look like scores (float, last
   * dimension > 1); undefined when no output does.
   */
  readonly argmaxAgrees: boolean | undefined;
  /** Same output names and shapes, and every element within `tolerance` (`values`) or the same argmax (`argmax`). */
  readonly agrees: boolean;
}

/** What makes two answers the same: every value within tolerance, or (classifiers) the same top class. */
export type AgreementMode = 'values' | 'argmax';

/**
 * Compares two versions' outputs for the same request (shadow traffic, golden sets):
 * element differences, and argmax agreement for classifiers, whose scores may move while
 * the decision stays.
 */
export function compareOutputs(a: Record<string, Tensor>, b: Record<string, Tensor>, tolerance: number, mode: AgreementMode = 'values'): OutputComparison {
  let max = 0;
  let sum = 0;
  let count = 0;
  let argmaxAgrees: boolean | undefined;
  let shapesMatch = true;
  for (const name in a) {
    const x = a[name]!;
    const y = b[name];
    if (y === undefined || x.data.length !== y.data.length || x.shape.join() !== y.shape.join()) {
      shapesMatch = false;
      continue;
    }
    if (Array.isArray(x.data) || Array.isArray(y.data)) {
      const xs = x.data as BytesElement[];
      const ys = y.data as BytesElement[];
      for (let i = 0; i < xs.length; i++) if (!sameBytes(xs[i]!, ys[i]!)) max = Number.POSITIVE_INFINITY;
      continue;
    }
    const xs = x.data as ArrayLike<number | bigint>;
    const ys = y.data as ArrayLike<number | bigint>;
    for (let i = 0; i < xs.length; i++) {
      const d = Math.abs(Number(xs[i]!) - Number(ys[i]!));
      if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      sum += d;
      count++;
    }
    const classes = x.shape[x.shape.length - 1] ?? 1;
    if ((x.dtype === 'float32' || x.dtype === 'float64') && classes > 1) {
      const agree = sameArgmax(xs as ArrayLike<number>, ys as ArrayLike<number>, classes);
      argmaxAgrees = (argmaxAgrees ?? true) && agree;
    }
  }
  for (const name in b) if (!(name in a)) shapesMatch = false;
  const withinTolerance = max <= tolerance;
  return {
    maxAbsDiff: max,
    meanAbsDiff: count === 0 ? 0 : sum / count,
    argmaxAgrees,
    agrees: shapesMatch && (mode === 'argmax' && argmaxAgrees !== undefined ? argmaxAgrees : withinTolerance),
  };
}

function sameArgmax(a: ArrayLike<number>, b: ArrayLike<number>, classes: number): boolean {
  for (let row = 0; row < a.length; row += classes) {
    let ia = row;
    let ib = row;
    for (let i = row + 1; i < row + classes; i++) {
      if (a[i]! > a[ia]!) ia = i;
      if (b[i]! > b[ib]!) ib = i;
    }
    if (ia !== ib) return false;
  }
  return true;
}
