import { checkBoolean, checkInteger, checkNumber, checkObject, checkOneOf, invalidOption, MAX_TIMER_MS } from '../errors/index.js';
import { validateVersionPolicy, type VersionPolicy } from '../repository/index.js';
import type { OnnxSettings, TfjsSettings } from '../runtime/index.js';
import { resolveBreakerOptions, validateBreakerOptions, type BreakerOptions, type ResolvedBreakerOptions } from '../breaker/breaker-options.js';
import {
  resolveSchedulerOptions,
  SCHEDULER_OPTION_KEYS,
  validateSchedulerOptions,
  type ResolvedSchedulerOptions,
  type SchedulerOptions,
} from '../scheduler/scheduler-options.js';
import { validatePaddingOptions, type PaddingOptions } from '../scheduler/padding-options.js';
import {
  MONITORING_OPTION_KEYS,
  resolveMonitoring,
  validateMonitoringOptions,
  type CacheOptions,
  type DriftOptions,
  type FeedbackOptions,
  type ResolvedMonitoring,
  type SamplingOptions,
} from '../monitoring/monitoring-options.js';

/** What to run before a version is marked ready, so its first real request is not its slowest. */
export interface WarmupOptions {
  /** Runs per batch size. Default 1; 0 skips warmup. */
  runs?: number;
  /**
   * Inputs to warm up with, as for `predictBatch` (or `predict` for models without a batch
   * dimension). `{ shape }` without `data` means zeros of that shape. Default: zeros shaped
   * from the signature, with every variable dimension 1.
   */
  inputs?: Record<string, unknown>;
  /**
   * Batch sizes to warm up at, in rows, run in this order; `'max'` is the version's
   * `maxBatchSize`. Each size runs `inputs` with its rows repeated (or truncated) to that
   * many, or zeros. Default `[1]` (with `inputs`: their own rows). Warming up at `'max'`
   * makes memory that grows to the largest batch and never shrinks (the tfjs wasm backend's
   * WebAssembly memory, allocator arenas) reach its steady state before the version is
   * ready, as Triton's `model_warmup` and TF Serving's warmup requests do. Ignored by models
   * without a batch dimension.
   */
  batchSizes?: readonly (number | 'max')[];
}

/**
 * Per-model options. They merge (one level deep): host `defaults` < the model's
 * `config.json` < `models[name]` < the `config` passed to `load`.
 */
export interface ModelOptions extends SchedulerOptions {
  /** `tfjs`, `onnx` or a custom runtime's name; default from the files found (`model.json` → tfjs, `model.onnx` → onnx). */
  runtime?: string;
  /** Which versions on disk `load(name)` serves. Default `{ latest: 1 }`. */
  versionPolicy?: VersionPolicy;
  /** Warmup before ready; `false` skips it. Default `{ runs: 1 }`. */
  warmup?: WarmupOptions | boolean;
  tfjs?: TfjsSettings;
  onnx?: OnnxSettings;
  /** Old versions kept warm (loaded, no traffic) for an instant rollback. Default 2. */
  retainVersions?: number;
  /** When repository polling finds a newer version: make it the default (`true`, TF Serving's way) or hold it as a candidate for `promote`. Default true. */
  autoPromote?: boolean;
  /** A golden set every deployed version must reproduce after warmup, or the deploy is refused. */
  validate?: ValidationSet;
  /** The guard that rolls a new version back by itself when it does worse than the one before. */
  rollout?: RolloutOptions;
  /** The circuit breaker of each version. */
  breaker?: BreakerOptions;
  /** Variable-length batching: requests of different lengths share a batch, padded (docs/guide.md, "Which models work"). */
  padding?: PaddingOptions;
  /** Payload sampling: `requestSampled` events for a share of requests (docs/monitoring.md). */
  sampling?: SamplingOptions;
  /** Drift of inputs and outputs against a reference, over sampled rows. */
  drift?: DriftOptions;
  /** Live quality: `host.feedback` joins labels to served predictions. */
  feedback?: FeedbackOptions;
  /** Response cache (off by default). */
  cache?: CacheOptions;
  /** Settings for custom runtimes, keyed by runtime name. */
  [runtimeName: string]: unknown;
}

/** Examples a version must reproduce: `expected[i]` are the outputs of `predict(inputs[i])`. */
export interface ValidationSet {
  inputs: unknown[];
  expected: Record<string, unknown>[];
  /** Largest absolute difference allowed per element. Default 1e-4. */
  tolerance?: number;
}

