import { float16Value } from '../tensor/codec/float16.js';
import type { Tensor } from '../tensor/index.js';
import { chiSquaredHomogeneity, kolmogorovSmirnovOnGrid, populationStabilityIndex } from './drift-statistics.js';
import type { ResolvedDrift } from './monitoring-options.js';
import { binOf, ClassReference, NumericReference } from './reference-stats.js';

/** How one feature compared in the last full window. */
export interface FeatureDrift {
  /** `x[3]` (element 3 of input x), `image:channel1` (mean of channel 1), `probs:class` (argmax of an output). */
  readonly name: string;
  readonly kind: 'numeric' | 'classes';
  readonly psi: number;
  /** KS p-value (numeric) or chi-squared p-value (classes), before the Bonferroni correction. */
  readonly pValue: number;
  readonly drifted: boolean;
  /** Numeric: mean and variance of the reference and of the last window. Classes: shares. */
  readonly reference: { readonly mean: number; readonly variance: number } | { readonly shares: readonly number[] } | undefined;
  readonly live: { readonly mean: number; readonly variance: number } | { readonly shares: readonly number[] } | undefined;
}

/** One group's (inputs or outputs) verdict on a full window. */
export interface DriftVerdict {
  readonly group: 'inputs' | 'outputs';
  /** Largest PSI over the group's features. */
  readonly score: number;
  readonly drifted: boolean;
  readonly features: readonly FeatureDrift[];
  /** Rows in the window. */
  readonly windowRows: number;
}

export interface DriftStats {
  /** `capturing` while the reference fills, `watching` after. */
  readonly inputs: GroupStats;
  readonly outputs: GroupStats;
}

export interface GroupStats {
  readonly state: 'capturing' | 'watching' | 'idle';
  readonly referenceRows: number;
  /** Rows in the window being filled. */
  readonly windowRows: number;
  /** Full windows compared so far, and how many drifted. */
  readonly windows: number;
  readonly driftedWindows: number;
  /**
   * Rows not counted: an input tracked per element (at most `maxFeaturesPerInput` per row) of
   * another size than the first rows', or holding NaN or ±Infinity in a monitored value (a row
   * mean or channel mean included).
   */
  readonly skippedRows: number;
  /** The last full window's verdict. */
  readonly last: DriftVerdict | undefined;
}

interface Feature {
  readonly name: string;
  kind: 'numeric' | 'classes';
  /** Reference capture buffer (numeric) — released once the reference is built. */
  capture: Float64Array | undefined;
  /** The window's counts: per PSI bin (numeric) or per class (classes). */
  live: Float64Array;
  /** Numeric: the window's counts per cell of the reference's percentile grid (for KS). */
  grid: Float64Array;
  sum: number;
  sumSquares: number;
  refCounts: Float64Array | undefined;
  numericRef: NumericReference | undefined;
  classRef: ClassReference | undefined;
  last: FeatureDrift | undefined;
}

/** How the rows of one tensor become features. */
interface Extractor {
  readonly tensor: string;
  /**
   * Elements per row when the layout was fixed. Per element (`elements`, `argmax`): rows of
   * another size are skipped. Summarized (`mean`, `channels`): any size whose rows still end in
   * the same channels is read (variable-length audio, text, images of another size).
   */
  readonly rowSize: number;
  /** `channels`: the last dimension is the channel (NHWC); `planes`: the first after the batch is (NCHW, ONNX's layout). */
  readonly mode: 'elements' | 'channels' | 'planes' | 'mean' | 'argmax';
  /** float16 data holds half bits: decoded per element. */
  readonly half: boolean;
  readonly channels: number;
  /** Index of the first feature this tensor feeds. */
  readonly first: number;
}

/**
 * Drift of one group (a model's inputs or its outputs) against its reference. Rows are read
 * straight from the tensors into preallocated buffers: nothing is allocated per row. The
 * reference is the first `referenceSize` rows seen (or given rows); then every `windowSize`
 * rows form a window compared feature by feature with PSI and a two-sample test (KS for
 * numbers, on the reference's percentile grid, so a window is counts, never sorted;
 * chi-squared for classes). A feature drifts when its PSI reaches `psiThreshold`
 * AND its p-value is below `pValue / features` (Bonferroni, as Alibi Detect's default).
 */
