import { EventEmitter } from 'eventemitter3';
import { causeDetail, checkBoolean, checkObject, closest, ErrorCode, ModelHostError, quoted } from '../errors/index.js';
import type { ModelHostEventName, ModelHostEvents, RequestFailedEvent } from '../metrics/events.js';
import type { InternalEvents } from '../metrics/internal-events.js';
import type { NamedModel, ModelStatus } from '../registry/named-model.js';
import type { LoadedVersion } from '../registry/loaded-version.js';
import { VersionLoader } from '../registry/version-loader.js';
import {
  modelNotFound,
  VersionManager,
  type DeployOptions,
  type LoadOptions,
  type LoadResult,
  type RollbackResult,
  type RolloutResult,
  type RolloutStats,
  type SyncResult,
} from '../registry/version-manager.js';
import type { ReadinessReport } from '../registry/readiness.js';
import type { Blame } from '../registry/guard-watcher.js';
import { assertVersion, ModelRepository } from '../repository/index.js';
import { isRequestId, requestIdProblem } from './request-id.js';
import { RuntimeRegistry, type RuntimeMemory } from '../runtime/index.js';
import type { WorkerMemory } from '../runtime/worker/messages.js';
import { WorkerInstance } from '../runtime/worker/worker-instance.js';
import type { SchedulerEvents } from '../scheduler/batch-scheduler.js';
import type { DispatchOptions } from '../scheduler/dispatcher.js';
import type { InputMode, Tensor, TensorSpec } from '../tensor/index.js';
import { StatsRecorder, type WindowName, type WindowStats } from '../metrics/stats-recorder.js';
import type { BreakerState } from '../metrics/events.js';
import type { VersionState } from '../registry/version-state.js';
import { HostMonitoring } from '../monitoring/host-monitoring.js';
import { sampleListeners, type SampleListeners } from '../monitoring/sample-listeners.js';
import type { FeedbackResult, QualityStats } from '../monitoring/feedback-store.js';
import type { MonitoringStats } from '../monitoring/model-monitor.js';
import { resolveHostOptions, type Logger, type ModelHostOptions, type ResolvedHostOptions } from './host-options.js';
import { GuardedEmitter } from './guarded-emitter.js';

export type { DeployOptions, LoadOptions, LoadResult, ReadinessReport, RollbackResult, RolloutResult, RolloutStats, SyncResult };

export interface PredictOptions {
  /** Pin a version instead of the default. */
  version?: number;
  /** Reject with DEADLINE_EXCEEDED if no answer within this many ms. */
  timeoutMs?: number;
  /** Higher runs first; default 0. */
  priority?: number;
  /** Aborting rejects with CANCELLED and frees the request's queue slot. */
  signal?: AbortSignal;
  /** A user or session id: during a canary, the same key always lands on the same version (while weights stay). */
  routingKey?: string;
  /** A request id (KServe's `id`), carried into request events for tracing: 1–128 visible ASCII characters (`isRequestId`). */
  id?: string;
}

export interface MemoryReport {
  /** Main-thread resources per runtime. */
  readonly runtimes: Readonly<Record<string, RuntimeMemory>>;
  /** Worker-thread instances per loaded version (empty `instances` for inline versions). */
  readonly versions: readonly { model: string; version: number; kind: 'thread' | 'inline'; instances: readonly WorkerMemory[] }[];
  /** Worker threads alive in this process. */
  readonly workerThreads: number;
}

export interface VersionStats {
  readonly state: VersionState;
  readonly breaker: BreakerState | undefined;
  /** Rows waiting in the version's queue now. */
  readonly queueDepth: number;
  /** Requests accepted and not yet settled. */
  readonly pending: number;
  /** Share of the model's unpinned traffic. */
  readonly traffic: number;
  readonly windows: Readonly<Record<WindowName, WindowStats>>;
  /** Live quality from `feedback` (accuracy or MAE over `feedback.windowMs`); undefined without labels. */
  readonly quality: QualityStats | undefined;
}

export interface ModelStats extends RolloutStats {
  readonly defaultVersion: number | undefined;
  readonly versions: Readonly<Record<number, VersionStats>>;
  /** Sampling, drift, response cache and feedback counters; undefined when none is on (docs/monitoring.md). */
  readonly monitoring: MonitoringStats | undefined;
}