/** Rollout guard thresholds (see docs/versions.md). */
export interface RolloutOptions {
  /** `false` turns the guard off. Default on. */
  enabled?: boolean;
  /** Sliding window the comparison looks at. Default 60000. */
  windowMs?: number;
  /** Requests the new version must have served in the window before it is judged. Default 50. */
  minSamples?: number;
  /** Roll back when the new version's error rate exceeds the old one's by more than this. Default 0.05. */
  maxErrorRateIncrease?: number;
  /** Roll back when the new version's p99 latency exceeds the old one's by this factor (and by 5 ms). Default 2. */
  maxLatencyRatio?: number;
  /** With `feedback`: roll back when the new version's live accuracy is lower than the old one's by more than this. Default 1 (off). */
  maxAccuracyDrop?: number;
  /** With `feedback` (regression): roll back when the new version's MAE exceeds the old one's by this factor. Default Infinity (off). */
  maxMaeRatio?: number;
  /** Labels each version needs in the window before live quality is judged. Default 50. */
  minFeedback?: number;
  /** With a shadow: roll back when more than this share of mirrored requests disagree. Default 0.1. */
  maxDisagreement?: number;
  /** Shadow outputs disagree when an element differs by more than this. Default 1e-3. */
  disagreementTolerance?: number;
  /** `values`: outputs agree when every element is within tolerance; `argmax`: when each row's top class is the same (classifiers). Default `values`. */
  agreement?: 'values' | 'argmax';
  /** How long after a deploy the guard keeps watching. Default 600000. */
  observeMs?: number;
}

export const DEFAULT_ROLLOUT: Readonly<Required<RolloutOptions>> = Object.freeze({
  enabled: true,
  windowMs: 60_000,
  minSamples: 50,
  maxErrorRateIncrease: 0.05,
  maxLatencyRatio: 2,
  maxAccuracyDrop: 1,
  maxMaeRatio: Number.POSITIVE_INFINITY,
  minFeedback: 50,
  maxDisagreement: 0.1,
  disagreementTolerance: 1e-3,
  agreement: 'values',
  observeMs: 600_000,
});

/** Options after merging and validation. */
export interface ResolvedModelOptions {
  readonly runtime: string | undefined;
  readonly versionPolicy: VersionPolicy;
  readonly warmup: { readonly runs: number; readonly inputs: Record<string, unknown> | undefined; readonly batchSizes: readonly (number | 'max')[] | undefined };
  readonly scheduler: ResolvedSchedulerOptions;
  readonly retainVersions: number;
  readonly autoPromote: boolean;
  readonly validate: ValidationSet | undefined;
  readonly rollout: Readonly<Required<RolloutOptions>>;
  readonly breaker: ResolvedBreakerOptions;
  readonly padding: PaddingOptions | undefined;
  /** `sampling`, `drift`, `feedback`, `cache`. */
  readonly monitoring: ResolvedMonitoring;
  /** Runtime sections (`tfjs`, `onnx`, custom names). */
  readonly settings: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export const DEFAULT_MODEL_OPTIONS: Readonly<ResolvedModelOptions> = Object.freeze({
  runtime: undefined,
  versionPolicy: Object.freeze({ latest: 1 }),
  warmup: Object.freeze({ runs: 1, inputs: undefined, batchSizes: undefined }),
  scheduler: resolveSchedulerOptions({}),
  retainVersions: 2,
  autoPromote: true,
  validate: undefined,
  rollout: DEFAULT_ROLLOUT,
  breaker: resolveBreakerOptions(undefined),
  padding: undefined,
  monitoring: resolveMonitoring({}),
  settings: Object.freeze({}),
});

const KNOWN = ['runtime', 'versionPolicy', 'warmup', 'retainVersions', 'autoPromote', 'validate', 'rollout', 'breaker', 'padding', ...MONITORING_OPTION_KEYS, ...SCHEDULER_OPTION_KEYS] as const;

/**
 * Validates one layer of model options (host defaults, a config.json, `models[name]`, or
 * load-time config). `path` names where it came from, for messages.
 */
/** Most entries in `warmup.batchSizes`: each is a warmup run (times `runs`, per instance) before ready. */
const MAX_WARMUP_BATCH_SIZES = 16;

function validateWarmupBatchSizes(value: unknown, path: string): void {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_WARMUP_BATCH_SIZES) throw invalidOption(path, `a non-empty array of at most ${MAX_WARMUP_BATCH_SIZES} batch sizes (integers ≥ 1 or 'max')`, value);
  value.forEach((size, i) => {
    if (size !== 'max' && !(Number.isInteger(size) && size >= 1 && size <= 1_000_000)) throw invalidOption(`${path}[${i}]`, "an integer from 1 to 1000000 or 'max'", size);
  });
}