export class DriftGroup {
  private extractors: Extractor[] | undefined;
  private features: Feature[] = [];
  private scratch = new Float64Array(0);
  /** One row's elements as doubles (at most 4096 at a time: images are read in chunks). */
  private values = new Float64Array(0);
  /** One row's value of each feature (a class index for a class feature), before it is counted. */
  private rowValues = new Float64Array(0);
  private referenceRows = 0;
  private frozen = false;
  private windowRows = 0;
  private windows = 0;
  private driftedWindows = 0;
  private last: DriftVerdict | undefined;
  private skipped = 0;

  constructor(
    readonly group: 'inputs' | 'outputs',
    private readonly options: ResolvedDrift,
  ) {}

  /** Whether the reference is fixed and rows go to the live window. */
  get watching(): boolean {
    return this.frozen;
  }

  /**
   * Takes `rows` rows of these tensors. Returns a verdict when the row filled a window.
   */
  observe(tensors: Readonly<Record<string, Tensor>>, rows: number): DriftVerdict | undefined {
    this.extractors ??= this.layout(tensors, rows);
    let verdict: DriftVerdict | undefined;
    for (let row = 0; row < rows; row++) {
      if (!this.readRow(tensors, rows, row)) continue;
      if (!this.frozen) {
        this.referenceRows++;
        if (this.referenceRows >= this.options.referenceSize) this.freeze();
      } else if (++this.windowRows >= this.options.windowSize) {
        verdict = this.evaluate();
      }
    }
    return verdict;
  }

  /** Ends the reference now (given reference rows were fewer than `referenceSize`). */
  freeze(): void {
    if (this.frozen || this.referenceRows === 0) return;
    this.frozen = true;
    for (const f of this.features) {
      if (f.kind === 'numeric') {
        f.numericRef = new NumericReference(f.capture!, this.referenceRows, this.options.bins);
        f.capture = undefined;
        // The window is counts, not values: allocated once here, reset after each window.
        f.live = new Float64Array(f.numericRef.shares.length);
        f.grid = new Float64Array(f.numericRef.grid.length + 1);
      } else {
        f.classRef = new ClassReference(f.refCounts!, this.referenceRows);
        f.refCounts = undefined;
      }
    }
  }

  stats(): GroupStats {
    return {
      state: this.extractors === undefined ? 'idle' : this.frozen ? 'watching' : 'capturing',
      referenceRows: this.referenceRows,
      windowRows: this.windowRows,
      windows: this.windows,
      driftedWindows: this.driftedWindows,
      skippedRows: this.skipped,
      last: this.last,
    };
  }

  /** Rows skipped because their size did not match the first rows' (variable-length inputs). */
  get skippedRows(): number {
    return this.skipped;
  }

  private layout(tensors: Readonly<Record<string, Tensor>>, rows: number): Extractor[] {
    const extractors: Extractor[] = [];
    const { maxFeaturesPerInput } = this.options;
    let maxScratch = 0;
    for (const [name, tensor] of Object.entries(tensors)) {
      if (typeof tensor.data[0] === 'string' || tensor.dtype === 'bool' || tensor.data.length === 0) continue;
      const rowSize = tensor.data.length / rows;
      // With a batch dimension the first one counts rows; without one the whole shape is the row.
      const rowShape = tensor.shape.length > 1 && tensor.shape[0] === rows ? tensor.shape.slice(1) : tensor.shape;
      const first = this.features.length;
      let extractor: Extractor;
      if (this.group === 'outputs' && rowSize >= 2 && rowSize <= 1000 && (tensor.dtype === 'float32' || tensor.dtype === 'float64' || tensor.dtype === 'float16')) {
        // A row of scores: the class is its argmax.
        extractor = { tensor: name, rowSize, mode: 'argmax', channels: rowSize, first, half: tensor.dtype === 'float16' };
        this.features.push(this.feature(`${name}:class`, 'classes', rowSize));
      } else if (rowSize <= maxFeaturesPerInput) {
        extractor = { tensor: name, rowSize, mode: 'elements', channels: rowSize, first, half: tensor.dtype === 'float16' };
        for (let i = 0; i < rowSize; i++) this.features.push(this.feature(rowSize === 1 ? name : `${name}[${i}]`, 'numeric', 0));
      } else {
        // High-dimensional (an image): the mean of each channel, not each pixel. The channel is the
        // last dimension when it can be (NHWC, tfjs's layout); else, for a row of 3 or more
        // dimensions, the first (NCHW, ONNX's: [3, 224, 224]); else the row mean.
        const last = rowShape[rowShape.length - 1] ?? rowSize;
        const leading = rowShape[0] ?? rowSize;
        const channelsLast = rowShape.length >= 2 && last <= maxFeaturesPerInput && rowSize % last === 0;
        const planes = !channelsLast && rowShape.length >= 3 && leading >= 2 && leading <= maxFeaturesPerInput && rowSize % leading === 0;
        const channels = channelsLast ? last : planes ? leading : 1;
        extractor = { tensor: name, rowSize, mode: channels === 1 ? 'mean' : planes ? 'planes' : 'channels', channels, first, half: tensor.dtype === 'float16' };
        for (let c = 0; c < channels; c++) this.features.push(this.feature(channels === 1 ? `${name}:mean` : `${name}:channel${c}`, 'numeric', 0));
        maxScratch = Math.max(maxScratch, channels);
      }
      extractors.push(extractor);
    }
    this.scratch = new Float64Array(maxScratch);
    this.rowValues = new Float64Array(this.features.length);
    this.values = new Float64Array(Math.min(4096, Math.max(1, ...extractors.map((e) => e.rowSize))));
    return extractors;
  }