const EMPTY_LATENCY = Object.freeze({ p50: 0, p95: 0, p99: 0, mean: 0, max: 0 });
const EMPTY_WINDOW = (windowMs: number): WindowStats => ({
  windowMs,
  requests: 0,
  requestsPerSecond: 0,
  rows: 0,
  errors: 0,
  versionErrors: 0,
  errorsByCode: {},
  latencyMs: { total: EMPTY_LATENCY, queue: EMPTY_LATENCY, compute: EMPTY_LATENCY },
  batches: 0,
  meanBatchSize: 0,
  batchSizes: {},
});

/** Outputs of one request, keyed by output name. */
export type Outputs = Record<string, Tensor>;

export interface ModelMetadata {
  readonly name: string;
  /** The version described (the default unless one was asked for). */
  readonly version: number;
  /** Ready versions, newest first. */
  readonly versions: readonly number[];
  readonly runtime: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Whether the model has a batch dimension (a leading -1 on every input and output). */
  readonly batched: boolean;
  /** Most rows one runtime call takes (1 when requests are not batched). */
  readonly maxBatchSize: number;
  /** Most rows the version's queue holds (its `queue.maxSize`): past them requests are refused with QUEUE_FULL. */
  readonly queueMaxSize: number;
}

/**
 * Serves versioned models in-process: load, predict, swap, observe.
 *
 * ```ts
 * const host = new ModelHost({ repository: './models' });
 * await host.load('mobilenet');
 * const { logits } = await host.predict('mobilenet', { input: pixels });
 * ```
 */
export class ModelHost extends GuardedEmitter<ModelHostEvents> {
  private readonly options: ResolvedHostOptions;
  private readonly runtimes: RuntimeRegistry;
  private readonly repository: ModelRepository | undefined;
  private readonly models = new Map<string, NamedModel>();
  private readonly versions: VersionManager;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private timedOut = false;
  private pollTimer: unknown = undefined;
  private readonly recorder: StatsRecorder | undefined;
  /** The host's own subscribers (stats): per-batch summaries that never reach the public emitter. */
  private readonly internal = new EventEmitter<InternalEvents>();
  private readonly monitoring: HostMonitoring;
  private sampleListenersNow: SampleListeners = 'none';
  private sampleListenersAt = -1;

  constructor(options: ModelHostOptions = {}) {
    super();
    this.options = resolveHostOptions(options);
    this.runtimes = new RuntimeRegistry(this.options.runtimes);
    this.repository = this.options.repository === undefined ? undefined : new ModelRepository(this.options.repository.root);
    const loader = new VersionLoader({
      runtimes: this.runtimes,
      requireChecksums: this.options.repository?.requireChecksums ?? false,
      clock: this.options.clock,
      events: (model) => this.schedulerEvents(model),
      warn: (message, model, version, cause) => this.warn(message, model, version, cause),
      fail: (error, model, version) => this.notify('error', { model, version, timestamp: Date.now(), error }),
      baseline: (entry) => this.versions.baseline(entry),
      phaseStarted: (entry, phase, elapsedMs) => this.notify('loadPhaseStarted', { model: entry.model, version: entry.version, timestamp: Date.now(), phase, elapsedMs }),
      breakerChanged: (entry, { from, to, reason }) => {
        const model = this.models.get(entry.model);
        const fallback = to === 'open' && model?.options.breaker.fallback === 'previous-version' ? this.versions.fallbackFor(model, entry.version)?.version : undefined;
        this.notify('breakerStateChanged', { model: entry.model, version: entry.version, timestamp: Date.now(), from, to, reason, fallback });
        this.log('warn', 'circuit breaker', { model: entry.model, version: entry.version, from, to, reason, fallback });
      },
    });
    this.versions = new VersionManager({
      models: this.models,
      loader,
      repository: this.repository,
      runtimeNames: this.options.runtimeNames,
      defaults: this.options.defaults,
      modelOptions: this.options.models,
      repositoryPolicy: this.options.repository?.versionPolicy,
      removeAfterPolls: this.options.repository?.removeAfterPolls ?? 1,
      memoryBudgetBytes: this.options.memoryBudgetBytes,
      clock: this.options.clock,
      isClosing: () => this.closing,
      notify: (event, payload) => this.notify(event, payload),
      warn: (message, model, version, cause) => this.warn(message, model, version, cause),
      log: (level, message, fields) => this.log(level, message, fields),
      // The golden set of a deploy: not traffic, so monitoring (samples, drift, cache) never sees it.
      predictPinned: (model, version, inputs) => this.run(model, inputs, { version }, 'instance', false),
    }, this.options.readiness);
    if (this.options.repository?.pollIntervalMs !== undefined) this.schedulePoll(this.options.repository.pollIntervalMs);
    this.recorder = this.options.stats ? new StatsRecorder(this.own, this.internal, this.options.clock) : undefined;
    this.own.on('modelUnloaded', (e) => this.recorder?.forget(e.model, e.version));
    this.monitoring = new HostMonitoring({
      now: () => this.options.clock.now(),
      random: () => Math.random(),
      sampleListeners: () => this.sampleListeners(),
      sampled: (event) => this.notify('requestSampled', event),
      drifted: (event) => this.notify('driftDetected', event),
      cacheHit: (model, version, rows, id, arrivedAt, answeredAt) => this.cacheHit(model, version, rows, id, arrivedAt, answeredAt),
      warn: (message, model, cause) => this.warn(message, model, undefined, cause),
    });
    // Cached answers never outlive the versions that gave them.
    for (const event of ['versionSwapped', 'modelLoaded', 'modelUnloaded'] as const) this.own.on(event, (e) => this.monitoring.invalidate(e.model));
    // A model whose last version went away forgets its monitoring (checked once the unload has settled).
    this.own.on('modelUnloaded', (e) => {
      this.monitoring.forgetVersion(e.model, e.version);
      queueMicrotask(() => this.models.has(e.model) || this.monitoring.forget(e.model));
    });
  }

