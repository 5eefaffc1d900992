import { checkInteger, checkNumber, checkObject, checkOneOf, ErrorCode, invalidOption, ModelHostError } from '../errors/index.js';

/** Payload sampling: a share of requests emitted as `requestSampled` events (docs/monitoring.md). */
export interface SamplingOptions {
  /** Share of requests sampled, 0..1. Default 0 (off). */
  rate?: number;
  /** What a sample carries besides its metadata. Default `['inputs', 'outputs']`. */
  include?: readonly ('inputs' | 'outputs')[];
}

/** Drift detection over sampled rows (needs `sampling.rate` > 0). */
export interface DriftOptions {
  /** Default false. */
  enabled?: boolean;
  /** Sampled rows the reference is captured from (when no `reference` is given). Default 1000. */
  referenceSize?: number;
  /** Reference inputs, as for `predict` (one instance each); they replace the captured input reference. */
  reference?: unknown[];
  /** Sampled rows per live window; each full window is compared with the reference. Default 500. */
  windowSize?: number;
  /** Equal-frequency bins of the reference for PSI. Default 10. */
  bins?: number;
  /** A feature drifts when its PSI is at least this (0.1 moderate, 0.2 significant). Default 0.2. */
  psiThreshold?: number;
  /** …and its KS (numeric) or chi-squared (classes) p-value is below this, Bonferroni-corrected over features. Default 0.05. */
  pValue?: number;
  /** Inputs with more elements per row than this are summarized per channel (the last dimension when it has at most this many, else the first of a 3-D row: NCHW), or by their mean. Default 64. */
  maxFeaturesPerInput?: number;
}

/** Live quality: late labels joined to served predictions (`host.feedback`). */
export interface FeedbackOptions {
  /** `classification`: a prediction is the argmax of the output row (or > 0.5 for one float score; the class itself for one integer per row); `regression`: the output value. */
  task?: 'classification' | 'regression';
  /** The output predictions are read from. Default the first output. */
  output?: string;
  /** How long a served prediction waits for its label, ms. Default 3600000 (1 h). */
  ttlMs?: number;
  /** Most predictions remembered; the oldest go first. Default 100000. */
  maxEntries?: number;
  /**
   * Bound on the bytes the remembered predictions hold (8 per row, 2 per character of the id,
   * and 420 for the entry: what one costs the heap, measured), per model: a
   * request of many rows holds many, so `maxEntries` alone bounds nothing. The oldest go first;
   * one request larger than this is not remembered. Default 64 MiB.
   */
  maxBytes?: number;
  /** Rolling window of accuracy / MAE, ms. Default 600000 (10 min). */
  windowMs?: number;
}

/** Response cache: identical inputs to the same version answer from memory (off by default). */
export interface CacheOptions {
  /** Default false. */
  enabled?: boolean;
  /** Bound on the bytes the cache holds per model: each answer's inputs (kept to compare) and outputs, with what each entry and tensor costs the heap. Default 64 MiB. */
  maxBytes?: number;
}

export interface ResolvedSampling {
  readonly rate: number;
  readonly inputs: boolean;
  readonly outputs: boolean;
}
export type ResolvedDrift = Readonly<Required<Omit<DriftOptions, 'reference'>>> & { readonly reference: unknown[] | undefined };
export type ResolvedFeedback = Readonly<Required<Omit<FeedbackOptions, 'output'>>> & { readonly output: string | undefined };
export type ResolvedCache = Readonly<Required<CacheOptions>>;

export const DEFAULT_SAMPLING: ResolvedSampling = Object.freeze({ rate: 0, inputs: true, outputs: true });
export const DEFAULT_DRIFT: ResolvedDrift = Object.freeze({
  enabled: false,
  referenceSize: 1000,
  reference: undefined,
  windowSize: 500,
  bins: 10,
  psiThreshold: 0.2,
  pValue: 0.05,
  maxFeaturesPerInput: 64,
});
export const DEFAULT_CACHE: ResolvedCache = Object.freeze({ enabled: false, maxBytes: 64 * 1024 * 1024 });