  private feature(name: string, kind: 'numeric' | 'classes', classes: number): Feature {
    const { referenceSize } = this.options;
    return {
      name,
      kind,
      capture: kind === 'numeric' ? new Float64Array(referenceSize) : undefined,
      live: new Float64Array(kind === 'numeric' ? 0 : classes),
      grid: new Float64Array(0),
      sum: 0,
      sumSquares: 0,
      refCounts: kind === 'classes' ? new Float64Array(classes) : undefined,
      numericRef: undefined,
      classRef: undefined,
      last: undefined,
    };
  }

  /** Reads one row into the reference or the live window; false if the row does not fit the layout. */
  private readRow(tensors: Readonly<Record<string, Tensor>>, rows: number, row: number): boolean {
    const extractors = this.extractors!;
    for (let x = 0; x < extractors.length; x++) {
      const e = extractors[x]!;
      const tensor = tensors[e.tensor];
      if (tensor === undefined || !(tensor.data.length === e.rowSize * rows || fitsSummary(e, tensor, rows))) {
        this.skipped++;
        return false;
      }
    }
    // The row's feature values first, then counted only if every numeric one is finite: a NaN
    // or an Infinity in the reference or a window would poison its mean, variance and bins.
    const row_ = this.rowValues;
    const values = this.values;
    let finite = true;
    for (let x = 0; x < extractors.length; x++) {
      const e = extractors[x]!;
      const data = tensors[e.tensor]!.data;
      const base = row * e.rowSize;
      switch (e.mode) {
        case 'elements':
          readInto(data, base, e.rowSize, values, e.half);
          for (let i = 0; i < e.rowSize; i++) {
            const v = values[i]!;
            if (v - v !== 0) finite = false; // NaN and ±Infinity
            row_[e.first + i] = v;
          }
          break;
        case 'argmax': {
          readInto(data, base, e.rowSize, values, e.half);
          let best = 0;
          for (let i = 1; i < e.rowSize; i++) if (values[i]! > values[best]!) best = i;
          row_[e.first] = best;
          break;
        }
        default: {
          // 'mean', 'channels' and 'planes' (an image): summed in chunks through the scratch row. The row's
          // own size: a summarized input may vary in length from row to row (never within one request).
          const size = data.length / rows;
          const from = row * size;
          const sums = this.scratch;
          sums.fill(0, 0, e.channels);
          const perChannel = size / e.channels;
          for (let start = 0; start < size; start += values.length) {
            const count = Math.min(values.length, size - start);
            readInto(data, from + start, count, values, e.half);
            if (e.mode === 'planes') {
              // One channel's plane after another: element k belongs to channel floor(k / plane).
              for (let i = 0; i < count; i++) sums[Math.floor((start + i) / perChannel)]! += values[i]!;
            } else {
              for (let i = 0; i < count; i++) sums[(start + i) % e.channels]! += values[i]!;
            }
          }
          for (let c = 0; c < e.channels; c++) {
            const v = sums[c]! / perChannel;
            if (v - v !== 0) finite = false;
            row_[e.first + c] = v;
          }
          break;
        }
      }
    }
    if (!finite) {
      this.skipped++;
      return false;
    }
    const slot = this.frozen ? this.windowRows : this.referenceRows;
    const features = this.features;
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      if (f.kind === 'numeric') this.put(f, slot, row_[i]!);
      else if (this.frozen) f.live[row_[i]!]!++;
      else f.refCounts![row_[i]!]!++;
    }
    return true;
  }

  /** One value of a numeric feature: into the reference sample, or counted into the window (one binary search). */
  private put(f: Feature, slot: number, value: number): void {
    if (!this.frozen) {
      f.capture![slot] = value;
      return;
    }
    f.grid[binOf(f.numericRef!.grid, value)]!++;
    f.sum += value;
    f.sumSquares += value * value;
  }

  private evaluate(): DriftVerdict {
    const n = this.windowRows;
    const alpha = this.options.pValue / Math.max(1, this.features.length);
    let score = 0;
    let drifted = false;
    const results: FeatureDrift[] = [];
    for (const f of this.features) {
      let psi: number;
      let pValue: number;
      let reference: FeatureDrift['reference'];
      let live: FeatureDrift['live'];
      if (f.kind === 'numeric') {
        const ref = f.numericRef!;
        f.live.fill(0);
        for (let k = 0; k < f.grid.length; k++) f.live[ref.cellBins[k]!]! += f.grid[k]!;
        psi = populationStabilityIndex(ref.shares, f.live, n);
        pValue = kolmogorovSmirnovOnGrid(ref.gridCdf, ref.count, f.grid, n).pValue;
        reference = { mean: ref.mean, variance: ref.variance };
        const mean = f.sum / n;
        live = { mean, variance: Math.max(0, f.sumSquares / n - mean * mean) };
        f.live.fill(0);
        f.grid.fill(0);
        f.sum = 0;
        f.sumSquares = 0;
      } else {
        const ref = f.classRef!;
        psi = populationStabilityIndex(ref.shares, f.live, n);
        pValue = chiSquaredHomogeneity(ref.counts, ref.total, f.live, n).pValue;
        reference = { shares: [...ref.shares] };
        live = { shares: [...f.live].map((c) => c / n) };
        f.live.fill(0);
      }
      const featureDrifted = psi >= this.options.psiThreshold && pValue < alpha;
      f.last = { name: f.name, kind: f.kind, psi, pValue, drifted: featureDrifted, reference, live };
      results.push(f.last);
      if (psi > score) score = psi;
      if (featureDrifted) drifted = true;
    }
    this.windowRows = 0;
    this.windows++;
    if (drifted) this.driftedWindows++;
    this.last = { group: this.group, score, drifted, features: results, windowRows: n };
    return this.last;
  }
}

