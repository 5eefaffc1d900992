import { causeDetail, ErrorCode, isModelHostError, ModelHostError, toModelHostError } from '../errors/index.js';
import { selectVersions, type ModelRepository } from '../repository/index.js';
import type { ModelSource } from '../runtime/index.js';
import { toModelSource, type SourceInput } from '../host/model-source.js';
import { LoadedVersion } from './loaded-version.js';
import { artifactBytes, formatBytes, MemoryBudget } from './memory-budget.js';
import { resolveModelOptions, validateModelOptions, type ModelOptions, type ResolvedModelOptions } from './model-options.js';
import { NamedModel } from './named-model.js';
import type { LoadPhaseDurations } from './load-phases.js';
import type { RegistryDeps } from './registry-deps.js';

export interface LoadTarget {
  readonly version: number;
  readonly source: ModelSource;
  readonly verify: boolean;
}

export type UnloadReason = 'unload' | 'close' | 'evicted' | 'removed';

/**
 * Loading and unloading versions: where a version's files are, its options, the memory
 * budget, warm retained versions (LRU) and taking a version out of every role before it
 * drains. Nothing here decides which version serves: that is `Rollouts`.
 */
export class VersionPool {
  private readonly loads = new Map<string, Promise<LoadedVersion>>();
  readonly budget: MemoryBudget;

  constructor(private readonly deps: RegistryDeps) {
    this.budget = new MemoryBudget(deps.memoryBudgetBytes);
  }

