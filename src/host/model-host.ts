import { EventEmitter } from 'eventemitter3';
import { ErrorCode, isModelHostError, ModelHostError, toModelHostError } from '../errors/index.js';
import type { ModelHostEventName, ModelHostEvents } from '../metrics/events.js';
import { LoadedVersion } from '../registry/loaded-version.js';
import { resolveModelOptions, validateModelOptions, type ModelOptions, type ResolvedModelOptions } from '../registry/model-options.js';
import { NamedModel, type ModelStatus } from '../registry/named-model.js';
import { VersionLoader } from '../registry/version-loader.js';
import { assertModelName, assertVersion, ModelRepository, selectVersions } from '../repository/index.js';
import { RuntimeRegistry, type ModelSource, type RuntimeMemory } from '../runtime/index.js';
import type { WorkerMemory } from '../runtime/worker/messages.js';
import { WorkerInstance } from '../runtime/worker/worker-instance.js';
import type { SchedulerEvents } from '../scheduler/batch-scheduler.js';
import type { DispatchOptions } from '../scheduler/dispatcher.js';
import type { InputMode, Tensor, TensorSpec } from '../tensor/index.js';
import { resolveHostOptions, type ModelHostOptions, type ResolvedHostOptions } from './host-options.js';
import { toModelSource, type SourceInput } from './model-source.js';

export interface LoadOptions {
  /** Load this version (and make it the default) instead of what the version policy selects. */
  version?: number;
  /** Load from here instead of the repository: a folder, a URL, `model.onnx` bytes or in-memory files. */
  source?: SourceInput;
  /** Options for this load, over `defaults`, `config.json` and `models[name]`. */
  config?: ModelOptions;
}

export interface LoadResult {
  readonly model: string;
  /** The default version after the load. */
  readonly version: number;
  /** Versions this call loaded (or found already loaded). */
  readonly versions: readonly number[];
}

export interface PredictOptions {
  /** Pin a version instead of the default. */
  version?: number;
  /** Reject with DEADLINE_EXCEEDED if no answer within this many ms. */
  timeoutMs?: number;
  /** Higher runs first; default 0. */
  priority?: number;
  /** Aborting rejects with CANCELLED and frees the request's queue slot. */
  signal?: AbortSignal;
}

export interface MemoryReport {
  /** Main-thread resources per runtime. */
  readonly runtimes: Readonly<Record<string, RuntimeMemory>>;
  /** Worker-thread instances per loaded version (empty `instances` for inline versions). */
  readonly versions: readonly { model: string; version: number; kind: 'thread' | 'inline'; instances: readonly WorkerMemory[] }[];
  /** Worker threads alive in this process. */
  readonly workerThreads: number;
}

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
export class ModelHost extends EventEmitter<ModelHostEvents> {
  private readonly options: ResolvedHostOptions;
  private readonly runtimes: RuntimeRegistry;
  private readonly repository: ModelRepository | undefined;
  private readonly models = new Map<string, NamedModel>();
  private readonly loads = new Map<string, Promise<LoadedVersion>>();
  private readonly loader: VersionLoader;
  private closing = false;
  private closed = false;
  private closePromise: Promise<void> | undefined;
  /** What the schedulers report through: payloads are built only for events someone listens to. */
  private readonly schedulerEvents: SchedulerEvents = {
    wants: (event) => this.listenerCount(event) > 0,
    emit: (event, payload) => this.notify(event, payload),
  };

  constructor(options: ModelHostOptions = {}) {
    super();
    this.options = resolveHostOptions(options);
    this.runtimes = new RuntimeRegistry(this.options.runtimes);
    this.repository = this.options.repository === undefined ? undefined : new ModelRepository(this.options.repository.root);
    this.loader = new VersionLoader({
      runtimes: this.runtimes,
      clock: this.options.clock,
      events: this.schedulerEvents,
      warn: (message, model, version, cause) => this.warn(message, model, version, cause),
      fail: (error, model, version) => this.notify('error', { model, version, timestamp: Date.now(), error }),
    });
  }

