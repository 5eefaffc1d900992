import { float16Value } from '../tensor/codec/float16.js';
import type { Tensor } from '../tensor/index.js';
import { chiSquaredHomogeneity, kolmogorovSmirnov, populationStabilityIndex } from './drift-statistics.js';
import type { ResolvedDrift } from './monitoring-options.js';
import { binOf, ClassReference, moments, NumericReference } from './reference-stats.js';

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
  /** The last full window's verdict. */
  readonly last: DriftVerdict | undefined;
}

interface Feature {
  readonly name: string;
  kind: 'numeric' | 'classes';
  /** Reference capture buffer (numeric) — released once the reference is built. */
  capture: Float64Array | undefined;
  /** Live window (numeric) or live class counts (classes). */
  readonly live: Float64Array;
  refCounts: Float64Array | undefined;
  numericRef: NumericReference | undefined;
  classRef: ClassReference | undefined;
  last: FeatureDrift | undefined;
}

/** How the rows of one tensor become features. */
interface Extractor {
  readonly tensor: string;
  /** Elements per row when the layout was fixed; rows of another size are skipped. */
  readonly rowSize: number;
  readonly mode: 'elements' | 'channels' | 'mean' | 'argmax';
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
 * numbers, chi-squared for classes). A feature drifts when its PSI reaches `psiThreshold`
 * AND its p-value is below `pValue / features` (Bonferroni, as Alibi Detect's default).
 */
export class DriftGroup {
  private extractors: Extractor[] | undefined;
  private features: Feature[] = [];
  private scratch = new Float64Array(0);
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
        // High-dimensional (an image): the mean of each channel (last dimension), not each pixel.
        const last = rowShape[rowShape.length - 1] ?? rowSize;
        const channels = rowShape.length >= 2 && last <= maxFeaturesPerInput && rowSize % last === 0 ? last : 1;
        extractor = { tensor: name, rowSize, mode: channels === 1 ? 'mean' : 'channels', channels, first, half: tensor.dtype === 'float16' };
        for (let c = 0; c < channels; c++) this.features.push(this.feature(channels === 1 ? `${name}:mean` : `${name}:channel${c}`, 'numeric', 0));
        maxScratch = Math.max(maxScratch, channels);
      }
      extractors.push(extractor);
    }
    this.scratch = new Float64Array(maxScratch);
    return extractors;
  }

  private feature(name: string, kind: 'numeric' | 'classes', classes: number): Feature {
    const { referenceSize, windowSize } = this.options;
    return {
      name,
      kind,
      capture: kind === 'numeric' ? new Float64Array(referenceSize) : undefined,
      live: kind === 'numeric' ? new Float64Array(windowSize) : new Float64Array(classes),
      refCounts: kind === 'classes' ? new Float64Array(classes) : undefined,
      numericRef: undefined,
      classRef: undefined,
      last: undefined,
    };
  }

  /** Reads one row into the reference or the live window; false if the row does not fit the layout. */
  private readRow(tensors: Readonly<Record<string, Tensor>>, rows: number, row: number): boolean {
    const extractors = this.extractors!;
    for (const e of extractors) {
      const tensor = tensors[e.tensor];
      if (tensor === undefined || tensor.data.length !== e.rowSize * rows) {
        this.skipped++;
        return false;
      }
    }
    const slot = this.frozen ? this.windowRows : this.referenceRows;
    for (const e of extractors) {
      const data = tensors[e.tensor]!.data as ArrayLike<number | bigint>;
      const base = row * e.rowSize;
      const at = e.half ? half : plain;
      switch (e.mode) {
        case 'elements':
          for (let i = 0; i < e.rowSize; i++) this.put(this.features[e.first + i]!, slot, at(data, base + i));
          break;
        case 'mean': {
          let sum = 0;
          for (let i = 0; i < e.rowSize; i++) sum += at(data, base + i);
          this.put(this.features[e.first]!, slot, sum / e.rowSize);
          break;
        }
        case 'channels': {
          const sums = this.scratch;
          sums.fill(0, 0, e.channels);
          for (let i = 0; i < e.rowSize; i++) sums[i % e.channels]! += at(data, base + i);
          const perChannel = e.rowSize / e.channels;
          for (let c = 0; c < e.channels; c++) this.put(this.features[e.first + c]!, slot, sums[c]! / perChannel);
          break;
        }
        case 'argmax': {
          let best = 0;
          for (let i = 1; i < e.rowSize; i++) if (at(data, base + i) > at(data, base + best)) best = i;
          const f = this.features[e.first]!;
          if (this.frozen) f.live[best]!++;
          else f.refCounts![best]!++;
          break;
        }
      }
    }
    return true;
  }

  private put(f: Feature, slot: number, value: number): void {
    if (this.frozen) f.live[slot] = value;
    else f.capture![slot] = value;
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
        const window = f.live.subarray(0, n).sort();
        // Bin counts of the window, in the scratch-free way: reuse the sorted order.
        const counts = new Float64Array(ref.shares.length);
        for (let i = 0; i < n; i++) counts[binOf(ref.edges, window[i]!)]!++;
        psi = populationStabilityIndex(ref.shares, counts, n);
        pValue = kolmogorovSmirnov(ref.sorted, ref.sorted.length, window, n).pValue;
        reference = { mean: ref.mean, variance: ref.variance };
        live = moments(window, n);
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

function plain(data: ArrayLike<number | bigint>, i: number): number {
  return Number(data[i]);
}

function half(data: ArrayLike<number | bigint>, i: number): number {
  return float16Value(data[i] as number);
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