export const MONITORING_OPTION_KEYS = ['sampling', 'drift', 'feedback', 'cache'] as const;

export function validateMonitoringOptions(options: Record<string, unknown>, path: string): void {
  if (options['sampling'] !== undefined) {
    const s = checkObject(options['sampling'], `${path}.sampling`, ['rate', 'include']);
    if (s['rate'] !== undefined) checkNumber(s['rate'], `${path}.sampling.rate`, 0, 1);
    if (s['include'] !== undefined) {
      const include = s['include'];
      if (!Array.isArray(include)) throw invalidOption(`${path}.sampling.include`, "an array of 'inputs' and 'outputs'", include);
      include.forEach((v, i) => checkOneOf(v, `${path}.sampling.include[${i}]`, ['inputs', 'outputs']));
    }
  }
  if (options['drift'] !== undefined) {
    const d = checkObject(options['drift'], `${path}.drift`, Object.keys(DEFAULT_DRIFT));
    if (d['enabled'] !== undefined && typeof d['enabled'] !== 'boolean') throw invalidOption(`${path}.drift.enabled`, 'a boolean', d['enabled']);
    if (d['referenceSize'] !== undefined) checkInteger(d['referenceSize'], `${path}.drift.referenceSize`, 20, 1_000_000);
    if (d['windowSize'] !== undefined) checkInteger(d['windowSize'], `${path}.drift.windowSize`, 20, 1_000_000);
    if (d['bins'] !== undefined) checkInteger(d['bins'], `${path}.drift.bins`, 2, 100);
    if (d['psiThreshold'] !== undefined) checkNumber(d['psiThreshold'], `${path}.drift.psiThreshold`, 0);
    if (d['pValue'] !== undefined) checkNumber(d['pValue'], `${path}.drift.pValue`, 0, 1);
    if (d['maxFeaturesPerInput'] !== undefined) checkInteger(d['maxFeaturesPerInput'], `${path}.drift.maxFeaturesPerInput`, 1, 4096);
    if (d['reference'] !== undefined && (!Array.isArray(d['reference']) || d['reference'].length < 20)) {
      throw invalidOption(`${path}.drift.reference`, 'an array of at least 20 inputs (as for predict)', d['reference']);
    }
  }
  if (options['feedback'] !== undefined) {
    const f = checkObject(options['feedback'], `${path}.feedback`, ['task', 'output', 'ttlMs', 'maxEntries', 'maxBytes', 'windowMs']);
    if (f['task'] !== undefined) checkOneOf(f['task'], `${path}.feedback.task`, ['classification', 'regression']);
    if (f['output'] !== undefined && typeof f['output'] !== 'string') throw invalidOption(`${path}.feedback.output`, 'an output name', f['output']);
    // Whole ms: lru-cache's `ttl` takes nothing else (a TypeError at the first request, not here).
    if (f['ttlMs'] !== undefined) checkInteger(f['ttlMs'], `${path}.feedback.ttlMs`, 1);
    if (f['maxEntries'] !== undefined) checkInteger(f['maxEntries'], `${path}.feedback.maxEntries`, 1, 10_000_000);
    if (f['maxBytes'] !== undefined) checkInteger(f['maxBytes'], `${path}.feedback.maxBytes`, 1);
    // Finite: a window of Infinity made every slice start at NaN, so each label reset it (one label counted).
    if (f['windowMs'] !== undefined && !Number.isFinite(checkNumber(f['windowMs'], `${path}.feedback.windowMs`, 1000))) {
      throw invalidOption(`${path}.feedback.windowMs`, 'a finite number ≥ 1000', f['windowMs']);
    }
  }
  if (options['cache'] !== undefined) {
    const c = checkObject(options['cache'], `${path}.cache`, ['enabled', 'maxBytes']);
    if (c['enabled'] !== undefined && typeof c['enabled'] !== 'boolean') throw invalidOption(`${path}.cache.enabled`, 'a boolean', c['enabled']);
    if (c['maxBytes'] !== undefined) checkInteger(c['maxBytes'], `${path}.cache.maxBytes`, 1);
  }
}

