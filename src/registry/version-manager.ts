import { causeDetail, ErrorCode, isModelHostError, ModelHostError, toModelHostError } from '../errors/index.js';
import type { ModelHostEventName, ModelHostEvents } from '../metrics/events.js';
import { fallbackVersions } from './version-fallback.js';
import { assertModelName, assertVersion, readManifest, selectVersions, type Manifest, type ManifestEntry, type ModelRepository } from '../repository/index.js';
import type { ModelSource } from '../runtime/index.js';
import type { Clock } from '../scheduler/clock.js';
import type { InputMode, Tensor } from '../tensor/index.js';
import { toModelSource, type SourceInput } from '../host/model-source.js';
import { LoadedVersion } from './loaded-version.js';
import { artifactBytes, formatBytes, MemoryBudget } from './memory-budget.js';
import { resolveModelOptions, validateModelOptions, validateValidationSet, type ModelOptions, type ResolvedModelOptions, type ValidationSet } from './model-options.js';
import { NamedModel } from './named-model.js';
import { compareOutputs } from './output-comparison.js';
import { RolloutGuard, type GuardState } from './rollout-guard.js';
import { ShadowTracker, type ShadowStats } from './shadow-tracker.js';
import type { VersionLoader } from './version-loader.js';
import type { LoadPhaseDurations } from './load-phases.js';

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

export interface DeployOptions {
  /** Share of unpinned traffic (0–1, exclusive) the new version takes; the rest stays on the default. Omit for a full swap. */
  canary?: number;
  /** Share of requests (0–1) mirrored to the new version; callers only get the default's answer. */
  shadow?: number;
  /** Load from here instead of the repository. */
  source?: SourceInput;
  /** Options for this version's load. */
  config?: ModelOptions;
  /** A golden set the version must reproduce, or `false` to skip the configured one. */
  validate?: ValidationSet | false;
}

export interface RolloutResult {
  readonly model: string;
  /** The default version now. */
  readonly version: number;
  readonly candidate: number | undefined;
  readonly traffic: Readonly<Record<number, number>>;
}

export interface RollbackResult {
  readonly model: string;
  /** The version serving now. */
  readonly version: number;
  /** The version traffic was taken from. */
  readonly from: number;
}

/** What a model's rollout looks like now, for `stats()`. */
export interface RolloutStats {
  readonly candidate: number | undefined;
  readonly traffic: Readonly<Record<number, number>>;
  readonly shadow: ShadowStats | undefined;
  readonly guard: (GuardState & { readonly active: boolean }) | undefined;
}

export interface SyncResult {
  /** `model@version` loaded by this poll. */
  readonly loaded: string[];
  /** `model@version` unloaded because they left the repository. */
  readonly unloaded: string[];
  /** `model@version` that failed to load (tried again next poll). */
  readonly failed: string[];
}

export interface VersionManagerDeps {
  readonly models: Map<string, NamedModel>;
  readonly loader: VersionLoader;
  readonly repository: ModelRepository | undefined;
  readonly runtimeNames: readonly string[];
  readonly defaults: ModelOptions | undefined;
  readonly modelOptions: Readonly<Record<string, ModelOptions>>;
  readonly repositoryPolicy: ModelOptions['versionPolicy'];
  readonly memoryBudgetBytes: number | undefined;
  readonly clock: Clock;
  readonly isClosing: () => boolean;
  readonly notify: <E extends ModelHostEventName>(event: E, payload: ModelHostEvents[E][0]) => void;
  readonly warn: (message: string, model: string | undefined, version: number | undefined, cause?: unknown) => void;
  readonly log: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** Runs a validation example on a version, pinned. */
  readonly predictPinned: (model: string, version: number, inputs: unknown) => Promise<Record<string, Tensor>>;
}

const HISTORY_LIMIT = 20;

/**
 * Versions of every model: loading, the default, canary weights, shadow, rollback history,
 * warm retained versions (LRU), the rollout guard and the memory budget. Every change of
 * what serves is a pointer flip on the NamedModel: nothing waits on a load, nothing drops.
 */
export class VersionManager {
  private readonly loads = new Map<string, Promise<LoadedVersion>>();
  readonly budget: MemoryBudget;

  constructor(private readonly deps: VersionManagerDeps) {
    this.budget = new MemoryBudget(deps.memoryBudgetBytes);
  }

  // ---- load ----