  /**
   * Loads a model and makes it ready: the versions its policy selects from the repository
   * (default: the newest), or one `version`, or a `source`. Each version is warmed up before
   * it serves. A failed load leaves whatever served before serving.
   */
  async load(name: string, options: LoadOptions = {}): Promise<LoadResult> {
    this.assertOpen();
    assertModelName(name);
    if (options.version !== undefined) assertVersion(options.version, name);
    const config = options.config === undefined ? undefined : validateModelOptions(options.config, `load('${name}').config`, this.options.runtimeNames);

    let targets: { version: number; source: ModelSource; verify: boolean }[];
    let repoConfig: ModelOptions | undefined;
    if (options.source !== undefined) {
      const source = await toModelSource(options.source, name);
      targets = [{ version: options.version ?? 1, source, verify: source.kind === 'directory' }];
    } else {
      const repository = this.requireRepository(name);
      repoConfig = await this.readRepositoryConfig(repository, name);
      const available = await repository.listVersions(name);
      const resolved = this.resolveOptions(name, repoConfig, config);
      const chosen = options.version !== undefined ? available.filter((v) => v === options.version) : selectVersions(available, resolved.versionPolicy);
      if (chosen.length === 0) {
        const what = options.version !== undefined ? `version ${options.version}` : `versions matching ${JSON.stringify(resolved.versionPolicy)}`;
        throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no ${what} in ${repository.root} (on disk: ${available.join(', ') || 'none'})`, {
          model: name,
          version: options.version,
        });
      }
      targets = await Promise.all(
        chosen.map(async (version) => ({ version, source: { kind: 'directory' as const, path: await repository.versionDir(name, version) }, verify: true })),
      );
    }

    const resolved = this.resolveOptions(name, repoConfig, config);
    this.assertOpen();
    let model = this.models.get(name);
    if (model === undefined) {
      model = new NamedModel(name, resolved);
      this.models.set(name, model);
    } else {
      model.options = resolved;
    }

    const loaded: number[] = [];
    let firstError: unknown;
    for (const target of targets) {
      try {
        await this.loadVersion(model, target.version, target.source, target.verify, resolved);
        loaded.push(target.version);
      } catch (error) {
        firstError ??= error;
      }
    }
    if (loaded.length === 0) throw firstError;
    if (firstError !== undefined) {
      this.warn(`model '${name}': some versions failed to load: ${(firstError as Error).message}`, name, undefined, firstError);
    }
    const next = options.version ?? Math.max(...loaded);
    this.setDefault(model, next);
    return { model: name, version: next, versions: loaded.sort((a, b) => b - a) };
  }

  /** Runs one instance (no batch dimension) and returns its outputs. */
  predict(name: string, inputs: unknown, options?: PredictOptions): Promise<Outputs> {
    return this.run(name, inputs, options, 'instance');
  }

  /** Runs inputs with a leading batch dimension; outputs keep it. */
  predictBatch(name: string, inputs: unknown, options?: PredictOptions): Promise<Outputs> {
    return this.run(name, inputs, options, 'batch');
  }

  /** Unloads one version, or every version of the model. Pending requests settle first. */
  async unload(name: string, version?: number): Promise<void> {
    assertModelName(name);
    const model = this.requireModel(name);
    if (version !== undefined) assertVersion(version, name);
    const targets = version === undefined ? [...model.versions.values()] : [this.requireVersion(model, version)];
    // Stop routing to them first, so nothing new arrives while they drain.
    for (const target of targets) if (model.defaultVersion === target.version) model.defaultVersion = undefined;
    await Promise.all(targets.map((target) => this.unloadVersion(model, target, 'unload')));
    if (model.defaultVersion === undefined) {
      const next = model.newestReady();
      if (next !== undefined) this.setDefault(model, next);
    }
    if (model.versions.size === 0 && this.models.get(name) === model) this.models.delete(name);
  }

  /** Lifecycle of every model (or one), newest version first. */
  status(): ModelStatus[];
  status(name: string): ModelStatus;
  status(name?: string): ModelStatus | ModelStatus[] {
    if (name !== undefined) return this.requireModel(name).status();
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => m.status());
  }

  /** Inputs, outputs (name, dtype, shape) and versions of a model; the default version unless one is given. */
  metadata(name: string, version?: number): ModelMetadata {
    const model = this.requireModel(name);
    const target = version !== undefined ? this.requireVersion(model, version) : model.versions.get(model.defaultVersion ?? -1);
    if (target?.signature === undefined || target.runtime === undefined) {
      throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${name}' has no loaded version to describe`, { model: name, version });
    }
    const versions = [...model.versions.values()].filter((v) => v.isReady).map((v) => v.version).sort((a, b) => b - a);
    return {
      name,
      version: target.version,
      versions,
      runtime: target.runtime,
      inputs: target.signature.inputs,
      outputs: target.signature.outputs,
      batched: target.batched,
      maxBatchSize: target.maxBatchSize,
    };
  }