/**
 * Whether a summarized tensor (`mean`, `channels`) of another row size than the first rows' can
 * still be read: non-empty rows, and for channels the same last dimension (its channels).
 */
function fitsSummary(e: Extractor, tensor: Tensor, rows: number): boolean {
  if (e.mode !== 'mean' && e.mode !== 'channels' && e.mode !== 'planes') return false;
  const size = tensor.data.length / rows;
  if (!Number.isInteger(size) || size === 0) return false;
  if (e.mode === 'mean') return true;
  // The channel axis: the last one, or the first of the row (after the batch dimension, if any).
  const axis = e.mode === 'channels' ? tensor.shape.length - 1 : tensor.shape.length > 1 && tensor.shape[0] === rows ? 1 : 0;
  return tensor.shape[axis] === e.channels && size % e.channels === 0;
}

/** Copies `count` elements from `start` into `out` as doubles: one loop per storage kind, so each stays monomorphic. */
function readInto(data: Tensor['data'], start: number, count: number, out: Float64Array, half: boolean): void {
  if (half) {
    const bits = data as Uint16Array;
    for (let i = 0; i < count; i++) out[i] = float16Value(bits[start + i]!);
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < count; i++) out[i] = Number(data[start + i]!);
  } else {
    const numbers = data as Float32Array;
    for (let i = 0; i < count; i++) out[i] = numbers[start + i]!;
  }
}

/** A model's drift: its inputs and its outputs, each against its own reference. */
export class DriftDetector {
  readonly inputs: DriftGroup;
  readonly outputs: DriftGroup;
  constructor(readonly options: ResolvedDrift) {
    this.inputs = new DriftGroup('inputs', options);
    this.outputs = new DriftGroup('outputs', options);
  }
  stats(): DriftStats {
    return { inputs: this.inputs.stats(), outputs: this.outputs.stats() };
  }
}