  /** The `logger` of the options, or undefined: the HTTP adapters log unexpected errors through it. */
  get logger(): Logger | undefined {
    return this.options.logger;
  }

  /**
   * Loads a model and makes it ready: the versions its policy selects from the repository
   * (default: the newest), or one `version`, or a `source`. Each version is warmed up before
   * it serves; the newest loaded becomes the default. A failed load leaves whatever served
   * before serving.
   */
  load(name: string, options: LoadOptions = {}): Promise<LoadResult> {
    return this.versions.load(name, options);
  }

  /**
   * Loads and warms a version while the current default keeps serving, then routes to it:
   * all traffic, or a `canary` share, and/or a `shadow` share of mirrored requests. An
   * optional golden set must pass first. The rollout guard then watches it.
   */
  deploy(name: string, version: number, options: DeployOptions = {}): Promise<RolloutResult> {
    return this.versions.deploy(name, version, options);
  }

  /** Makes the canary or shadow candidate the default, with all traffic. */
  promote(name: string): Promise<RolloutResult> {
    return this.versions.promote(name);
  }

  /** Sets the share of unpinned traffic per loaded version: `{ 1: 0.9, 2: 0.1 }`. */
  setTraffic(name: string, weights: Readonly<Record<number, number>>): Promise<RolloutResult> {
    return this.versions.setTraffic(name, weights);
  }

  /**
   * Returns to the previous default at once (it is kept warm), or ends a canary by sending
   * all traffic back to the default. Past what was retained, loads it from the repository.
   */
  rollback(name: string): Promise<RollbackResult> {
    return this.versions.rollback(name);
  }

  /**
   * Runs one instance (no batch dimension) and returns its outputs. Typed arrays in `inputs`
   * are read in place until the promise settles: change them only after.
   */
  predict(name: string, inputs: unknown, options?: PredictOptions): Promise<Outputs> {
    return this.run(name, inputs, options, 'instance');
  }

  /** Runs inputs with a leading batch dimension; outputs keep it. Typed arrays in `inputs` are read in place until the promise settles. */
  predictBatch(name: string, inputs: unknown, options?: PredictOptions): Promise<Outputs> {
    return this.run(name, inputs, options, 'batch');
  }