  /**
   * Live runtime resources: per runtime on the main thread (tfjs tensors, open sessions),
   * per version on its worker-thread instances (heap, tensors, sessions), and worker threads
   * alive. For leak checks and dashboards; `{ collect: true }` runs a full garbage collection
   * in each worker first, so heap numbers compare over time.
   */
  async memory(options: { collect?: boolean } = {}): Promise<MemoryReport> {
    const runtimes: Record<string, RuntimeMemory> = {};
    for (const runtime of this.runtimes.all()) if (runtime.memory !== undefined) runtimes[runtime.name] = runtime.memory();
    const versions: MemoryReport['versions'][number][] = [];
    for (const model of this.models.values()) {
      for (const entry of model.versions.values()) {
        if (entry.executor === undefined || entry.instances === undefined) continue;
        versions.push({ model: model.name, version: entry.version, kind: entry.instances.kind, instances: (await entry.executor.memory?.(options.collect === true)) ?? [] });
      }
    }
    return { runtimes, versions, workerThreads: WorkerInstance.live };
  }

  /** Whether a model (or, without a name, the host and every loaded model) can serve. */
  ready(name?: string): boolean {
    if (this.closing) return false;
    if (name !== undefined) return this.models.get(name)?.ready === true;
    for (const model of this.models.values()) if (!model.ready) return false;
    return true;
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

  private run(name: string, inputs: unknown, options: PredictOptions | undefined, mode: InputMode): Promise<Outputs> {
    // Not async: the scheduler's promise is the caller's promise (one per request, not three).
    try {
      if (this.closing) throw this.shuttingDown();
      const model = this.models.get(name);
      if (model === undefined) throw this.modelNotFound(name);
      const version = model.route(options?.version);
      const prepared = version.validator!.prepare(inputs, mode);
      return version.dispatcher!.dispatch(prepared, options === undefined ? NO_OPTIONS : checkPredictOptions(options, name));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private loadVersion(model: NamedModel, version: number, source: ModelSource, verify: boolean, options: ResolvedModelOptions): Promise<LoadedVersion> {
    const key = `${model.name}@${version}`;
    const existing = model.versions.get(version);
    if (existing?.isReady) return Promise.resolve(existing);
    const pending = this.loads.get(key);
    if (pending !== undefined) return pending;
    const promise = this.doLoadVersion(model, version, source, verify, options).finally(() => this.loads.delete(key));
    this.loads.set(key, promise);
    return promise;
  }

  private async doLoadVersion(model: NamedModel, version: number, source: ModelSource, verify: boolean, options: ResolvedModelOptions): Promise<LoadedVersion> {
    const entry = new LoadedVersion(model.name, version);
    model.versions.set(version, entry);
    const context = { model: model.name, version };
    const started = performance.now();
    try {
      const { runtime, warmupMs } = await this.loader.load(entry, source, verify, options);
      entry.transition('ready');
      entry.readyAt = Date.now();
      const loadMs = performance.now() - started;
      this.notify('modelLoaded', { ...context, timestamp: Date.now(), runtime, loadMs, warmupMs });
      this.options.logger?.info('model loaded', { ...context, runtime, instances: entry.instances, ms: Math.round(loadMs) });
      return entry;
    } catch (thrown) {
      const error = loadError(thrown, context);
      if (entry.state === 'draining') entry.transition('unloaded');
      else entry.fail(error);
      this.notify('modelLoadFailed', { ...context, timestamp: Date.now(), code: error.code, message: error.message });
      this.options.logger?.warn('model load failed', { ...context, code: error.code, message: error.message });
      throw error;
    }
  }

  private async unloadVersion(model: NamedModel, entry: LoadedVersion, reason: 'unload' | 'close'): Promise<void> {
    const loading = this.loads.get(`${model.name}@${entry.version}`);
    if (entry.state === 'loading' || entry.state === 'warming') entry.transition('draining');
    if (loading !== undefined) await loading.catch(() => undefined);
    const wasServing = entry.state === 'draining' || entry.state === 'ready';
    await entry.drainAndDispose();
    if (model.versions.get(entry.version) === entry) model.versions.delete(entry.version);
    if (wasServing && entry.readyAt !== undefined) {
      this.notify('modelUnloaded', { model: model.name, version: entry.version, timestamp: Date.now(), reason });
      this.options.logger?.info('model unloaded', { model: model.name, version: entry.version, reason });
    }
  }

  private setDefault(model: NamedModel, version: number): void {
    const previous = model.defaultVersion;
    model.defaultVersion = version;
    if (previous !== version) this.notify('versionSwapped', { model: model.name, version, previous, timestamp: Date.now() });
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.loads.values()]);
    await Promise.all(
      [...this.models.values()].flatMap((model) => [...model.versions.values()].map((entry) => this.unloadVersion(model, entry, 'close'))),
    );
    this.models.clear();
    this.closed = true;
  }

  private resolveOptions(name: string, repoConfig: ModelOptions | undefined, config: ModelOptions | undefined): ResolvedModelOptions {
    const repositoryPolicy = this.options.repository?.versionPolicy;
    return resolveModelOptions(
      [repositoryPolicy === undefined ? undefined : { versionPolicy: repositoryPolicy }, this.options.defaults, repoConfig, this.options.models[name], config],
      this.options.runtimeNames,
    );
  }

  private async readRepositoryConfig(repository: ModelRepository, name: string): Promise<ModelOptions | undefined> {
    const raw = await repository.readConfig(name);
    return raw === undefined ? undefined : validateModelOptions(raw, `${name}/config.json`, this.options.runtimeNames);
  }

  private requireRepository(name: string): ModelRepository {
    if (this.repository === undefined) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `load('${name}') needs a model repository (new ModelHost({ repository })) or a source (load('${name}', { source }))`, {
        model: name,
      });
    }
    return this.repository;
  }

  private requireModel(name: string): NamedModel {
    const model = this.models.get(name);
    if (model === undefined) throw this.modelNotFound(name);
    return model;
  }

  private requireVersion(model: NamedModel, version: number): LoadedVersion {
    const entry = model.versions.get(version);
    if (entry === undefined) {
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${model.name}' has no loaded version ${version}`, { model: model.name, version });
    }
    return entry;
  }

  private modelNotFound(name: string): ModelHostError {
    if (typeof name !== 'string') return new ModelHostError(ErrorCode.INVALID_INPUT, `model name must be a string, got ${typeof name}`);
    const loaded = [...this.models.keys()];
    return new ModelHostError(ErrorCode.MODEL_NOT_FOUND, `model '${name}' is not loaded (loaded: ${loaded.join(', ') || 'none'}); call host.load('${name}') first`, {
      model: name,
    });
  }

  private assertOpen(): void {
    if (this.closing) throw this.shuttingDown();
  }

  private shuttingDown(): ModelHostError {
    return new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down');
  }

  /** Emits to every listener; a listener that throws becomes a `warning`, never a failure. */
  private notify<E extends ModelHostEventName>(event: E, payload: ModelHostEvents[E][0]): void {
    if (this.listenerCount(event) === 0) return;
    for (const listener of this.listeners(event)) {
      try {
        (listener as (p: typeof payload) => void).call(this, payload);
      } catch (error) {
        if (event === 'warning') continue; // never loop
        this.warn(`a '${event}' listener threw: ${(error as Error)?.message ?? String(error)}`, payload.model, payload.version, error);
      }
    }
  }

  private warn(message: string, model: string | undefined, version: number | undefined, cause?: unknown): void {
    this.options.logger?.warn(message, { model, version });
    this.notify('warning', { model, version, timestamp: Date.now(), message, cause });
  }
}

