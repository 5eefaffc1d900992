import { LRUCache } from 'lru-cache';
import { ErrorCode, ModelHostError, quoted } from '../errors/index.js';
import { float16Value } from '../tensor/codec/float16.js';
import type { Tensor } from '../tensor/index.js';
import type { ResolvedFeedback } from './monitoring-options.js';
import { QualityWindow } from './quality-window.js';

/** Live quality of one version over the feedback window. */
export interface QualityStats {
  /** Labelled rows in the window. */
  readonly labels: number;
  /** Share of labelled rows predicted right (classification), or undefined. */
  readonly accuracy: number | undefined;
  /** Mean absolute error (regression), or undefined. */
  readonly mae: number | undefined;
}

export interface FeedbackResult {
  /** False when the request id is unknown or its prediction expired (`feedback.ttlMs`). */
  readonly matched: boolean;
  /** The version that answered the request. */
  readonly version: number | undefined;
  /** Rows labelled. */
  readonly labels: number;
  /** Classification: rows predicted right. */
  readonly correct: number | undefined;
  /** Regression: mean absolute error of these rows. */
  readonly absoluteError: number | undefined;
}

interface Served {
  readonly version: number;
  /** The load of `version` that answered: once it is unloaded, a label no longer matches (nor after a reload under the same number). */
  readonly load: object;
  /** Per row: the class index (classification) or the value (regression). */
  readonly predictions: Float64Array;
  /** Classification: how many classes the model's output has (a label must be below it). */
  readonly classes: number;
  /** Set when a second request came with this id: the id no longer names one prediction. */
  readonly ambiguous?: true;
}

/**
 * Predictions served, remembered by request id for a while (lru-cache with a TTL), so a
 * label that arrives later can be joined to them; per-version rolling accuracy or MAE.
 */
export class FeedbackStore {
  private readonly served: LRUCache<string, Served>;
  private readonly quality = new Map<number, QualityWindow>();
  /** Per version, a token for its current load: `forget` ends it, so what that load served stops matching at once. */
  private readonly loads = new Map<number, object>();
  private readonly unmatched = { count: 0 };
  private readonly duplicates = { count: 0 };