  /**
   * Joins a late label to the prediction served for request `requestId` (the `id` passed to
   * predict; `x-request-id` over HTTP), for live accuracy (classification: a class index) or
   * MAE (regression: a value) per version; one label per row for a batch request. Needs the
   * model's `feedback` option. An unknown or expired id answers `{ matched: false }`.
   * @throws ModelHostError MODEL_NOT_FOUND; INVALID_INPUT when the model has no `feedback` option or the label does not fit.
   */
  feedback(name: string, requestId: string, groundTruth: unknown): FeedbackResult {
    const model = this.versions.requireModel(name);
    if (!isRequestId(requestId)) throw new ModelHostError(ErrorCode.INVALID_INPUT, `feedback('${name}'): ${requestIdProblem('the request id', requestId)}`, { model: name });
    const result = this.monitoring.feedback(model, requestId, groundTruth);
    if (result.matched) {
      const absErrorSum = (result.absoluteError ?? 0) * result.labels;
      this.versions.observeQuality(model, result.version!, result.labels, result.correct ?? 0, absErrorSum);
    }
    return result;
  }

  /**
   * Rescans the repository now, as `repository.pollIntervalMs` does on a timer: new versions
   * load (and become the default), removed ones unload, a half-written one is skipped and
   * tried again, `manifest.json` pins default, canary and weights.
   */
  poll(): Promise<SyncResult> {
    return this.versions.sync();
  }

  /** Unloads one version, or every version of the model. Pending requests settle first. */
  unload(name: string, version?: number): Promise<void> {
    return this.versions.unload(name, version);
  }