export interface ResolvedMonitoring {
  readonly sampling: ResolvedSampling;
  readonly drift: ResolvedDrift;
  /** Undefined: live quality is off (no `feedback` section). */
  readonly feedback: ResolvedFeedback | undefined;
  readonly cache: ResolvedCache;
}

/**
 * Resolves the merged `sampling`, `drift`, `feedback`, `cache` sections. `own` is the merge of
 * the model's own layers (its config.json, `models[name]`, load config), without the host's
 * `defaults`: a default shared by every model that one model's options leave without effect
 * (drift on by default, sampling off for this model) is off for that model, not refused.
 * @throws ModelHostError INVALID_CONFIG for an option the model itself sets that needs another
 *   one that is off (it would do nothing, silently): drift without sampling; a rollout guard on
 *   live quality without the feedback task it reads.
 */
export function resolveMonitoring(merged: Record<string, unknown>, own: Record<string, unknown> = merged, model?: string): ResolvedMonitoring {
  const where = model === undefined ? '' : `model '${model}': `;
  const s = merged['sampling'] as SamplingOptions | undefined;
  const include = s?.include;
  const f = merged['feedback'] as FeedbackOptions | undefined;
  const sampled = (s?.rate ?? 0) > 0;
  if ((own['drift'] as DriftOptions | undefined)?.enabled === true && !sampled) {
    throw new ModelHostError(ErrorCode.INVALID_CONFIG, `${where}\`drift.enabled\` is true but \`sampling.rate\` is 0: drift is computed on sampled rows only, so it would never see one; set \`sampling.rate\` above 0`, { model });
  }
  const rollout = own['rollout'] as { maxAccuracyDrop?: unknown; maxMaeRatio?: unknown } | undefined;
  for (const [key, task] of [
    ['maxAccuracyDrop', 'classification'],
    ['maxMaeRatio', 'regression'],
  ] as const) {
    if (rollout?.[key] === undefined || (f !== undefined && (f.task ?? 'classification') === task)) continue;
    throw new ModelHostError(
      ErrorCode.INVALID_CONFIG,
      `${where}\`rollout.${key}\` reads live ${task === 'classification' ? 'accuracy' : 'MAE'}, which needs \`feedback: { task: '${task}' }\`; the model has ${f === undefined ? 'no `feedback`' : `\`feedback.task\` '${f.task ?? 'classification'}'`}, so the guard would never fire`,
      { model },
    );
  }
  return Object.freeze({
    sampling: Object.freeze({ rate: s?.rate ?? 0, inputs: include === undefined || include.includes('inputs'), outputs: include === undefined || include.includes('outputs') }),
    // Drift on by default but this model samples nothing: off, so stats show no detector that never sees a row.
    drift: Object.freeze({ ...DEFAULT_DRIFT, ...(merged['drift'] as DriftOptions | undefined), ...(sampled ? {} : { enabled: false }) }),
    feedback:
      f === undefined
        ? undefined
        : Object.freeze({
            task: f.task ?? 'classification',
            output: f.output,
            ttlMs: f.ttlMs ?? 3_600_000,
            maxEntries: f.maxEntries ?? 100_000,
            maxBytes: f.maxBytes ?? 64 * 1024 * 1024,
            windowMs: f.windowMs ?? 600_000,
          }),
    cache: Object.freeze({ ...DEFAULT_CACHE, ...(merged['cache'] as CacheOptions | undefined) }),
  });
}

/** Whether any monitoring feature is on: off means the request path is untouched. */
export function monitoringActive(m: ResolvedMonitoring): boolean {
  return m.sampling.rate > 0 || m.feedback !== undefined || m.cache.enabled;
}