  /**
   * The versions to load for `load(name, options)` (or `deploy`) and the options they load with.
   * `inherited`: the `config` of the model's load, under this call's own (a deploy's version
   * loads with what the model was loaded with, as a poll's does).
   */
  async resolveTargets(
    name: string,
    options: { version?: number; source?: SourceInput; config?: ModelOptions },
    inherited?: ModelOptions,
  ): Promise<{ targets: LoadTarget[]; resolved: ResolvedModelOptions; available: readonly number[]; config: ModelOptions | undefined }> {
    const config = options.config === undefined ? undefined : validateModelOptions(options.config, `load('${name}').config`, this.deps.runtimeNames);
    if (options.source !== undefined) {
      const source = await toModelSource(options.source, name);
      return { targets: [{ version: options.version ?? 1, source, verify: source.kind === 'directory' }], resolved: this.resolveOptions(name, undefined, inherited, config), available: [], config };
    }
    const repository = this.requireRepository(name);
    const raw = await repository.readConfig(name);
    let repoConfig: ModelOptions | undefined;
    try {
      repoConfig = raw === undefined ? undefined : validateModelOptions(raw, `${name}/config.json`, this.deps.runtimeNames);
    } catch (error) {
      throw withoutValue(error);
    }
    const resolved = this.resolveOptions(name, repoConfig, inherited, config);
    const available = await repository.listVersions(name);
    const chosen = options.version !== undefined ? available.filter((v) => v === options.version) : selectVersions(available, resolved.versionPolicy);
    if (chosen.length === 0) {
      const what = options.version !== undefined ? `version ${options.version}` : `versions matching ${JSON.stringify(resolved.versionPolicy)}`;
      // A folder named 01 or 1.0 is not a version (one spelling per version): named, or "none" would puzzle.
      const misnamed = await repository.misnamedVersions(name).catch(() => []);
      const skipped = misnamed.length === 0 ? '' : `; not versions (canonical decimal: 1, not 01): ${misnamed.slice(0, 5).map((n) => JSON.stringify(n.slice(0, 40))).join(', ')}`;
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no ${what} in the repository (on disk: ${available.join(', ') || 'none'}${skipped})`, {
        model: name,
        version: options.version,
      });
    }
    const targets = await Promise.all(chosen.map(async (version) => ({ version, source: await repository.versionSource(name, version), verify: true })));
    return { targets, resolved, available, config };
  }

  /**
   * The model's options from every layer, later ones winning: the repository's version policy,
   * the host's `defaults`, `config.json`, `models[name]`, the `config` of the load. A load and
   * a poll both resolve through here, so a poll never drops a layer the load had. `calls`:
   * the load's `config`, then (for a deploy) the deploy's, later ones winning.
   */
  resolveOptions(name: string, repoConfig: ModelOptions | undefined, ...calls: (ModelOptions | undefined)[]): ResolvedModelOptions {
    const policy = this.deps.repositoryPolicy;
    return resolveModelOptions([policy === undefined ? undefined : { versionPolicy: policy }, this.deps.defaults, repoConfig, this.deps.modelOptions[name], ...calls], this.deps.runtimeNames, 2, name);
  }

  /**
   * The model's registry entry, created (and listed) on first use, with the options a load
   * resolved and that load's own `config` layer (what a poll resolves the options with again).
   */
  modelFor(name: string, options: ResolvedModelOptions, fromRepository: boolean, loadConfig: ModelOptions | undefined): NamedModel {
    if (this.deps.isClosing()) throw new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down');
    let model = this.deps.models.get(name);
    if (model === undefined) {
      model = new NamedModel(name, options, (evicted) => {
        this.unloadVersion(model!, evicted, 'evicted').catch((error: unknown) => this.deps.warn(`unloading evicted v${evicted.version} failed: ${(error as Error).message}`, name, evicted.version, error));
      });
      this.deps.models.set(name, model);
    } else {
      model.options = options;
    }
    model.fromRepository = fromRepository;
    model.loadConfig = loadConfig;
    return model;
  }

  /** Drops the model from the registry once it has no version left (not even a failed one). */
  forgetIfEmpty(model: NamedModel): void {
    if (model.versions.size === 0 && this.deps.models.get(model.name) === model) this.deps.models.delete(model.name);
  }

  /**
   * A ready version of the model: already loaded (taken out of the retained set), or loaded
   * now. When `signal` aborts while this call loads it, the load is abandoned: the version
   * goes to `draining` and the load rejects.
   */
  acquire(model: NamedModel, target: LoadTarget, options: ResolvedModelOptions, signal?: AbortSignal): Promise<LoadedVersion> {
    const { version } = target;
    const existing = model.versions.get(version);
    if (existing?.isReady) {
      model.retained.delete(version);
      return Promise.resolve(existing);
    }
    const key = `${model.name}@${version}`;
    const pending = this.loads.get(key);
    if (pending !== undefined) return pending;
    const promise = this.loadVersion(model, target, options, signal).finally(() => this.loads.delete(key));
    this.loads.set(key, promise);
    return promise;
  }

  private async loadVersion(model: NamedModel, { version, source, verify }: LoadTarget, options: ResolvedModelOptions, signal: AbortSignal | undefined): Promise<LoadedVersion> {
    const context = { model: model.name, version };
    const key = `${model.name}@${version}`;
    signal?.throwIfAborted();
    const bytes = await this.makeRoom(model, version, source, options);
    const entry = new LoadedVersion(model.name, version);
    model.versions.set(version, entry);
    const abandon = () => {
      if (entry.state === 'loading' || entry.state === 'warming') entry.transition('draining');
    };
    signal?.addEventListener('abort', abandon, { once: true });
    const started = performance.now();
    const rssBefore = process.memoryUsage.rss();
    try {
      const { runtime, warmupMs, phases } = await this.deps.loader.load(entry, source, verify, options);
      entry.transition('ready');
      entry.readyAt = Date.now();
      if (bytes > 0) this.budget.learn(key, process.memoryUsage.rss() - rssBefore, entry.instances?.count ?? 1);
      const loadMs = performance.now() - started;
      this.deps.notify('modelLoaded', { ...context, timestamp: Date.now(), runtime, loadMs, warmupMs, phases });
      this.deps.log('info', 'model loaded', { ...context, runtime, instances: entry.instances, ms: Math.round(loadMs), phases: roundedPhases(phases) });
      return entry;
    } catch (thrown) {
      this.budget.release(key);
      const error = loadError(thrown, context);
      if (entry.state === 'draining') {
        // Abandoned (unloaded or cancelled while loading): nothing of it stays behind.
        await entry.drainAndDispose(); // a load that finished as it was abandoned leaves a session to close
        if (model.versions.get(version) === entry) model.versions.delete(version);
        if (signal?.aborted) throw signal.reason;
      } else entry.fail(error);
      this.deps.notify('modelLoadFailed', { ...context, timestamp: Date.now(), code: error.code, message: error.message });
      // The response says what failed; the log also says why, in full (`cause`).
      this.deps.log('warn', 'model load failed', { ...context, code: error.code, message: error.message, detail: causeDetail(error) });
      throw error;
    } finally {
      signal?.removeEventListener('abort', abandon);
    }
  }

  /**
   * With a memory budget: reserves the version's estimated footprint, evicting retained
   * (warm, idle) versions of any model first when it would not fit; refuses the load when
   * even that is not enough. Returns the artifact size (0 without a budget).
   */
  private async makeRoom(model: NamedModel, version: number, source: ModelSource, options: ResolvedModelOptions): Promise<number> {
    if (!this.budget.enabled) return 0;
    const bytes = await artifactBytes(source).catch(() => 0);
    const runtime = await this.deps.loader.runtimeName(source, options).catch(() => 'unknown');
    const instances = options.scheduler.instanceKind === 'inline' ? 1 : options.scheduler.instanceCount;
    const needed = this.budget.estimate(bytes, runtime, instances);
    while (!this.budget.fits(needed)) {
      const victim = this.oldestRetained();
      if (victim === undefined) break;
      victim.model.retained.delete(victim.entry.version);
      await this.unloadVersion(victim.model, victim.entry, 'evicted');
    }
    if (!this.budget.fits(needed)) {
      const limit = this.budget.limitBytes!;
      throw new ModelHostError(
        ErrorCode.LOAD_FAILED,
        `model '${model.name}' v${version} would exceed memoryBudgetBytes: it needs about ${formatBytes(needed)} (${formatBytes(bytes)} of files × ${this.budget.factor(runtime).toFixed(1)} for ${runtime}${instances > 1 ? ` × ${instances} instances` : ''}), ${formatBytes(this.budget.used())} of ${formatBytes(limit)} are in use by versions that serve; unload one or raise the budget`,
        { model: model.name, version },
      );
    }
    this.budget.reserve(`${model.name}@${version}`, needed, runtime, bytes);
    return bytes;
  }

  private oldestRetained(): { model: NamedModel; entry: LoadedVersion } | undefined {
    let oldest: { model: NamedModel; entry: LoadedVersion } | undefined;
    for (const model of this.deps.models.values()) {
      // rkeys(): least recently used first.
      for (const version of model.retained.rkeys()) {
        const entry = model.retained.peek(version)!;
        if (oldest === undefined || (entry.readyAt ?? 0) < (oldest.entry.readyAt ?? 0)) oldest = { model, entry };
        break;
      }
    }
    return oldest;
  }

  /** A version without traffic or role is kept warm (LRU of `retainVersions`), or unloaded when none are kept. */
  demote(model: NamedModel, version: number): void {
    const entry = model.versions.get(version);
    if (entry === undefined || !entry.isReady || model.isInService(version)) return;
    if (model.options.retainVersions === 0) {
      this.unloadVersion(model, entry, 'evicted').catch((error: unknown) => this.deps.warn(`unloading v${version} failed: ${(error as Error).message}`, model.name, version, error));
      return;
    }
    model.retained.set(version, entry);
  }

  /** Takes a version out of every role before it unloads. */
  withdraw(model: NamedModel, version: number): void {
    model.retained.delete(version);
    model.served.delete(version);
    if (model.candidate === version || model.shadow?.version === version) {
      model.candidate = undefined;
      model.shadow = undefined;
      model.shadowTracker = undefined;
      model.guard = undefined;
    }
    if (model.defaultVersion === version) model.defaultVersion = undefined;
    const traffic = model.traffic();
    if (traffic[version] !== undefined) {
      const rest = new Map(Object.entries(traffic).map(([v, w]) => [Number(v), w] as const).filter(([v]) => v !== version));
      model.setWeights(rest.size > 0 ? rest : new Map());
      if (rest.size === 0 && model.defaultVersion !== undefined) model.routeAllTo(model.defaultVersion);
    }
  }

  async unloadVersion(model: NamedModel, entry: LoadedVersion, reason: UnloadReason): Promise<void> {
    const loading = this.loads.get(`${model.name}@${entry.version}`);
    if (entry.state === 'loading' || entry.state === 'warming') entry.transition('draining');
    if (loading !== undefined) await loading.catch(() => undefined);
    const wasServing = entry.state === 'draining' || entry.state === 'ready';
    await entry.drainAndDispose();
    this.budget.release(`${model.name}@${entry.version}`);
    if (model.versions.get(entry.version) === entry) model.versions.delete(entry.version);
    if (wasServing && entry.readyAt !== undefined) {
      this.deps.notify('modelUnloaded', { model: model.name, version: entry.version, timestamp: Date.now(), reason });
      this.deps.log('info', 'model unloaded', { model: model.name, version: entry.version, reason });
    }
  }

  /** Waits for loads in flight, then unloads every version of every model (host close). */
  async unloadAll(): Promise<void> {
    await Promise.allSettled([...this.loads.values()]);
    await Promise.all([...this.deps.models.values()].flatMap((model) => [...model.versions.values()].map((entry) => this.unloadVersion(model, entry, 'close'))));
    this.deps.models.clear();
  }

  private requireRepository(name: string): ModelRepository {
    if (this.deps.repository === undefined) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `load('${name}') needs a model repository (new ModelHost({ repository })) or a source (load('${name}', { source }))`, { model: name });
    }
    return this.deps.repository;
  }
}

/**
 * A config.json validation error without the ", got <value>" part: what a file holds stays
 * out of responses. The full message is the cause, for the log.
 */
function withoutValue(error: unknown): unknown {
  if (!isModelHostError(error, ErrorCode.INVALID_CONFIG)) return error;
  const at = error.message.indexOf(', got ');
  if (at < 0) return error;
  return new ModelHostError(error.code, error.message.slice(0, at), { model: error.model, version: error.version, cause: error });
}

/** Load failures keep a meaningful code (INTEGRITY_FAILED, UNSUPPORTED_MODEL, ...); anything else is LOAD_FAILED. */
function loadError(error: unknown, context: { model: string; version: number }): ModelHostError {
  if (isModelHostError(error) && error.code !== ErrorCode.INVALID_INPUT && error.code !== ErrorCode.INFERENCE_FAILED) return error;
  if (isModelHostError(error)) return new ModelHostError(ErrorCode.LOAD_FAILED, error.message, { ...context, cause: error });
  return toModelHostError(error, ErrorCode.LOAD_FAILED, context);
}

/** Phase durations in whole ms, for a log line. */
function roundedPhases(phases: LoadPhaseDurations): Record<string, number> {
  return Object.fromEntries(Object.entries(phases).map(([phase, ms]) => [phase, Math.round(ms)]));
}
