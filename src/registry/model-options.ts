import { checkInteger, checkObject, checkOneOf } from '../errors/index.js';
import { validateVersionPolicy, type VersionPolicy } from '../repository/index.js';
import type { OnnxSettings, TfjsSettings } from '../runtime/index.js';
import {
  resolveSchedulerOptions,
  SCHEDULER_OPTION_KEYS,
  validateSchedulerOptions,
  type ResolvedSchedulerOptions,
  type SchedulerOptions,
} from '../scheduler/scheduler-options.js';

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
  /** Settings for custom runtimes, keyed by runtime name. */
  [runtimeName: string]: unknown;
}

/** Options after merging and validation. */
export interface ResolvedModelOptions {
  readonly runtime: string | undefined;
  readonly versionPolicy: VersionPolicy;
  readonly warmup: { readonly runs: number; readonly inputs: Record<string, unknown> | undefined };
  readonly scheduler: ResolvedSchedulerOptions;
  /** Runtime sections (`tfjs`, `onnx`, custom names). */
  readonly settings: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export const DEFAULT_MODEL_OPTIONS: Readonly<ResolvedModelOptions> = Object.freeze({
  runtime: undefined,
  versionPolicy: Object.freeze({ latest: 1 }),
  warmup: Object.freeze({ runs: 1, inputs: undefined }),
  scheduler: resolveSchedulerOptions({}),
  settings: Object.freeze({}),
});

const KNOWN = ['runtime', 'versionPolicy', 'warmup', ...SCHEDULER_OPTION_KEYS] as const;

/**
 * Validates one layer of model options (host defaults, a config.json, `models[name]`, or
 * load-time config). `path` names where it came from, for messages.
 */
export function validateModelOptions(value: unknown, path: string, runtimeNames: readonly string[]): ModelOptions {
  const options = checkObject(value, path, [...KNOWN, ...runtimeNames]);
  if (options['runtime'] !== undefined) checkOneOf(options['runtime'], `${path}.runtime`, runtimeNames);
  if (options['versionPolicy'] !== undefined) validateVersionPolicy(options['versionPolicy'], `${path}.versionPolicy`);
  if (options['warmup'] !== undefined && typeof options['warmup'] !== 'boolean') {
    const warmup = checkObject(options['warmup'], `${path}.warmup`, ['runs', 'inputs']);
    if (warmup['runs'] !== undefined) checkInteger(warmup['runs'], `${path}.warmup.runs`, 0, 100);
    if (warmup['inputs'] !== undefined) checkObject(warmup['inputs'], `${path}.warmup.inputs`, Object.keys(warmup['inputs'] as object));
  }
  validateSchedulerOptions(options, path);
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

/** Merges validated layers, later ones winning, object sections merged one level deep. Inputs are not mutated. */
export function resolveModelOptions(layers: readonly (ModelOptions | undefined)[], runtimeNames: readonly string[]): ResolvedModelOptions {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const previous = merged[key];
      merged[key] = isPlainObject(previous) && isPlainObject(value) && key !== 'versionPolicy' ? { ...previous, ...value } : value;
    }
  }
  const warmup = merged['warmup'];
  const settings: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const name of runtimeNames) if (isPlainObject(merged[name])) settings[name] = Object.freeze({ ...(merged[name] as object) });
  return Object.freeze({
    runtime: merged['runtime'] as string | undefined,
    versionPolicy: (merged['versionPolicy'] as VersionPolicy | undefined) ?? DEFAULT_MODEL_OPTIONS.versionPolicy,
    warmup:
      warmup === false
        ? { runs: 0, inputs: undefined }
        : warmup === true || warmup === undefined
          ? DEFAULT_MODEL_OPTIONS.warmup
          : { runs: (warmup as WarmupOptions).runs ?? 1, inputs: (warmup as WarmupOptions).inputs },
    scheduler: resolveSchedulerOptions(merged),
    settings: Object.freeze(settings),
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}