const NO_OPTIONS: DispatchOptions = Object.freeze({});

function checkPredictOptions(options: PredictOptions, model: string): DispatchOptions {
  if (typeof options !== 'object' || options === null) throw invalidPredictOption(model, 'options', 'an object', options);
  const { timeoutMs, priority, signal, version } = options;
  if (version !== undefined) assertVersion(version, model);
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs >= 0)) throw invalidPredictOption(model, 'timeoutMs', 'a number ≥ 0', timeoutMs);
  if (priority !== undefined && !Number.isInteger(priority)) throw invalidPredictOption(model, 'priority', 'an integer', priority);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidPredictOption(model, 'signal', 'an AbortSignal', signal);
  return options;
}

function invalidPredictOption(model: string, option: string, expected: string, got: unknown): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, `predict('${model}'): \`${option}\` must be ${expected}, got ${typeof got === 'object' ? (got === null ? 'null' : 'an object') : String(got)}`, {
    model,
  });
}

/** Load failures keep a meaningful code (INTEGRITY_FAILED, UNSUPPORTED_MODEL, ...); anything else is LOAD_FAILED. */
function loadError(error: unknown, context: { model: string; version: number }): ModelHostError {
  if (isModelHostError(error) && error.code !== ErrorCode.INVALID_INPUT && error.code !== ErrorCode.INFERENCE_FAILED) return error;
  if (isModelHostError(error)) return new ModelHostError(ErrorCode.LOAD_FAILED, error.message, { ...context, cause: error });
  return toModelHostError(error, ErrorCode.LOAD_FAILED, context);
}
