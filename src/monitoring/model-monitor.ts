import { isDeepStrictEqual } from 'node:util';
import type { DriftDetectedEvent, RequestSampledEvent } from '../metrics/events.js';
import type { PreparedInputs } from '../tensor/input-validator.js';
import type { Tensor } from '../tensor/index.js';
import { DriftDetector, type DriftStats, type DriftVerdict } from './drift-detector.js';
import { FeedbackStore, type QualityStats } from './feedback-store.js';
import type { ResolvedMonitoring } from './monitoring-options.js';
import { answeredByOf, SEVERAL_VERSIONS } from '../scheduler/answered-by.js';
import { CopySlab } from './copy-slab.js';
import { ResponseCache } from './response-cache.js';
import type { SampleListeners } from './sample-listeners.js';
import { Sampler } from './sampler.js';

type Outputs = Record<string, Tensor>;

export interface MonitorDeps {
  /** Monotonic ms (the host's clock). */
  readonly now: () => number;
  /** 0 ≤ x < 1; `Math.random` unless a test needs otherwise. */
  readonly random: () => number;
  /** Who listens to `requestSampled`: copies are made only for listeners that may keep them. */
  readonly sampleListeners: () => SampleListeners;
  readonly sampled: (event: RequestSampledEvent) => void;
  readonly drifted: (event: DriftDetectedEvent) => void;
  /** A request answered from the cache: counted as served (times on the host's clock, ms). */
  readonly cacheHit: (model: string, version: number, rows: number, id: string | undefined, arrivedAt: number, answeredAt: number) => void;
}

/** The version's scheduler, as the monitor calls it (no closure per request). */
export interface MonitoredDispatch<O> {
  dispatch(prepared: PreparedInputs, options: O): Promise<Outputs>;
}

/** What monitoring saw for one model, in `stats(name).monitoring`. */
export interface MonitoringStats {
  readonly sampling: { readonly rate: number; readonly sampled: number };
  /** Undefined when drift is off. */
  readonly drift: DriftStats | undefined;
  readonly cache: { readonly hits: number; readonly misses: number; readonly entries: number; readonly bytes: number } | undefined;
  readonly feedback: { readonly pending: number; readonly bytes: number; readonly unmatched: number; readonly duplicateIds: number; readonly quality: Readonly<Record<number, QualityStats>> } | undefined;
}

/**
 * One model's monitoring on the request path: the sampling decision (made first, before
 * anything is copied), drift over sampled rows, predictions remembered for feedback, and
 * the response cache. A model with none of these on never gets a monitor.
 *
 * Made again when the model's monitoring options change (a load with another `config`, a
 * poll that finds `config.json` changed): each part whose own options are unchanged is taken
 * over from the monitor it replaces (`previous`), with what it holds; a part whose options
 * changed starts empty. Counters (samples, cache hits and misses) go on either way.
 */
export class ModelMonitor {
  private driftDetector: DriftDetector | undefined;
  readonly feedback: FeedbackStore | undefined;
  readonly cache: ResponseCache | undefined;
  private readonly sampler: Sampler;
  private sampledCount = 0;
  /** Where samples' copies are made. */
  private readonly copies = new CopySlab();
  /** No feedback store and no cache: a request the sampler skips needs nothing else. */
  private readonly samplingOnly: boolean;

  constructor(
    readonly model: string,
    readonly options: ResolvedMonitoring,
    private readonly deps: MonitorDeps,
    previous?: ModelMonitor,
  ) {
    const drifting = options.drift.enabled && options.sampling.rate > 0;
    const keep = <T>(part: T | undefined, before: object | undefined, now: object | undefined): T | undefined => (part !== undefined && sameOptions(before, now) ? part : undefined);
    // A detector keeps its reference and windows only for the same drift options (bins, sizes, reference).
    this.driftDetector = drifting ? (keep(previous?.driftDetector, previous?.options.drift, options.drift) ?? new DriftDetector(options.drift)) : undefined;
    // Remembered predictions and quality windows: kept for the same task, output, bounds and window.
    this.feedback = options.feedback === undefined ? undefined : (keep(previous?.feedback, previous?.options.feedback, options.feedback) ?? new FeedbackStore(model, options.feedback, deps.now));
    this.cache = options.cache.enabled ? (keep(previous?.cache, previous?.options.cache, options.cache) ?? new ResponseCache(options.cache)) : undefined;
    if (this.cache !== undefined && previous?.cache !== undefined && this.cache !== previous.cache) {
      this.cache.hits = previous.cache.hits;
      this.cache.misses = previous.cache.misses;
    }
    this.sampler = new Sampler(options.sampling.rate, deps.random);
    this.sampledCount = previous?.sampledCount ?? 0;
    this.samplingOnly = this.feedback === undefined && this.cache === undefined;
  }

  /** Whether the detector was taken over from the monitor this one replaced (its reference is already set). */
  keptDrift(previous: ModelMonitor | undefined): boolean {
    return this.driftDetector !== undefined && this.driftDetector === previous?.driftDetector;
  }

  /**
   * Runs one request through monitoring around `dispatcher` (the version's scheduler). The
   * caller gets the scheduler's own promise on a miss; a cache hit resolves at once. A request
   * that is not sampled, remembered or cached costs a counter decrement and allocates nothing.
   */
  run<O>(version: number, prepared: PreparedInputs, id: string | undefined, dispatcher: MonitoredDispatch<O>, options: O): Promise<Outputs> {
    // Kept small enough for V8 to inline at the host's call: the 99 in 100 requests a sampling-only
    // monitor lets pass cost a decrement, not a call into the whole of the monitored path.
    if (this.samplingOnly && this.sampler.skipOne()) return dispatcher.dispatch(prepared, options);
    return this.monitored(version, prepared, id, dispatcher, options);
  }