  /**
   * Per model and version over rolling windows (1 m, 5 m): requests/s, errors by code,
   * latency p50/p95/p99 (queue, compute, total), batch sizes, queue depth, breaker state,
   * traffic; plus the model's rollout (candidate, shadow agreement, guard).
   */
  stats(): Record<string, ModelStats>;
  stats(name: string): ModelStats;
  stats(name?: string): Record<string, ModelStats> | ModelStats {
    if (name !== undefined) return this.modelStats(this.versions.requireModel(name));
    const all: Record<string, ModelStats> = {};
    for (const model of [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name))) all[model.name] = this.modelStats(model);
    return all;
  }

  /** Lifecycle of every model (or one), newest version first. */
  status(): ModelStatus[];
  status(name: string): ModelStatus;
  status(name?: string): ModelStatus | ModelStatus[] {
    if (name !== undefined) return this.versions.requireModel(name).status();
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => m.status());
  }

  /** Inputs, outputs (name, dtype, shape) and versions of a model; the default version unless one is given. */
  metadata(name: string, version?: number): ModelMetadata {
    const model = this.versions.requireModel(name);
    const target = version !== undefined ? this.versions.requireVersion(model, version) : model.versions.get(model.defaultVersion ?? -1);
    if (target?.signature === undefined || target.runtime === undefined) {
      // Asked by every protocol's infer and predict first: say why, as predict would.
      const why = target !== undefined && version !== undefined ? `v${version} is ${target.state}` : model.notReadyReason();
      throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${name}' is not ready: ${why}`, { model: name, version });
    }
    // Asked once per protocol request: the same frozen answer while nothing it says changed.
    const cached = target.metadata;
    if (cached !== undefined && cached.name === name && describesNow(cached, target, model)) return cached;
    const versions = Object.freeze([...model.versions.values()].filter((v) => v.isReady).map((v) => v.version).sort((a, b) => b - a));
    const metadata: ModelMetadata = Object.freeze({
      name,
      version: target.version,
      versions,
      runtime: target.runtime,
      inputs: target.signature.inputs,
      outputs: target.signature.outputs,
      batched: target.batched,
      maxBatchSize: target.maxBatchSize,
      queueMaxSize: target.queueMaxSize,
    });
    target.metadata = metadata;
    return metadata;
  }

  /**
   * Live runtime resources: per runtime on the main thread (tfjs tensors, open sessions),
   * per version on its worker-thread instances (heap, tensors, sessions), and worker threads
   * alive. For leak checks and dashboards; `{ collect: true }` runs a full garbage collection
   * in each worker first, so heap numbers compare over time.
   * @throws ModelHostError INVALID_CONFIG for an option other than `collect` (a misspelt one would skip the collection).
   */
  async memory(options: { collect?: boolean } = {}): Promise<MemoryReport> {
    const { collect } = checkObject(options, 'memory(options)', ['collect']);
    if (collect !== undefined) checkBoolean(collect, 'memory(options).collect');
    const runtimes: Record<string, RuntimeMemory> = {};
    for (const runtime of this.runtimes.all()) if (runtime.memory !== undefined) runtimes[runtime.name] = runtime.memory();
    const versions: MemoryReport['versions'][number][] = [];
    for (const model of this.models.values()) {
      for (const entry of model.versions.values()) {
        if (entry.executor === undefined || entry.instances === undefined) continue;
        versions.push({ model: model.name, version: entry.version, kind: entry.instances.kind, instances: (await entry.executor.memory?.(collect === true)) ?? [] });
      }
    }
    return { runtimes, versions, workerThreads: WorkerInstance.live };
  }

  /**
   * Whether a model can serve; without a name, whether the host can (`readiness()`): by
   * default every model it was asked to serve is ready, and it was asked to serve one.
   */
  ready(name?: string): boolean {
    if (this.closing) return false;
    if (name !== undefined) return this.models.get(name)?.ready === true;
    return this.readiness().ready;
  }

  /**
   * The host's readiness with its reasons: every model it was asked to serve (`load`,
   * `deploy`, the repository poll) until `unload` or the poll removes it, ready or with why
   * not (a failed load's message). See `readiness` in the host options.
   */
  readiness(): ReadinessReport {
    return this.versions.readinessReport(this.closing);
  }

  /** Whether `close()` or `destroy()` began: new requests are refused with SHUTTING_DOWN. */
  get draining(): boolean {
    return this.closing;
  }

  /** Whether the host is up (false once closed). */
  live(): boolean {
    return !this.closed;
  }

  /**
   * Stops accepting requests, lets pending ones finish, unloads everything. Idempotent.
   * Also runs on `await using host = new ModelHost(...)`.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  /**
   * Whether the last `close()` hit its drain bound (`drainTimeoutMs`): what was still
   * pending then was refused with SHUTTING_DOWN.
   */
  get drainTimedOut(): boolean {
    return this.timedOut;
  }

  /** Like `close`, but rejects every queued request now with SHUTTING_DOWN. Idempotent. */
  destroy(): Promise<void> {
    this.closing = true;
    const error = this.shuttingDown();
    for (const model of this.models.values()) for (const version of model.versions.values()) version.dispatcher?.abort(error);
    return this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internals ----

  private run(name: string, inputs: unknown, options: PredictOptions | undefined, mode: InputMode, monitored = true): Promise<Outputs> {
    // Not async: the scheduler's promise is the caller's promise (one per request, not three).
    let model: NamedModel | undefined;
    let routed: number | undefined;
    try {
      if (this.closing) throw this.shuttingDown(name);
      model = typeof name === 'string' ? this.models.get(name) : undefined;
      if (model === undefined) throw modelNotFound(name, [...this.models.keys()]);
      const dispatch = options === undefined ? NO_OPTIONS : checkPredictOptions(options, name);
      let version = model.route(options?.version, options?.routingKey);
      routed = version.version;
      // An open breaker with a fallback: the previous version answers meanwhile.
      let open: LoadedVersion | undefined;
      if (version.breaker?.rejecting && options?.version === undefined && model.options.breaker.fallback === 'previous-version') {
        const fallback = this.versions.fallbackFor(model, version.version);
        if (fallback !== undefined) [open, version] = [version, fallback];
      }
      const prepared = version.validator!.prepare(inputs, mode);
      const monitor = monitored ? this.monitoring.of(model, version) : undefined;
      const dispatcher = version.dispatcher!;
      const result = monitor === undefined ? dispatcher.dispatch(prepared, dispatch) : monitor.run(version.version, prepared, options?.id, dispatcher, dispatch);
      if (open !== undefined) this.fellBack(model, open, version.version, prepared.rows, options?.id, result);
      // Mirror to a shadow version: only unpinned requests that went to the default.
      if (model.shadow !== undefined && options?.version === undefined && version.version === model.defaultVersion) this.versions.mirror(model, inputs, mode, result, dispatch.signal);
      return result;
    } catch (error) {
      if (model !== undefined) this.refused(model, routed, options, error);
      return Promise.reject(error);
    }
  }

  /**
   * A request for a loaded model refused before it reached a scheduler (bad input, options,
   * version, not ready): counted like any failure, under the version it went to (else the
   * pinned one, else the default, else 0). Requests naming no loaded model are not counted
   * per name: a client's names are data, never metric labels.
   */
  private refused(model: NamedModel, routed: number | undefined, options: PredictOptions | undefined, error: unknown): void {
    if (!this.hears('requestFailed')) return;
    const pinned = typeof options?.version === 'number' && model.versions.has(options.version) ? options.version : undefined;
    const code = error instanceof ModelHostError ? error.code : ErrorCode.INVALID_INPUT;
    const id = typeof options?.id === 'string' ? options.id : undefined;
    this.notify('requestFailed', {
      model: model.name,
      version: routed ?? pinned ?? model.defaultVersion ?? 0,
      timestamp: Date.now(),
      id,
      code,
      message: (error as Error)?.message ?? String(error),
      rows: 0,
      queueMs: 0,
      totalMs: 0,
    });
  }

  private modelStats(model: NamedModel): ModelStats {
    const traffic = model.traffic();
    const monitoring = this.monitoring.stats(model.name);
    const versions: Record<number, VersionStats> = {};
    for (const entry of [...model.versions.values()].sort((a, b) => b.version - a.version)) {
      const status = entry.status();
      versions[entry.version] = {
        state: status.state,
        breaker: status.breaker,
        queueDepth: status.queueDepth,
        pending: status.pending,
        traffic: traffic[entry.version] ?? 0,
        windows: this.recorder?.version(model.name, entry.version) ?? { '1m': EMPTY_WINDOW(60_000), '5m': EMPTY_WINDOW(300_000) },
        quality: monitoring?.feedback?.quality[entry.version],
      };
    }
    return { defaultVersion: model.defaultVersion, ...this.versions.rolloutStats(model), versions, monitoring };
  }

  /**
   * A request routed to a version whose open breaker sent it to `fallback`: still reported as
   * that version's CIRCUIT_OPEN failure (what its caller would have got without the fallback),
   * with `answeredBy` once the fallback answered, so its stats and its rollout guard see it
   * fail; else a canary whose breaker stays open would never be rolled back.
   */
  private fellBack(model: NamedModel, open: LoadedVersion, fallback: number, rows: number, id: string | undefined, result: Promise<Outputs>): void {
    const events = this.schedulerEvents(model.name);
    if (!events.wants('requestFailed')) return;
    const error = open.breaker!.openError();
    const report = (answered: boolean) => {
      const payload: { -readonly [K in keyof RequestFailedEvent]: RequestFailedEvent[K] } = { model: model.name, version: open.version, timestamp: Date.now(), id, code: error.code, message: error.message, rows, queueMs: 0, totalMs: 0 };
      if (answered) payload.answeredBy = fallback;
      events.emit('requestFailed', payload);
    };
    result.then(
      () => report(true),
      () => report(false),
    );
  }

  /** The next poll starts an interval after the last one ended: polls never overlap. */
  private schedulePoll(intervalMs: number): void {
    const { clock } = this.options;
    this.pollTimer = clock.setTimeout(() => {
      this.pollTimer = undefined;
      this.poll()
        .catch((error: unknown) => this.notify('error', { model: undefined, version: undefined, timestamp: Date.now(), error: error as Error }))
        .finally(() => {
          if (!this.closing) this.schedulePoll(intervalMs);
        });
    }, intervalMs);
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    if (this.pollTimer !== undefined) this.options.clock.clearTimeout(this.pollTimer);
    // The drain is bounded: past drainTimeoutMs what is left is refused (as destroy() does),
    // and past a short grace a runtime call that never returns no longer holds close() up.
    const bound = this.options.drainTimeoutMs;
    const unloading = this.versions.unloadAll();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), bound);
      timer.unref?.();
    });
    if ((await Promise.race([unloading, expired])) === 'expired') {
      this.timedOut = true;
      this.log('warn', 'drain bound reached: refusing what is left', { drainTimeoutMs: bound });
      const error = new ModelHostError(ErrorCode.SHUTTING_DOWN, `the model host is shutting down: the drain bound (drainTimeoutMs ${bound}) passed`);
      for (const model of this.models.values()) for (const version of model.versions.values()) version.dispatcher?.abort(error);
      const grace = new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), DISPOSE_GRACE_MS).unref());
      if ((await Promise.race([unloading, grace])) === 'stuck') {
        this.warn(`close: runtime calls still running ${DISPOSE_GRACE_MS} ms after the drain bound; their sessions are left to the process exit`, undefined, undefined);
      }
    }
    clearTimeout(timer);
    this.closed = true;
  }

  /**
   * A request answered from the response cache: a request served, counted like one (stats,
   * `requestCompleted` with `cached: true`), never fed to the rollout guard (no run happened).
   */
  private cacheHit(model: string, version: number, rows: number, id: string | undefined, arrivedAt: number, answeredAt: number): void {
    const totalMs = answeredAt - arrivedAt;
    if (this.internal.listenerCount('cacheHit') > 0) this.internal.emit('cacheHit', { model, version, rows, totalMs, answeredAt });
    if (this.hears('requestCompleted')) {
      this.notify('requestCompleted', { model, version, timestamp: Date.now(), id, rows, batchSize: 0, queueMs: 0, computeMs: 0, totalMs, cached: true });
    }
  }

  /**
   * A version's scheduler reports here. Request events are built when someone listens, or
   * while the model's rollout guard watches; the guard is fed first. `requestsCompleted`
   * (one per batch) goes to the host's own subscribers only.
   */
  private schedulerEvents(name: string): SchedulerEvents {
    return {
      wants: (event) =>
        event === 'requestsCompleted'
          ? this.internal.listenerCount(event) > 0
          : this.hears(event) || ((event === 'requestCompleted' || event === 'requestFailed') && this.models.get(name)?.guard !== undefined),
      // Never throws (the SchedulerEvents contract): it is called while a batch settles its requests.
      emit: (event, payload, check) => {
        try {
          if (event === 'requestsCompleted') {
            this.internal.emit(event, payload as InternalEvents['requestsCompleted'][0]);
            return;
          }
          if (event === 'requestCompleted' || event === 'requestFailed') {
            const model = this.models.get(name);
            // A baseline check is not the baseline's traffic: it would add the canary's failing inputs to the window it is judged against.
            if (model?.guard !== undefined && check !== true) {
              const p = payload as ModelHostEvents['requestCompleted'][0] | ModelHostEvents['requestFailed'][0];
              this.versions.observe(model, p.version, p.totalMs, 'code' in p ? p.code : undefined, 'blame' in p ? (p.blame as Blame | undefined) : undefined);
            }
          }
          this.notify(event as ModelHostEventName, payload as ModelHostEvents[ModelHostEventName][0]);
        } catch (error) {
          this.warn(`reporting '${event}' failed: ${(error as Error)?.message ?? String(error)}`, name, payload.version, error);
        }
      },
    };
  }

  /**
   * `name`: what a refused request named, kept as the error's `model` when it is a loaded model (errors carry
   * `model` where it is known, DESIGN §8). Decided here, not at the call: `run` stays small enough to inline into.
   */
  private shuttingDown(name?: unknown): ModelHostError {
    const model = typeof name === 'string' && this.models.has(name) ? name : undefined;
    return new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down', model === undefined ? undefined : { model });
  }

  /** Who listens to `requestSampled` (asked twice per sampled request): worked out again only once a listener was added or removed. */
  private sampleListeners(): SampleListeners {
    if (this.sampleListenersAt !== this.listenerGeneration) {
      this.sampleListenersNow = this.listenerCount('requestSampled') === 0 ? 'none' : sampleListeners(this.listeners('requestSampled'));
      this.sampleListenersAt = this.listenerGeneration;
    }
    return this.sampleListenersNow;
  }

  /** Emits to every listener; a listener that throws becomes a `warning`, never a failure. */
  private notify<E extends ModelHostEventName>(event: E, payload: ModelHostEvents[E][0]): void {
    // deliver asks each emitter for listeners itself: nothing to check first.
    this.deliver(event, payload);
  }

  protected listenerThrew(event: ModelHostEventName, payload: unknown, error: unknown): void {
    if (event === 'warning') return; // never loop
    const { model, version } = payload as { model: string | undefined; version: number | undefined };
    this.warn(`a '${event}' listener threw: ${(error as Error)?.message ?? String(error)}`, model, version, error);
  }

  private warn(message: string, model: string | undefined, version: number | undefined, cause?: unknown): void {
    this.log('warn', message, { model, version, detail: cause === undefined ? undefined : causeDetail({ cause }) });
    this.notify('warning', { model, version, timestamp: Date.now(), message, cause });
  }

  /**
   * Writes to the user's logger. A logger that throws (its transport is gone) is reported
   * nowhere: it must not fail a request, leave a batch unsettled or stop `close()`.
   */
  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
    try {
      this.options.logger?.[level]?.(message, fields);
    } catch {
      // nowhere left to report it
    }
  }
}