export function validateModelOptions(value: unknown, path: string, runtimeNames: readonly string[]): ModelOptions {
  const options = checkObject(value, path, [...KNOWN, ...runtimeNames]);
  if (options['runtime'] !== undefined) checkOneOf(options['runtime'], `${path}.runtime`, runtimeNames);
  if (options['versionPolicy'] !== undefined) validateVersionPolicy(options['versionPolicy'], `${path}.versionPolicy`);
  if (options['warmup'] !== undefined && typeof options['warmup'] !== 'boolean') {
    const warmup = checkObject(options['warmup'], `${path}.warmup`, ['runs', 'inputs', 'batchSizes']);
    if (warmup['runs'] !== undefined) checkInteger(warmup['runs'], `${path}.warmup.runs`, 0, 100);
    if (warmup['batchSizes'] !== undefined) validateWarmupBatchSizes(warmup['batchSizes'], `${path}.warmup.batchSizes`);
    if (warmup['inputs'] !== undefined) checkObject(warmup['inputs'], `${path}.warmup.inputs`, Object.keys(warmup['inputs'] as object));
  }
  validateSchedulerOptions(options, path);
  if (options['retainVersions'] !== undefined) checkInteger(options['retainVersions'], `${path}.retainVersions`, 0, 100);
  if (options['autoPromote'] !== undefined) checkBoolean(options['autoPromote'], `${path}.autoPromote`);
  if (options['breaker'] !== undefined) validateBreakerOptions(options['breaker'], `${path}.breaker`);
  if (options['validate'] !== undefined) validateValidationSet(options['validate'], `${path}.validate`);
  if (options['padding'] !== undefined) validatePaddingOptions(options['padding'], `${path}.padding`);
  validateMonitoringOptions(options, path);
  if (options['rollout'] !== undefined) {
    const r = checkObject(options['rollout'], `${path}.rollout`, Object.keys(DEFAULT_ROLLOUT));
    if (r['enabled'] !== undefined) checkBoolean(r['enabled'], `${path}.rollout.enabled`);
    if (r['windowMs'] !== undefined) checkNumber(r['windowMs'], `${path}.rollout.windowMs`, 1, MAX_TIMER_MS);
    if (r['minSamples'] !== undefined) checkInteger(r['minSamples'], `${path}.rollout.minSamples`, 1);
    if (r['maxErrorRateIncrease'] !== undefined) checkNumber(r['maxErrorRateIncrease'], `${path}.rollout.maxErrorRateIncrease`, 0, 1);
    if (r['maxLatencyRatio'] !== undefined) checkNumber(r['maxLatencyRatio'], `${path}.rollout.maxLatencyRatio`, 1);
    if (r['maxAccuracyDrop'] !== undefined) checkNumber(r['maxAccuracyDrop'], `${path}.rollout.maxAccuracyDrop`, 0, 1);
    if (r['maxMaeRatio'] !== undefined) checkNumber(r['maxMaeRatio'], `${path}.rollout.maxMaeRatio`, 1);
    if (r['minFeedback'] !== undefined) checkInteger(r['minFeedback'], `${path}.rollout.minFeedback`, 1);
    if (r['maxDisagreement'] !== undefined) checkNumber(r['maxDisagreement'], `${path}.rollout.maxDisagreement`, 0, 1);
    if (r['disagreementTolerance'] !== undefined) checkNumber(r['disagreementTolerance'], `${path}.rollout.disagreementTolerance`, 0);
    if (r['observeMs'] !== undefined) checkNumber(r['observeMs'], `${path}.rollout.observeMs`, 0, MAX_TIMER_MS);
    if (r['agreement'] !== undefined) checkOneOf(r['agreement'], `${path}.rollout.agreement`, ['values', 'argmax']);
  }
  if (options['tfjs'] !== undefined) {
    const tfjs = checkObject(options['tfjs'], `${path}.tfjs`, ['backend']);
    if (tfjs['backend'] !== undefined) checkOneOf(tfjs['backend'], `${path}.tfjs.backend`, ['auto', 'node', 'wasm', 'cpu']);
  }
  if (options['onnx'] !== undefined) {
    const onnx = checkObject(options['onnx'], `${path}.onnx`, ['intraOpNumThreads', 'interOpNumThreads', 'graphOptimizationLevel', 'executionMode', 'logSeverityLevel']);
    if (onnx['logSeverityLevel'] !== undefined) checkInteger(onnx['logSeverityLevel'], `${path}.onnx.logSeverityLevel`, 0, 4);
    if (onnx['intraOpNumThreads'] !== undefined) checkInteger(onnx['intraOpNumThreads'], `${path}.onnx.intraOpNumThreads`, 0, 1024);
    if (onnx['interOpNumThreads'] !== undefined) checkInteger(onnx['interOpNumThreads'], `${path}.onnx.interOpNumThreads`, 0, 1024);
    if (onnx['graphOptimizationLevel'] !== undefined) {
      checkOneOf(onnx['graphOptimizationLevel'], `${path}.onnx.graphOptimizationLevel`, ['disabled', 'basic', 'extended', 'all']);
    }
    if (onnx['executionMode'] !== undefined) checkOneOf(onnx['executionMode'], `${path}.onnx.executionMode`, ['sequential', 'parallel']);
  }
  for (const name of runtimeNames) {
    if (name === 'tfjs' || name === 'onnx' || options[name] === undefined) continue;
    checkObject(options[name], `${path}.${name}`, Object.keys(options[name] as object));
  }
  return options as ModelOptions;
}