  constructor(
    readonly model: string,
    readonly options: ResolvedFeedback,
    private readonly now: () => number,
  ) {
    // lru-cache reads a start time of 0 as "no TTL": shift the clock by 1 ms so time 0 is a time.
    // Bounded in bytes too: one id can name a request of a million rows.
    this.served = new LRUCache<string, Served>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (served, id) => servedBytes(id, served.predictions.length),
      ttl: options.ttlMs,
      ttlResolution: 0,
      ttlAutopurge: false,
      perf: { now: () => now() + 1 },
    });
  }

  /**
   * Remembers what a request was answered (only its predictions, not its outputs). A
   * remembered id is never replaced: a second request with the same id (ids are chosen by
   * clients) makes the id ambiguous until it expires — labels for it no longer match, so
   * reusing an id cannot steer live accuracy — and counts in `duplicateIds`.
   */
  record(id: string, version: number, outputs: Readonly<Record<string, Tensor>>, rows: number): void {
    let earlier = this.served.get(id);
    if (earlier !== undefined && this.isForgotten(earlier)) {
      this.served.delete(id);
      earlier = undefined;
    }
    if (earlier !== undefined) {
      this.duplicates.count++;
      if (earlier.ambiguous !== true) this.served.set(id, { ...earlier, predictions: new Float64Array(0), ambiguous: true });
      return;
    }
    const name = this.options.output ?? Object.keys(outputs)[0];
    const tensor = name === undefined ? undefined : outputs[name];
    // Larger than the whole bound: not remembered (lru-cache would refuse it after the work).
    if (tensor === undefined || typeof tensor.data[0] === 'string' || rows < 1 || servedBytes(id, rows) > this.options.maxBytes) return;
    const raw = tensor.data as ArrayLike<number | bigint>;
    const data = tensor.dtype === 'float16' ? Array.from(raw as Uint16Array, float16Value) : raw;
    const rowSize = data.length / rows;
    const predictions = new Float64Array(rows);
    // One integer per row is the class itself (skl2onnx's `label`, an argmax the graph took);
    // one float per row is a score, thresholded at 0.5.
    const labelled = this.options.task === 'classification' && rowSize === 1 && !isFloat(tensor.dtype);
    // A prediction that is no number (NaN; for a value, ±Infinity too) cannot be scored: the
    // request is not remembered, rather than one label making the window's MAE NaN.
    for (let r = 0; r < rows; r++) {
      const base = r * rowSize;
      if (labelled) {
        predictions[r] = Number(data[base]);
      } else if (this.options.task === 'regression' || rowSize === 1) {
        const v = Number(data[base]);
        if (this.options.task === 'classification' ? Number.isNaN(v) : !Number.isFinite(v)) return;
        predictions[r] = this.options.task === 'classification' ? (v > 0.5 ? 1 : 0) : v;
      } else {
        let best = 0;
        for (let i = 0; i < rowSize; i++) {
          const score = Number(data[base + i]);
          if (Number.isNaN(score)) return;
          if (score > Number(data[base + best])) best = i;
        }
        predictions[r] = best;
      }
    }
    // A class output's classes are not in its shape: any class index is a label (bool: 0 or 1).
    const classes = this.options.task !== 'classification' ? Infinity : labelled ? (tensor.dtype === 'bool' ? 2 : Infinity) : rowSize === 1 ? 2 : rowSize;
    let load = this.loads.get(version);
    if (load === undefined) this.loads.set(version, (load = {}));
    this.served.set(id, { version, load, predictions, classes });
  }

  /**
   * Joins a label to the prediction served for `id`. `groundTruth`: a class index or a value,
   * or one per row for a batch request.
   * @throws ModelHostError INVALID_INPUT when the label's shape or type does not fit.
   */
  join(id: string, groundTruth: unknown): FeedbackResult {
    checkLabels(this.model, this.options.task, groundTruth); // bad labels are refused whether or not the id is still known
    const served = this.served.get(id);
    if (served === undefined || served.ambiguous === true || this.isForgotten(served)) {
      if (served !== undefined && this.isForgotten(served)) this.served.delete(id);
      this.unmatched.count++;
      return { matched: false, version: undefined, labels: 0, correct: undefined, absoluteError: undefined };
    }
    const labels = this.labelsOf(groundTruth, served.predictions.length);
    const outside = labels.find((label) => label >= served.classes);
    if (outside !== undefined) {
      throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${this.model}': ground truth must be a class index below ${served.classes} (the model's output classes), got ${outside}`, { model: this.model });
    }
    this.served.delete(id); // one label per request: a second one is not counted twice
    let correct = 0;
    let absError = 0;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] === served.predictions[i]) correct++;
      absError += Math.abs(labels[i]! - served.predictions[i]!);
    }
    let window = this.quality.get(served.version);
    if (window === undefined) this.quality.set(served.version, (window = new QualityWindow(this.options.windowMs)));
    window.record(this.now(), labels.length, correct, absError);
    const classification = this.options.task === 'classification';
    return {
      matched: true,
      version: served.version,
      labels: labels.length,
      correct: classification ? correct : undefined,
      absoluteError: classification ? undefined : absError / labels.length,
    };
  }

  /** Rolling quality per version that has labels. */
  stats(): Record<number, QualityStats> {
    const now = this.now();
    const out: Record<number, QualityStats> = {};
    for (const [version, window] of this.quality) {
      const t = window.totals(now);
      const classification = this.options.task === 'classification';
      out[version] = {
        labels: t.labels,
        accuracy: classification && t.labels > 0 ? t.correct / t.labels : undefined,
        mae: !classification && t.labels > 0 ? t.absErrorSum / t.labels : undefined,
      };
    }
    return out;
  }

  /** Labels whose request id was unknown or expired. */
  get unmatchedLabels(): number {
    return this.unmatched.count;
  }

  /** Requests whose id was already remembered (not remembered again; the id turned ambiguous). */
  get duplicateIds(): number {
    return this.duplicates.count;
  }

  /**
   * Predictions waiting for a label; those of an unloaded version count until they expire, are
   * pushed out by newer ones, or their id comes again (a label for one does not match).
   */
  get pending(): number {
    return this.served.size;
  }

  /** Bytes they hold, as counted against `maxBytes`. */
  get bytes(): number {
    return this.served.calculatedSize;
  }

  /**
   * A version unloaded: its quality window goes, and the predictions it served no longer match a
   * label (nor count for a version later loaded under the same number). O(1): deleting them
   * here walked every remembered prediction on the event loop, 45 ms at 100k, at each unload of
   * a swap; they are dropped as they are met, expire, or are pushed out (still within
   * `maxEntries` and `maxBytes`).
   */
  forget(version: number): void {
    this.quality.delete(version);
    this.loads.delete(version);
  }

  private isForgotten(served: Served): boolean {
    return this.loads.get(served.version) !== served.load;
  }

  private labelsOf(groundTruth: unknown, rows: number): readonly number[] {
    const list = Array.isArray(groundTruth) ? groundTruth : [groundTruth];
    const what = this.options.task === 'classification' ? 'a class index (an integer ≥ 0)' : 'a finite number';
    if (list.length !== rows) {
      throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${this.model}': expected ${rows === 1 ? what : `an array of ${rows} labels (one per row)`}, got ${Array.isArray(groundTruth) ? `an array of ${list.length}` : describe(groundTruth)}`, {
        model: this.model,
      });
    }
    return list as number[];
  }
}

function isFloat(dtype: Tensor['dtype']): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/**
 * What one remembered entry costs the heap besides its predictions and its id: the entry's
 * object and typed array, lru-cache's and its Map's slots. Measured (node 20,
 * test/unit/monitoring/feedback-store-bytes.test.ts): 100 000 one-row entries with
 * 36-character ids took ~500 bytes each; counted as 64, they held three times what `maxBytes` said.
 */
const ENTRY_BYTES = 420;

/** What one remembered request holds, as counted against `feedback.maxBytes`: its predictions, its id, the entry. */
function servedBytes(id: string, rows: number): number {
  return 8 * rows + 2 * id.length + ENTRY_BYTES;
}

/**
 * Refuses a label that cannot be one: a class index (integer ≥ 0) or a finite value, or a
 * non-empty array of them.
 * @throws ModelHostError INVALID_INPUT naming the expected and the received.
 */
export function checkLabels(model: string, task: 'classification' | 'regression', groundTruth: unknown): void {
  const list: unknown[] = Array.isArray(groundTruth) ? groundTruth : [groundTruth];
  const what = task === 'classification' ? 'a class index (an integer ≥ 0)' : 'a finite number';
  if (list.length === 0 || list.length > 1_000_000) {
    throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${model}': expected ${what} or an array of one per row, got an array of ${list.length}`, { model: model });
  }
  for (const label of list) {
    const ok = task === 'classification' ? Number.isInteger(label) && (label as number) >= 0 : typeof label === 'number' && Number.isFinite(label);
    if (!ok) throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback for '${model}': ground truth must be ${what}, got ${describe(label)}`, { model: model });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${quoted(value)}`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