const NO_OPTIONS: DispatchOptions = Object.freeze({});

/** Whether a cached `metadata()` answer still holds for `target`: same signature and settings, same ready versions. No allocation. */
function describesNow(metadata: ModelMetadata, target: LoadedVersion, model: NamedModel): boolean {
  if (metadata.inputs !== target.signature?.inputs || metadata.outputs !== target.signature.outputs || metadata.runtime !== target.runtime) return false;
  if (metadata.batched !== target.batched || metadata.maxBatchSize !== target.maxBatchSize || metadata.queueMaxSize !== target.queueMaxSize) return false;
  let ready = 0;
  for (const v of model.versions.values()) {
    if (!v.isReady) continue;
    if (!metadata.versions.includes(v.version)) return false;
    ready++;
  }
  return ready === metadata.versions.length;
}

/** After the drain bound, how long close() still waits for runtime calls to return before it gives up on them, ms. */
const DISPOSE_GRACE_MS = 1000;

function checkPredictOptions(options: PredictOptions, model: string): DispatchOptions {
  if (typeof options !== 'object' || options === null) throw invalidPredictOption(model, 'options', 'an object', options);
  const { timeoutMs, priority, signal, version, routingKey, id } = options;
  // A misspelt option (`timeout`, `deadlineMs`) would otherwise run the request without it. Own
  // keys only, as every option check: an ES5-compiled class's methods are enumerable here too
  // (hasOwn runs only for a key that is not an option: nothing per request).
  for (const key in options) if (!isPredictOption(key) && Object.hasOwn(options, key)) throw unknownPredictOption(model, key);
  if (routingKey !== undefined && typeof routingKey !== 'string') throw invalidPredictOption(model, 'routingKey', 'a string', routingKey);
  if (id !== undefined && !isRequestId(id)) throw new ModelHostError(ErrorCode.INVALID_INPUT, `predict('${model}'): ${requestIdProblem('`id`', id)}`, { model });
  if (version !== undefined) assertVersion(version, model);
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0)) throw invalidPredictOption(model, 'timeoutMs', 'a number ≥ 0', timeoutMs);
  if (priority !== undefined && !Number.isInteger(priority)) throw invalidPredictOption(model, 'priority', 'an integer', priority);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidPredictOption(model, 'signal', 'an AbortSignal', signal);
  return options;
}

const PREDICT_OPTIONS: readonly (keyof PredictOptions)[] = ['version', 'timeoutMs', 'priority', 'signal', 'routingKey', 'id'];

/** A switch, not a lookup: it runs for every key of every request's options. */
function isPredictOption(key: string): boolean {
  switch (key) {
    case 'version':
    case 'timeoutMs':
    case 'priority':
    case 'signal':
    case 'routingKey':
    case 'id':
      return true;
    default:
      return false;
  }
}

function unknownPredictOption(model: string, key: string): ModelHostError {
  const hint = closest(key, PREDICT_OPTIONS);
  const shown = quoted(key);
  return new ModelHostError(ErrorCode.INVALID_INPUT, `predict('${model}'): unknown option ${shown}${hint === undefined ? '' : ` (did you mean '${hint}'?)`}; known options: ${PREDICT_OPTIONS.join(', ')}`, { model });
}

function invalidPredictOption(model: string, option: string, expected: string, got: unknown): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, `predict('${model}'): \`${option}\` must be ${expected}, got ${typeof got === 'object' ? (got === null ? 'null' : 'an object') : String(got)}`, {
    model,
  });
}