/**
 * Merges validated layers, later ones winning, object sections merged one level deep. Inputs are
 * not mutated. The first `shared` layers are host-wide (the repository's version policy, the
 * host's `defaults`): an option of theirs that a model cannot use is off for it, not refused.
 */
export function resolveModelOptions(layers: readonly (ModelOptions | undefined)[], runtimeNames: readonly string[], shared = 0, model?: string): ResolvedModelOptions {
  const merged = mergeLayers(layers);
  const own = shared === 0 ? merged : mergeLayers(layers.slice(shared));
  const warmup = merged['warmup'];
  const settings: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const name of runtimeNames) if (isPlainObject(merged[name])) settings[name] = Object.freeze({ ...(merged[name] as object) });
  return Object.freeze({
    runtime: merged['runtime'] as string | undefined,
    versionPolicy: (merged['versionPolicy'] as VersionPolicy | undefined) ?? DEFAULT_MODEL_OPTIONS.versionPolicy,
    warmup:
      warmup === false
        ? { runs: 0, inputs: undefined, batchSizes: undefined }
        : warmup === true || warmup === undefined
          ? DEFAULT_MODEL_OPTIONS.warmup
          : { runs: (warmup as WarmupOptions).runs ?? 1, inputs: (warmup as WarmupOptions).inputs, batchSizes: (warmup as WarmupOptions).batchSizes },
    scheduler: resolveSchedulerOptions(merged),
    retainVersions: (merged['retainVersions'] as number | undefined) ?? DEFAULT_MODEL_OPTIONS.retainVersions,
    autoPromote: (merged['autoPromote'] as boolean | undefined) ?? true,
    validate: merged['validate'] as ValidationSet | undefined,
    rollout: Object.freeze({ ...DEFAULT_ROLLOUT, ...(merged['rollout'] as RolloutOptions | undefined) }),
    breaker: resolveBreakerOptions(merged['breaker'] as BreakerOptions | undefined),
    padding: merged['padding'] as PaddingOptions | undefined,
    monitoring: resolveMonitoring(merged, own, model),
    settings: Object.freeze(settings),
  });
}

export function validateValidationSet(value: unknown, path: string): ValidationSet {
  const v = checkObject(value, path, ['inputs', 'expected', 'tolerance']);
  if (!Array.isArray(v['inputs']) || v['inputs'].length === 0) throw invalidOption(`${path}.inputs`, 'a non-empty array of inputs (as for predict)', v['inputs']);
  if (!Array.isArray(v['expected']) || v['expected'].length !== v['inputs'].length) {
    throw invalidOption(`${path}.expected`, `an array of ${v['inputs'].length} output records (one per input)`, v['expected']);
  }
  if (v['tolerance'] !== undefined) checkNumber(v['tolerance'], `${path}.tolerance`, 0);
  return v as unknown as ValidationSet;
}

function mergeLayers(layers: readonly (ModelOptions | undefined)[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const previous = merged[key];
      merged[key] = isPlainObject(previous) && isPlainObject(value) && key !== 'versionPolicy' ? { ...previous, ...value } : value;
    }
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}