  async load(name: string, options: LoadOptions = {}): Promise<LoadResult> {
    this.assertOpen();
    assertModelName(name);
    if (options.version !== undefined) assertVersion(options.version, name);
    const { targets, resolved, available } = await this.resolveTargets(name, options);
    const model = this.modelFor(name, resolved, options.source === undefined);
    const loaded: number[] = [];
    let firstError: unknown;
    for (const target of targets) {
      try {
        await this.acquire(model, target.version, target.source, target.verify, resolved);
        loaded.push(target.version);
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined && options.version === undefined) await this.fallBack(model, targets.map((t) => t.version), available, loaded, resolved, firstError);
    if (loaded.length === 0) throw firstError;
    if (firstError !== undefined) this.deps.warn(`model '${name}': some versions failed to load: ${(firstError as Error).message}`, name, undefined, firstError);
    // When the policy selects several versions, all stay available (for pinned requests), not only the default.
    if (loaded.length > 1) for (const version of loaded) model.served.add(version);
    const next = options.version ?? Math.max(...loaded);
    if (model.defaultVersion !== next || model.candidate !== undefined) this.swapDefault(model, next);
    return { model: name, version: next, versions: loaded.sort((a, b) => b - a) };
  }

  /** `{ latest: N }` with versions that failed: the newest older versions that load take their place, with a warning. */
  private async fallBack(model: NamedModel, selected: readonly number[], available: readonly number[], loaded: number[], options: ResolvedModelOptions, cause: unknown): Promise<void> {
    const repository = this.deps.repository;
    if (repository === undefined) return;
    const failed = selected.filter((v) => !loaded.includes(v));
    for (const version of fallbackVersions(available, selected, options.versionPolicy)) {
      if (loaded.length >= selected.length) break;
      try {
        await this.acquire(model, version, await repository.versionSource(model.name, version), true, options);
        loaded.push(version);
        this.deps.warn(
          `model '${model.name}': v${failed.join(', v')} failed to load (${(cause as Error).message}); serving v${version}, the newest version that loads; v${failed.join(', v')} is tried again on the next repository poll or load()`,
          model.name,
          version,
          cause,
        );
      } catch {
        // older and broken too: keep looking
      }
    }
  }

  // ---- rollouts ----

  async deploy(name: string, version: number, options: DeployOptions = {}): Promise<RolloutResult> {
    this.assertOpen();
    assertModelName(name);
    assertVersion(version, name);
    const { canary, shadow } = options;
    if (canary !== undefined && !(typeof canary === 'number' && canary > 0 && canary < 1)) throw invalid(name, 'canary', 'a share between 0 and 1 (exclusive)', canary);
    if (shadow !== undefined && !(typeof shadow === 'number' && shadow > 0 && shadow <= 1)) throw invalid(name, 'shadow', 'a share above 0, at most 1', shadow);
    const validation = options.validate === false ? undefined : options.validate === undefined ? undefined : validateValidationSet(options.validate, `deploy('${name}').validate`);

    let model = this.deps.models.get(name);
    if (model === undefined || model.defaultVersion === undefined) {
      await this.load(name, { version, source: options.source, config: options.config });
      model = this.deps.models.get(name)!;
      await this.validateOrUndo(model, version, options.validate === false ? undefined : (validation ?? model.options.validate), true);
      return this.summary(model);
    }
    if (version === model.defaultVersion && (canary !== undefined || shadow !== undefined)) {
      throw invalid(name, 'version', `a version other than the default (v${version}) for a canary or shadow`, version);
    }
    const wasLoaded = model.versions.get(version)?.isReady === true;
    const { targets, resolved } = await this.resolveTargets(name, { version, source: options.source, config: options.config });
    await this.acquire(model, version, targets[0]!.source, targets[0]!.verify, resolved);
    await this.validateOrUndo(model, version, options.validate === false ? undefined : (validation ?? model.options.validate), !wasLoaded);

    const previousCandidate = model.candidate;
    if (canary === undefined && shadow === undefined) {
      const baseline = model.defaultVersion;
      this.swapDefault(model, version);
      this.startGuard(model, version, baseline);
    } else {
      model.candidate = version;
      const def = model.defaultVersion!;
      model.setWeights(canary === undefined ? new Map([[def, 1]]) : new Map([[def, 1 - canary], [version, canary]]));
      model.shadow = shadow === undefined ? undefined : { version, fraction: shadow };
      model.shadowTracker = shadow === undefined ? undefined : new ShadowTracker(version, shadow);
      this.startGuard(model, version, def);
      this.trafficChanged(model);
    }
    if (previousCandidate !== undefined && previousCandidate !== version) this.demote(model, previousCandidate);
    this.deps.log('info', 'deployed', { model: name, version, canary, shadow });
    return this.summary(model);
  }

  promote(name: string): RolloutResult {
    const model = this.requireModel(name);
    const candidate = model.candidate;
    if (candidate === undefined) throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no candidate to promote (deploy one with { canary } or { shadow })`, { model: name });
    this.swapDefault(model, candidate);
    return this.summary(model);
  }

  setTraffic(name: string, weights: Readonly<Record<number, number>>): RolloutResult {
    const model = this.requireModel(name);
    if (typeof weights !== 'object' || weights === null) throw invalid(name, 'weights', 'an object { [version]: weight }', weights);
    const next = new Map<number, number>();
    for (const [key, weight] of Object.entries(weights)) {
      const version = Number(key);
      assertVersion(version, name);
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw invalid(name, `weights[${key}]`, 'a finite number ≥ 0', weight);
      const entry = model.versions.get(version);
      if (entry === undefined || !entry.isReady) {
        throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no ready version ${version} to send traffic to`, { model: name, version });
      }
      if (weight > 0) next.set(version, weight);
    }
    if (next.size === 0) throw invalid(name, 'weights', 'at least one positive weight', weights);
    const before = Object.keys(model.traffic()).map(Number);
    for (const version of next.keys()) model.retained.delete(version);
    model.setWeights(next);
    for (const version of before) if (!next.has(version)) this.demote(model, version);
    this.trafficChanged(model);
    return this.summary(model);
  }

  /** Back to the previous default (or, during a canary, all traffic back to the default). */
  async rollback(name: string, reason = 'manual rollback', automatic = false): Promise<RollbackResult> {
    const model = this.requireModel(name);
    if (model.candidate !== undefined) return this.abortCandidate(model, reason, automatic);
    let target = model.history.pop();
    while (target !== undefined && target === model.defaultVersion) target = model.history.pop();
    if (target === undefined) {
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no previous version to roll back to`, { model: name });
    }
    const from = model.defaultVersion!;
    try {
      if (model.versions.get(target)?.isReady !== true) {
        // Past what was retained: load it again from the repository.
        const { targets, resolved } = await this.resolveTargets(name, { version: target });
        await this.acquire(model, target, targets[0]!.source, targets[0]!.verify, resolved);
      }
    } catch (error) {
      model.history.push(target);
      throw error;
    }
    this.swapDefault(model, target, false);
    model.guard = undefined;
    this.deps.notify('versionRolledBack', { model: name, version: target, from, timestamp: Date.now(), automatic, reason });
    this.deps.log('warn', 'rolled back', { model: name, version: target, from, automatic, reason });
    return { model: name, version: target, from };
  }

  async unload(name: string, version?: number): Promise<void> {
    assertModelName(name);
    const model = this.requireModel(name);
    if (version !== undefined) assertVersion(version, name);
    const targets = version === undefined ? [...model.versions.values()] : [this.requireVersion(model, version)];
    // Stop routing to them first, so nothing new arrives while they drain.
    for (const target of targets) this.withdraw(model, target.version);
    await Promise.all(targets.map((target) => this.unloadVersion(model, target, 'unload')));
    if (model.defaultVersion === undefined) {
      const next = model.newestReady();
      if (next !== undefined) this.swapDefault(model, next, false);
    }
    if (model.versions.size === 0 && this.deps.models.get(name) === model) this.deps.models.delete(name);
  }

  /** Unloads everything (host close). */
  async unloadAll(): Promise<void> {
    await Promise.allSettled([...this.loads.values()]);
    await Promise.all([...this.deps.models.values()].flatMap((model) => [...model.versions.values()].map((entry) => this.unloadVersion(model, entry, 'close'))));
    this.deps.models.clear();
  }

  // ---- repository polling ----

  /**
   * Converges every repository-backed model on what the repository says now: new versions
   * the policy allows are loaded, warmed and (unless `autoPromote: false`) made default;
   * versions gone from disk are drained and unloaded; a version that fails to load (half
   * written, bad checksum) is not served and is tried again next time; `manifest.json` pins
   * default, canary and weights.
   */
  async sync(): Promise<SyncResult> {
    const repository = this.deps.repository;
    const result: SyncResult = { loaded: [], unloaded: [], failed: [] };
    if (repository === undefined || this.deps.isClosing()) return result;
    let manifest: Manifest | undefined;
    try {
      manifest = await readManifest(repository.root);
    } catch (error) {
      this.deps.warn(`repository poll: ${(error as Error).message}; the manifest is ignored until it is fixed`, undefined, undefined, error);
    }
    const names = new Set([...[...this.deps.models.values()].filter((m) => m.fromRepository).map((m) => m.name), ...Object.keys(manifest?.models ?? {})]);
    for (const name of names) {
      if (this.deps.isClosing()) break;
      try {
        await this.syncModel(repository, name, manifest?.models[name], result);
      } catch (error) {
        this.deps.warn(`repository poll of '${name}' failed: ${(error as Error).message}`, name, undefined, error);
      }
    }
    return result;
  }

  private async syncModel(repository: ModelRepository, name: string, pinned: ManifestEntry | undefined, result: SyncResult): Promise<void> {
    const available = await repository.listVersions(name).catch((error: unknown) => {
      if (isModelHostError(error, ErrorCode.MODEL_NOT_FOUND)) return [] as number[];
      throw error;
    });
    let model = this.deps.models.get(name);
    // Versions gone from disk: drained, then unloaded.
    if (model !== undefined) {
      for (const entry of [...model.versions.values()]) {
        if (available.includes(entry.version)) continue;
        this.withdraw(model, entry.version);
        await this.unloadVersion(model, entry, 'removed');
        result.unloaded.push(`${name}@${entry.version}`);
      }
      if (model.defaultVersion === undefined && model.newestReady() !== undefined) this.swapDefault(model, model.newestReady()!, false);
    }
    if (available.length === 0) return;
    const raw = await repository.readConfig(name);
    const options = this.resolveOptions(name, raw === undefined ? undefined : validateModelOptions(raw, `${name}/config.json`, this.deps.runtimeNames), undefined);
    const wanted = pinned !== undefined ? pinnedVersions(pinned).filter((v) => available.includes(v)) : selectVersions(available, options.versionPolicy);
    model ??= this.modelFor(name, options, true);
    model.options = options;
    for (const version of wanted) {
      if (model.versions.get(version)?.isReady) continue;
      try {
        await this.acquire(model, version, await repository.versionSource(name, version), true, options);
        result.loaded.push(`${name}@${version}`);
      } catch (error) {
        result.failed.push(`${name}@${version}`);
        this.deps.warn(`model '${name}' v${version} is not served: ${(error as Error).message}; it is tried again on the next poll`, name, version, error);
      }
    }
    if (pinned !== undefined) this.applyManifest(model, pinned);
    else {
      model.manifestApplied = model.manifestRolledBack = undefined;
      this.adoptNewest(model, wanted);
    }
    if (model.versions.size === 0 && this.deps.models.get(name) === model) this.deps.models.delete(name);
  }

  /** TF Serving semantics: the newest version the policy serves becomes the default (or a held candidate). */
  private adoptNewest(model: NamedModel, wanted: readonly number[]): void {
    const ready = wanted.filter((v) => model.versions.get(v)?.isReady);
    if (ready.length === 0) return;
    const newest = Math.max(...ready);
    if (wanted.length > 1) for (const v of ready) model.served.add(v);
    if (model.defaultVersion === undefined) return this.swapDefault(model, newest, false);
    if (newest <= model.defaultVersion || model.candidate === newest || model.history.includes(newest)) return;
    if (!model.options.autoPromote) {
      model.candidate = newest;
      this.trafficChanged(model);
      return;
    }
    const baseline = model.defaultVersion;
    this.swapDefault(model, newest);
    this.startGuard(model, newest, baseline);
  }

  /** Applies a manifest entry when it differs from what serves, unless the guard rolled this very entry back. */
  private applyManifest(model: NamedModel, pinned: ManifestEntry): void {
    const entry = JSON.stringify(pinned);
    if (model.manifestRolledBack === entry) return;
    model.manifestRolledBack = undefined;
    model.manifestApplied = entry;
    const ready = (v: number | undefined) => v !== undefined && model.versions.get(v)?.isReady === true;
    if (ready(pinned.default) && model.defaultVersion !== pinned.default) {
      const baseline = model.defaultVersion;
      this.swapDefault(model, pinned.default!);
      if (baseline !== undefined) this.startGuard(model, pinned.default!, baseline);
    }
    const weights = pinned.weights !== undefined ? new Map(Object.entries(pinned.weights).map(([v, w]) => [Number(v), w] as const)) : undefined;
    if (pinned.canary !== undefined && ready(pinned.canary.version) && model.defaultVersion !== undefined) {
      const wanted = { [model.defaultVersion]: 1 - pinned.canary.weight, [pinned.canary.version]: pinned.canary.weight };
      if (model.candidate !== pinned.canary.version || !sameWeights(model.traffic(), wanted)) {
        model.candidate = pinned.canary.version;
        model.setWeights(new Map(Object.entries(wanted).map(([v, w]) => [Number(v), w] as const)));
        this.startGuard(model, pinned.canary.version, model.defaultVersion);
        this.trafficChanged(model);
      }
    } else if (pinned.canary === undefined && model.candidate !== undefined && pinned.weights === undefined) {
      this.abortCandidate(model, 'the repository manifest no longer pins a canary', false);
    }
    if (weights !== undefined && [...weights.keys()].every((v) => ready(v))) {
      const total = [...weights.values()].reduce((a, b) => a + b, 0);
      const wanted = Object.fromEntries([...weights].map(([v, w]) => [v, w / total]));
      if (total > 0 && !sameWeights(model.traffic(), wanted)) {
        model.setWeights(weights);
        this.trafficChanged(model);
      }
    }
  }

  /**
   * Where requests of a version with an open breaker go instead: the default when the
   * version is a canary, else the most recent earlier default; only a ready one whose own
   * breaker is closed.
   */
  fallbackFor(model: NamedModel, version: number): LoadedVersion | undefined {
    const candidates = version === model.defaultVersion ? [...model.history].reverse() : [model.defaultVersion, ...[...model.history].reverse()];
    for (const v of candidates) {
      if (v === undefined || v === version) continue;
      const entry = model.versions.get(v);
      if (entry?.isReady && !entry.breaker?.rejecting) return entry;
    }
    return undefined;
  }

  rolloutStats(model: NamedModel): RolloutStats {
    const guard = model.guard;
    return {
      candidate: model.candidate,
      traffic: model.traffic(),
      shadow: model.shadowTracker?.stats(),
      guard: guard === undefined ? undefined : { ...guard.state(), active: guard.active() },
    };
  }

  // ---- per-request hooks ----

  /** Labels joined by `host.feedback` to a version's predictions; with an active guard, rolls back on a breach. */
  observeQuality(model: NamedModel, version: number, labels: number, correct: number, absErrorSum: number): void {
    const guard = model.guard;
    if (guard === undefined || !guard.active()) return;
    const verdict = guard.recordQuality(version, labels, correct, absErrorSum);
    if (verdict !== undefined) this.autoRollback(model, guard, verdict.reason);
  }

  /** A finished request of a model with an active guard; rolls back on a breach. */
  observe(model: NamedModel, version: number, totalMs: number, code: string | undefined): void {
    const guard = model.guard;
    if (guard === undefined) return;
    if (!guard.active()) {
      model.guard = undefined;
      return;
    }
    const verdict = guard.record(version, totalMs, code);
    if (verdict !== undefined) this.autoRollback(model, guard, verdict.reason);
  }

  /** Mirrors a request to the shadow version when its share says so; compares answers off the caller's path. */
  mirror(model: NamedModel, inputs: unknown, mode: InputMode, primary: Promise<Record<string, Tensor>>): void {
    const shadow = model.shadow;
    const tracker = model.shadowTracker;
    if (shadow === undefined || tracker === undefined || !tracker.take()) return;
    const entry = model.versions.get(shadow.version);
    if (entry === undefined || !entry.isReady) return;
    const { clock } = this.deps;
    const started = clock.now();
    let shadowed: Promise<Record<string, Tensor>>;
    try {
      // Lowest priority: a shadow never delays the requests callers wait for.
      shadowed = entry.dispatcher!.dispatch(entry.validator!.prepare(inputs, mode), { priority: Number.MIN_SAFE_INTEGER });
    } catch {
      tracker.dropped++;
      return;
    }
    let primaryMs = 0;
    const primaryDone = primary.then((outputs) => {
      primaryMs = clock.now() - started;
      return outputs;
    });
    const shadowDone = shadowed.then((outputs) => ({ outputs, ms: clock.now() - started }));
    Promise.all([primaryDone, shadowDone]).then(
      ([primaryOutputs, { outputs, ms }]) => {
        const { disagreementTolerance, agreement } = model.options.rollout;
        const comparison = compareOutputs(primaryOutputs, outputs, disagreementTolerance, agreement);
        tracker.record(comparison, primaryMs, ms);
        const now = Date.now();
        this.deps.notify('shadowCompared', { model: model.name, version: shadow.version, baseline: model.defaultVersion ?? shadow.version, timestamp: now, ...comparison, primaryMs, shadowMs: ms });
        const guard = model.guard;
        if (guard !== undefined && guard.candidate === shadow.version && guard.active()) {
          const verdict = guard.recordShadow(comparison.agrees);
          if (verdict !== undefined) this.autoRollback(model, guard, verdict.reason);
        }
      },
      (error: unknown) => {
        // The caller's own failure is reported to the caller; a shadow's failure only counts.
        if (isModelHostError(error) && error.version === shadow.version) {
          if (error.code === ErrorCode.QUEUE_FULL) tracker.dropped++;
          else tracker.failed++;
        }
      },
    );
  }

  // ---- internals ----

  private async resolveTargets(
    name: string,
    options: LoadOptions,
  ): Promise<{ targets: { version: number; source: ModelSource; verify: boolean }[]; resolved: ResolvedModelOptions; available: readonly number[] }> {
    const config = options.config === undefined ? undefined : validateModelOptions(options.config, `load('${name}').config`, this.deps.runtimeNames);
    if (options.source !== undefined) {
      const source = await toModelSource(options.source, name);
      return { targets: [{ version: options.version ?? 1, source, verify: source.kind === 'directory' }], resolved: this.resolveOptions(name, undefined, config), available: [] };
    }
    const repository = this.requireRepository(name);
    const raw = await repository.readConfig(name);
    let repoConfig: ModelOptions | undefined;
    try {
      repoConfig = raw === undefined ? undefined : validateModelOptions(raw, `${name}/config.json`, this.deps.runtimeNames);
    } catch (error) {
      throw withoutValue(error);
    }
    const resolved = this.resolveOptions(name, repoConfig, config);
    const available = await repository.listVersions(name);
    const chosen = options.version !== undefined ? available.filter((v) => v === options.version) : selectVersions(available, resolved.versionPolicy);
    if (chosen.length === 0) {
      const what = options.version !== undefined ? `version ${options.version}` : `versions matching ${JSON.stringify(resolved.versionPolicy)}`;
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no ${what} in the repository (on disk: ${available.join(', ') || 'none'})`, {
        model: name,
        version: options.version,
      });
    }
    const targets = await Promise.all(chosen.map(async (version) => ({ version, source: await repository.versionSource(name, version), verify: true })));
    return { targets, resolved, available };
  }

  private resolveOptions(name: string, repoConfig: ModelOptions | undefined, config: ModelOptions | undefined): ResolvedModelOptions {
    const policy = this.deps.repositoryPolicy;
    return resolveModelOptions([policy === undefined ? undefined : { versionPolicy: policy }, this.deps.defaults, repoConfig, this.deps.modelOptions[name], config], this.deps.runtimeNames);
  }

  private modelFor(name: string, options: ResolvedModelOptions, fromRepository: boolean): NamedModel {
    this.assertOpen();
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
    return model;
  }

  /** A ready version of the model: already loaded (taken out of the retained set), or loaded now. */
  private acquire(model: NamedModel, version: number, source: ModelSource, verify: boolean, options: ResolvedModelOptions): Promise<LoadedVersion> {
    const existing = model.versions.get(version);
    if (existing?.isReady) {
      model.retained.delete(version);
      return Promise.resolve(existing);
    }
    const key = `${model.name}@${version}`;
    const pending = this.loads.get(key);
    if (pending !== undefined) return pending;
    const promise = this.loadVersion(model, version, source, verify, options).finally(() => this.loads.delete(key));
    this.loads.set(key, promise);
    return promise;
  }

  private async loadVersion(model: NamedModel, version: number, source: ModelSource, verify: boolean, options: ResolvedModelOptions): Promise<LoadedVersion> {
    const context = { model: model.name, version };
    const key = `${model.name}@${version}`;
    const bytes = await this.makeRoom(model, version, source, options);
    const entry = new LoadedVersion(model.name, version);
    model.versions.set(version, entry);
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
      if (entry.state === 'draining') entry.transition('unloaded');
      else entry.fail(error);
      this.deps.notify('modelLoadFailed', { ...context, timestamp: Date.now(), code: error.code, message: error.message });
      // The response says what failed; the log also says why, in full (`cause`).
      this.deps.log('warn', 'model load failed', { ...context, code: error.code, message: error.message, detail: causeDetail(error) });
      throw error;
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

  private async validateOrUndo(model: NamedModel, version: number, set: ValidationSet | undefined, loadedNow: boolean): Promise<void> {
    if (set === undefined) return;
    const tolerance = set.tolerance ?? 1e-4;
    for (let i = 0; i < set.inputs.length; i++) {
      let problem: string | undefined;
      try {
        const outputs = await this.deps.predictPinned(model.name, version, set.inputs[i]);
        problem = mismatch(outputs, set.expected[i]!, tolerance);
      } catch (error) {
        problem = `it failed: ${(error as Error).message}`;
      }
      if (problem !== undefined) {
        if (loadedNow && model.defaultVersion !== version) await this.unloadVersion(model, model.versions.get(version)!, 'unload').catch(() => undefined);
        throw new ModelHostError(ErrorCode.LOAD_FAILED, `model '${model.name}' v${version} failed validation on example ${i}: ${problem}; the deploy was refused`, { model: model.name, version });
      }
    }
  }

  /** Makes `version` the default with all unpinned traffic; the old default goes to history and stays warm. */
  private swapDefault(model: NamedModel, version: number, pushHistory = true): void {
    const previous = model.defaultVersion;
    const previousCandidate = model.candidate;
    model.retained.delete(version);
    model.defaultVersion = version;
    model.candidate = undefined;
    model.shadow = undefined;
    model.shadowTracker = undefined;
    model.routeAllTo(version);
    if (previous !== undefined && previous !== version) {
      if (pushHistory && model.history[model.history.length - 1] !== previous) {
        model.history.push(previous);
        if (model.history.length > HISTORY_LIMIT) model.history.shift();
      }
      this.demote(model, previous);
    }
    if (previousCandidate !== undefined && previousCandidate !== version) this.demote(model, previousCandidate);
    if (previous !== version) this.deps.notify('versionSwapped', { model: model.name, version, previous, timestamp: Date.now() });
    this.trafficChanged(model);
  }

  private abortCandidate(model: NamedModel, reason: string, automatic: boolean): RollbackResult {
    const from = model.candidate!;
    const version = model.defaultVersion!;
    model.candidate = undefined;
    model.shadow = undefined;
    model.shadowTracker = undefined;
    model.guard = undefined;
    model.routeAllTo(version);
    this.demote(model, from);
    this.trafficChanged(model);
    this.deps.notify('versionRolledBack', { model: model.name, version, from, timestamp: Date.now(), automatic, reason });
    this.deps.log('warn', 'rolled back', { model: model.name, version, from, automatic, reason });
    return { model: model.name, version, from };
  }

  private autoRollback(model: NamedModel, guard: RolloutGuard, reason: string): void {
    if (model.guard !== guard) return; // already handled
    model.guard = undefined;
    // The next poll would apply the manifest again, and the version the guard just took out.
    model.manifestRolledBack = model.manifestApplied;
    const rollback = model.candidate === guard.candidate ? Promise.resolve(this.abortCandidate(model, reason, true)) : model.defaultVersion === guard.candidate ? this.rollback(model.name, reason, true) : undefined;
    rollback?.catch((error: unknown) => this.deps.warn(`automatic rollback of '${model.name}' v${guard.candidate} failed: ${(error as Error).message}`, model.name, guard.candidate, error));
  }

  private startGuard(model: NamedModel, candidate: number, baseline: number | undefined): void {
    model.guard = model.options.rollout.enabled ? new RolloutGuard(model.name, candidate, baseline, model.options.rollout, this.deps.clock) : undefined;
  }

  /** A version without traffic or role is kept warm (LRU of `retainVersions`), or unloaded when none are kept. */
  private demote(model: NamedModel, version: number): void {
    const entry = model.versions.get(version);
    if (entry === undefined || !entry.isReady || model.isInService(version)) return;
    if (model.options.retainVersions === 0) {
      this.unloadVersion(model, entry, 'evicted').catch((error: unknown) => this.deps.warn(`unloading v${version} failed: ${(error as Error).message}`, model.name, version, error));
      return;
    }
    model.retained.set(version, entry);
  }

  /** Takes a version out of every role before it unloads. */
  private withdraw(model: NamedModel, version: number): void {
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

  private async unloadVersion(model: NamedModel, entry: LoadedVersion, reason: 'unload' | 'close' | 'evicted' | 'removed'): Promise<void> {
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

  private trafficChanged(model: NamedModel): void {
    if (model.defaultVersion === undefined) return;
    this.deps.notify('trafficChanged', { model: model.name, version: model.defaultVersion, timestamp: Date.now(), weights: model.traffic() });
  }

  private summary(model: NamedModel): RolloutResult {
    return { model: model.name, version: model.defaultVersion!, candidate: model.candidate, traffic: model.traffic() };
  }

  private requireRepository(name: string): ModelRepository {
    if (this.deps.repository === undefined) {
      throw new ModelHostError(ErrorCode.INVALID_CONFIG, `load('${name}') needs a model repository (new ModelHost({ repository })) or a source (load('${name}', { source }))`, { model: name });
    }
    return this.deps.repository;
  }

  requireModel(name: string): NamedModel {
    const model = this.deps.models.get(name);
    if (model === undefined) throw modelNotFound(name, [...this.deps.models.keys()]);
    return model;
  }

  requireVersion(model: NamedModel, version: number): LoadedVersion {
    const entry = model.versions.get(version);
    if (entry === undefined) throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${model.name}' has no loaded version ${version}`, { model: model.name, version });
    return entry;
  }

  private assertOpen(): void {
    if (this.deps.isClosing()) throw new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down');
  }
}

export function modelNotFound(name: string, loaded: readonly string[]): ModelHostError {
  if (typeof name !== 'string') return new ModelHostError(ErrorCode.INVALID_INPUT, `model name must be a string, got ${typeof name}`);
  return new ModelHostError(ErrorCode.MODEL_NOT_FOUND, `model '${name}' is not loaded (loaded: ${loaded.join(', ') || 'none'}); call host.load('${name}') first`, { model: name });
}

function invalid(model: string, option: string, expected: string, got: unknown): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, `model '${model}': \`${option}\` must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`, { model });
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

/** Why outputs differ from a golden example, or undefined when they match. */
function mismatch(outputs: Record<string, Tensor>, expected: Record<string, unknown>, tolerance: number): string | undefined {
  for (const [name, want] of Object.entries(expected)) {
    const got = outputs[name];
    if (got === undefined) return `output '${name}' is missing (got ${Object.keys(outputs).join(', ')})`;
    const wanted = flatten(want);
    if (wanted.length !== got.data.length) return `output '${name}' has ${got.data.length} elements, expected ${wanted.length}`;
    for (let i = 0; i < wanted.length; i++) {
      const a = Number((got.data as ArrayLike<number | bigint>)[i]);
      const b = Number(wanted[i]);
      if (!(Math.abs(a - b) <= tolerance)) return `output '${name}' element ${i} is ${a}, expected ${b} (tolerance ${tolerance})`;
    }
  }
  return undefined;
}

function pinnedVersions(entry: ManifestEntry): number[] {
  const versions = new Set<number>();
  if (entry.default !== undefined) versions.add(entry.default);
  if (entry.canary !== undefined) versions.add(entry.canary.version);
  for (const v of Object.keys(entry.weights ?? {})) versions.add(Number(v));
  return [...versions];
}

function sameWeights(a: Readonly<Record<number, number>>, b: Readonly<Record<number, number>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (Math.abs((a[Number(k)] ?? 0) - (b[Number(k)] ?? 0)) > 1e-9) return false;
  return true;
}

function flatten(value: unknown): unknown[] {
  if (typeof value === 'object' && value !== null && 'data' in value) return Array.from((value as { data: ArrayLike<unknown> }).data);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>);
  if (Array.isArray(value)) return value.flat(Number.POSITIVE_INFINITY);
  return [value];
}

/** Phase durations in whole ms, for a log line. */
function roundedPhases(phases: LoadPhaseDurations): Record<string, number> {
  return Object.fromEntries(Object.entries(phases).map(([phase, ms]) => [phase, Math.round(ms)]));
}