  private monitored<O>(version: number, prepared: PreparedInputs, id: string | undefined, dispatcher: MonitoredDispatch<O>, options: O): Promise<Outputs> {
    const sampled = this.sampler.next();
    const remember = this.feedback !== undefined && id !== undefined;
    const cache = this.cache;
    if (!sampled && !remember && cache === undefined) return dispatcher.dispatch(prepared, options);
    // A hit reports its latency; a sample its own.
    const start = sampled || cache !== undefined ? this.deps.now() : 0;
    let inputs: Outputs | undefined;
    let observe = remember;
    if (sampled) {
      this.sampledCount++;
      const drift = this.drift;
      if (drift !== undefined) this.report(version, drift.inputs.observe(prepared.tensors, prepared.rows));
      const listening = this.deps.sampleListeners();
      // Copied as they come, for every listener: the arrays may be the caller's, who may change
      // them once the batch has read them, and a sample holds what the model was given.
      if (this.options.sampling.inputs && listening !== 'none') inputs = this.copies.copyTensors(prepared.tensors);
      observe ||= drift !== undefined || listening !== 'none';
    }
    // The key to keep the answer under: on a miss of a key seen before (see ResponseCache.admits).
    let key: number | undefined;
    if (cache !== undefined) {
      const k = cache.key(version, prepared.tensors, prepared.single);
      const hit = cache.get(k, version, prepared.tensors, prepared.single);
      if (hit !== undefined) {
        try {
          this.deps.cacheHit(this.model, version, prepared.rows, id, start, this.deps.now());
          if (observe) this.answered(version, prepared, id, hit, sampled, remember, inputs, start, true);
        } catch {
          // Monitoring never fails a request that succeeded (as on the run's side branch below).
        }
        return Promise.resolve(hit);
      }
      if (cache.admits(k)) key = k;
    }
    const result = dispatcher.dispatch(prepared, options);
    if (!observe && key === undefined) return result;
    // A side branch: the caller keeps the scheduler's promise; this runs first on success.
    result.then(
      (outputs) => {
        try {
          // The baseline's answer to a failed request of this version (`breaker.fallback`): never
          // cached as this version's (it would hide the failure from every later run), remembered
          // and sampled as the version's that made it (a mix of versions' rows: not remembered).
          const other = answeredByOf(outputs);
          if (key !== undefined && other === undefined) cache!.set(key, version, prepared.tensors, prepared.single, outputs);
          if (observe) {
            const by = other === undefined || other === SEVERAL_VERSIONS ? version : other;
            this.answered(by, prepared, id, outputs, sampled, remember && other !== SEVERAL_VERSIONS, inputs, start, false);
          }
        } catch {
          // Monitoring never fails a request that succeeded.
        }
      },
      () => undefined,
    );
    return result;
  }

  get drift(): DriftDetector | undefined {
    return this.driftDetector;
  }

  /** A fresh detector that captures its reference from live rows. */
  resetDrift(): void {
    if (this.driftDetector !== undefined) this.driftDetector = new DriftDetector(this.options.drift);
  }

  stats(): MonitoringStats {
    return {
      sampling: { rate: this.options.sampling.rate, sampled: this.sampledCount },
      drift: this.drift?.stats(),
      cache: this.cache === undefined ? undefined : { hits: this.cache.hits, misses: this.cache.misses, entries: this.cache.size, bytes: this.cache.bytes },
      feedback: this.feedback === undefined ? undefined : { pending: this.feedback.pending, bytes: this.feedback.bytes, unmatched: this.feedback.unmatchedLabels, duplicateIds: this.feedback.duplicateIds, quality: this.feedback.stats() },
    };
  }

  /**
   * A monitored request answered: remembered for feedback, its outputs to drift, and its sample
   * to the listeners. `inputs`: the copies made when it came, if anyone listened then (never
   * read from the request now: a caller may have changed its arrays while it was in flight).
   */
  private answered(version: number, prepared: PreparedInputs, id: string | undefined, outputs: Outputs, sampled: boolean, remember: boolean, inputs: Outputs | undefined, start: number, cached: boolean): void {
    const rows = prepared.rows;
    if (remember) this.feedback!.record(id!, version, outputs, rows);
    if (!sampled) return;
    if (this.drift !== undefined) this.report(version, this.drift.outputs.observe(outputs, rows));
    const listening = this.deps.sampleListeners();
    if (listening === 'none') return;
    // Borrowing listeners alone read the request's own outputs, during the call: the caller sees
    // them only after this (this side branch was attached to its promise first).
    const borrowed = listening === 'borrowing';
    const sampling = this.options.sampling;
    this.deps.sampled({
      model: this.model,
      version,
      timestamp: Date.now(),
      id,
      inputs,
      outputs: sampling.outputs ? (borrowed ? outputs : this.copies.copyTensors(outputs)) : undefined,
      rows,
      latencyMs: this.deps.now() - start,
      cached,
    });
  }

  private report(version: number, verdict: DriftVerdict | undefined): void {
    if (verdict === undefined || !verdict.drifted) return;
    this.deps.drifted({
      model: this.model,
      version,
      timestamp: Date.now(),
      group: verdict.group,
      score: verdict.score,
      features: verdict.features.filter((f) => f.drifted).map((f) => ({ name: f.name, psi: f.psi, pValue: f.pValue })),
      windowRows: verdict.windowRows,
    });
  }
}

/**
 * Options of one monitoring part compared by value (they are remade on every resolve): Node's
 * deep equality, which tells `Infinity`, `NaN` and typed-array references apart where their
 * JSON would not.
 */
export function sameOptions(a: object | undefined, b: object | undefined): boolean {
  return a === b || isDeepStrictEqual(a, b);
}
