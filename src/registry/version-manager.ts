import { checkObject, ErrorCode, ModelHostError, show } from '../errors/index.js';
import { assertModelName, assertVersion, parseVersion } from '../repository/index.js';
import type { InputMode, Tensor } from '../tensor/index.js';
import type { Baseline } from '../scheduler/batch-scheduler.js';
import type { SourceInput } from '../host/model-source.js';
import { GuardWatcher, type Blame } from './guard-watcher.js';
import type { LoadedVersion } from './loaded-version.js';
import { validateValidationSet, type ModelOptions, type ResolvedModelOptions, type ValidationSet } from './model-options.js';
import { checkpoint, ModelTimeline, type Operation, type OperationKind } from './model-timeline.js';
import type { NamedModel } from './named-model.js';
import { Readiness, type ReadinessOptions, type ReadinessReport } from './readiness.js';
import type { RegistryDeps } from './registry-deps.js';
import { RepositorySync, type SyncResult } from './repository-sync.js';
import type { RolloutGuard } from './rollout-guard.js';
import { Rollouts, type DeployOptions, type RollbackResult, type RolloutResult, type RolloutStats } from './rollouts.js';
import { ShadowMirror } from './shadow-mirror.js';
import { fallbackVersions } from './version-fallback.js';
import { VersionPool } from './version-pool.js';

export type { DeployOptions, RollbackResult, RolloutResult, RolloutStats, SyncResult };

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

/**
 * The model registry's control path. Every operation on a model (load, unload, deploy,
 * promote, traffic, rollback, a repository poll) runs on that model's timeline, one after
 * another, and may cancel an earlier one it makes moot (docs/versions.md). The work itself
 * lives with its concern: `VersionPool` (loading, retained versions, memory budget),
 * `Rollouts` (default, canary, rollback), `GuardWatcher` (the rollout guard),
 * `ShadowMirror` (shadowing) and `RepositorySync` (polling).
 */
export class VersionManager {
  readonly pool: VersionPool;
  private readonly timeline = new ModelTimeline();
  private readonly rollouts: Rollouts;
  private readonly guards: GuardWatcher;
  private readonly shadows: ShadowMirror;
  private readonly repositorySync: RepositorySync;
  private readonly readiness: Readiness;

  constructor(
    private readonly deps: RegistryDeps,
    readiness: ReadinessOptions = {},
  ) {
    this.pool = new VersionPool(deps);
    this.guards = new GuardWatcher(deps.clock, (model, guard, reason) => this.autoRollback(model, guard, reason));
    this.rollouts = new Rollouts(deps, this.pool, this.guards);
    this.shadows = new ShadowMirror(deps, this.guards);
    this.readiness = new Readiness(readiness);
    this.repositorySync = new RepositorySync(deps, this.pool, this.rollouts, this.guards, (name, work) => this.onTimeline(name, 'poll', undefined, work), (name) =>
      this.readiness.settled(name),
    );
  }

  get budget() {
    return this.pool.budget;
  }

  // ---- operations ----

  load(name: string, options: LoadOptions = {}): Promise<LoadResult> {
    const check = () => {
      // A JavaScript caller's typo (`{ batching: … }` where `{ config: { batching: … } }` was meant) is refused, not ignored.
      checkObject(options, `load('${name}') options`, LOAD_OPTIONS);
      if (options.version !== undefined) assertVersion(options.version, name);
    };
    return this.operation(name, 'load', options.version, check, async (signal) => {
      try {
        const result = await this.loadNow(name, options, signal);
        this.readiness.settled(name);
        return result;
      } catch (error) {
        if (!signal.aborted && !this.deps.models.has(name)) this.readiness.failed(name, (error as Error).message);
        throw error;
      }
    });
  }

  deploy(name: string, version: number, options: DeployOptions = {}): Promise<RolloutResult> {
    let given: ValidationSet | undefined;
    const check = () => {
      assertVersion(version, name);
      checkObject(options, `deploy('${name}') options`, DEPLOY_OPTIONS);
      const { canary, shadow } = options;
      if (canary !== undefined && !(typeof canary === 'number' && canary > 0 && canary < 1)) throw invalid(name, 'canary', 'a share between 0 and 1 (exclusive)', canary);
      if (shadow !== undefined && !(typeof shadow === 'number' && shadow > 0 && shadow <= 1)) throw invalid(name, 'shadow', 'a share above 0, at most 1', shadow);
      given = options.validate === false || options.validate === undefined ? undefined : validateValidationSet(options.validate, `deploy('${name}').validate`);
    };
    return this.operation(name, 'deploy', version, check, async (signal) => {
      const existing = this.deps.models.get(name);
      if (existing === undefined || existing.defaultVersion === undefined) {
        // A first deploy is a load of that version.
        await this.loadNow(name, { version, source: options.source, config: options.config }, signal);
        const model = this.deps.models.get(name)!;
        await this.rollouts.undoOnCancel(model, version, true, signal, () => this.rollouts.validateOrUndo(model, version, options.validate === false ? undefined : (given ?? model.options.validate), true));
        this.readiness.settled(name);
        return this.rollouts.summary(model);
      }
      return this.rollouts.deploy(existing, version, options, options.validate === false ? undefined : (given ?? existing.options.validate), signal);
    });
  }

  promote(name: string): Promise<RolloutResult> {
    return this.operation(name, 'promote', undefined, undefined, async () => this.rollouts.promote(this.requireModel(name)));
  }

  setTraffic(name: string, weights: Readonly<Record<number, number>>): Promise<RolloutResult> {
    const next = new Map<number, number>();
    const named: number[] = [];
    const check = () => {
      // A Map's or an array's entries are not its weights (a Map read as {} said "at least one positive weight").
      if (typeof weights !== 'object' || weights === null || weights instanceof Map || Array.isArray(weights)) {
        const got = weights instanceof Map ? 'a Map' : Array.isArray(weights) ? 'an array' : show(weights);
        throw new ModelHostError(ErrorCode.INVALID_INPUT, `model '${name}': \`weights\` must be an object { [version]: weight }, got ${got}`, { model: name });
      }
      for (const [key, weight] of Object.entries(weights)) {
        // Keys are text: only the canonical spelling names a version, so `01` and `1` never both reach v1.
        const version = parseVersion(key);
        if (version === undefined) throw invalid(name, 'weights', 'keyed by versions in canonical decimal form (1, 2, …)', key);
        if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw invalid(name, `weights[${key}]`, 'a finite number ≥ 0', weight);
        named.push(version);
        if (weight > 0) next.set(version, weight);
      }
    };
    return this.operation(name, 'traffic', undefined, check, async () => {
      const model = this.requireModel(name);
      for (const version of named) {
        if (model.versions.get(version)?.isReady !== true) {
          throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no ready version ${version} to send traffic to`, { model: name, version });
        }
      }
      if (next.size === 0) throw invalid(name, 'weights', 'at least one positive weight', weights);
      return this.rollouts.setTraffic(model, next);
    });
  }

  /**
   * Back to the previous default, or the end of a canary. A rollback issued while a deploy
   * is queued or loading cancels that deploy instead (its version never takes traffic) and
   * changes nothing else.
   */
  rollback(name: string): Promise<RollbackResult> {
    return this.operation(name, 'rollback', undefined, undefined, async (_signal, cancelled) => {
      const model = this.requireModel(name);
      const deploy = cancelled.find((op) => op.kind === 'deploy');
      if (deploy !== undefined) {
        if (model.defaultVersion === undefined) throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}': the deploy of v${deploy.version} was cancelled; there is no earlier version to serve`, { model: name });
        this.deps.notify('versionRolledBack', { model: name, version: model.defaultVersion, from: deploy.version!, timestamp: Date.now(), automatic: false, reason: 'manual rollback during the deploy' });
        return { model: name, version: model.defaultVersion, from: deploy.version! };
      }
      return this.rollouts.rollback(model, 'manual rollback', false, undefined);
    });
  }

  /**
   * Unloads one version, or the whole model (pending requests settle first). It cancels the
   * model's earlier operations it makes moot, so an unload during a first load leaves the
   * model unloaded.
   */
  unload(name: string, version?: number): Promise<void> {
    const check = () => {
      if (version !== undefined) assertVersion(version, name);
      // Nothing loaded, nothing on the way, no failure to clear: a typo, said at once.
      if (!this.deps.models.has(name) && this.timeline.pending(name).length === 0 && !Object.hasOwn(this.readiness.report(this.deps.models, false).models, name)) this.requireModel(name);
    };
    return this.operation(name, 'unload', version, check, async () => {
      const model = this.deps.models.get(name);
      if (model === undefined) {
        if (version === undefined) this.readiness.settled(name);
        return;
      }
      const targets = version === undefined ? [...model.versions.values()] : [this.requireVersion(model, version)];
      // While its versions drain, requests hear that the model is being unloaded.
      if (version === undefined) model.unloading = true;
      // Stop routing to them first, so nothing new arrives while they drain, and hand the
      // default to the newest version that stays now: a pointer flip, not a gap as long as the drain.
      for (const target of targets) this.pool.withdraw(model, target.version);
      if (model.defaultVersion === undefined) {
        const next = model.newestReady(new Set(targets.map((t) => t.version)));
        if (next !== undefined) this.rollouts.swapDefault(model, next, false);
      }
      try {
        await Promise.all(targets.map((target) => this.pool.unloadVersion(model, target, 'unload')));
      } finally {
        model.unloading = false;
      }
      if (model.defaultVersion === undefined) {
        const next = model.newestReady();
        if (next !== undefined) this.rollouts.swapDefault(model, next, false);
      }
      this.pool.forgetIfEmpty(model);
      if (!this.deps.models.has(name)) this.readiness.settled(name);
    });
  }

  /** Cancels every pending operation, waits for them, then unloads everything (host close). */
  async unloadAll(): Promise<void> {
    await this.timeline.cancelAll(new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down'));
    await this.pool.unloadAll();
  }

  /** One repository poll; each model's part runs on its timeline. */
  sync(): Promise<SyncResult> {
    return this.repositorySync.sync();
  }

  // ---- reads and per-request hooks ----

  readinessReport(closing: boolean): ReadinessReport {
    return this.readiness.report(this.deps.models, closing);
  }

  fallbackFor(model: NamedModel, version: number): LoadedVersion | undefined {
    return this.rollouts.fallbackFor(model, version);
  }

  /** What a failure on `entry` is judged against while a rollout watches it (`Rollouts.baseline`). */
  baseline(entry: LoadedVersion): Baseline | undefined {
    return this.rollouts.baseline(entry);
  }

  rolloutStats(model: NamedModel): RolloutStats {
    return this.rollouts.rolloutStats(model);
  }

  /** A finished request of a model with an active guard; a breach rolls back (on the model's timeline). */
  observe(model: NamedModel, version: number, totalMs: number, code: string | undefined, blame?: Blame): void {
    this.guards.observe(model, version, totalMs, code, blame);
  }

  /** Labels joined by `host.feedback` to a version's predictions; with an active guard, a breach rolls back. */
  observeQuality(model: NamedModel, version: number, labels: number, correct: number, absErrorSum: number): void {
    this.guards.observeQuality(model, version, labels, correct, absErrorSum);
  }

  mirror(model: NamedModel, inputs: unknown, mode: InputMode, primary: Promise<Record<string, Tensor>>, signal: AbortSignal | undefined): void {
    this.shadows.mirror(model, inputs, mode, primary, signal);
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

  // ---- internals ----

  /** Checks the arguments at once (`check`), then runs `work` on the model's timeline. */
  private operation<T>(name: string, kind: OperationKind, version: number | undefined, check: (() => void) | undefined, work: (signal: AbortSignal, cancelled: readonly Operation[]) => Promise<T>): Promise<T> {
    try {
      this.assertOpen();
      assertModelName(name);
      check?.();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.timeline.run(name, { kind, version, automatic: false }, async (signal, cancelled) => {
      this.assertOpen();
      return work(signal, cancelled);
    });
  }

  private onTimeline(name: string, kind: OperationKind, version: number | undefined, work: () => Promise<void>): Promise<void> {
    return this.timeline.run(name, { kind, version, automatic: false }, async () => work());
  }

  /** The body of `load`, also a first `deploy`: loads the targets, the newest (or the asked version) becomes the default. */
  private async loadNow(name: string, options: LoadOptions, signal: AbortSignal): Promise<LoadResult> {
    const { targets, resolved, available, config } = await this.pool.resolveTargets(name, options);
    checkpoint(signal);
    const model = this.pool.modelFor(name, resolved, options.source === undefined, config);
    const loaded: number[] = [];
    /** Versions this call brought in (not already ready): what a cancellation takes away again. */
    const loadedNow: number[] = [];
    let firstError: unknown;
    try {
      for (const target of targets) {
        try {
          const wasReady = model.versions.get(target.version)?.isReady === true;
          await this.pool.acquire(model, target, resolved, signal);
          loaded.push(target.version);
          if (!wasReady) loadedNow.push(target.version);
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          firstError ??= error;
        }
      }
      if (firstError !== undefined && options.version === undefined) await this.fallBack(model, targets.map((t) => t.version), available, loaded, loadedNow, resolved, firstError, signal);
      checkpoint(signal);
    } catch (error) {
      // Cancelled: what this load brought in and nothing uses goes again.
      for (const version of loadedNow) {
        const entry = model.versions.get(version);
        if (entry !== undefined && !model.isInService(version)) await this.pool.unloadVersion(model, entry, 'unload').catch(() => undefined);
      }
      this.pool.forgetIfEmpty(model);
      throw error;
    }
    if (loaded.length === 0) {
      this.pool.forgetIfEmpty(model);
      throw firstError;
    }
    if (firstError !== undefined) this.deps.warn(`model '${name}': some versions failed to load: ${(firstError as Error).message}`, name, undefined, firstError);
    // When the policy selects several versions, all stay available (for pinned requests), not only the default.
    if (loaded.length > 1) for (const version of loaded) model.served.add(version);
    const next = options.version ?? Math.max(...loaded);
    if (model.defaultVersion !== next || model.candidate !== undefined) this.rollouts.swapDefault(model, next);
    return { model: name, version: next, versions: loaded.sort((a, b) => b - a) };
  }

  /** `{ latest: N }` with versions that failed: the newest older versions that load take their place, with a warning. */
  private async fallBack(
    model: NamedModel,
    selected: readonly number[],
    available: readonly number[],
    loaded: number[],
    loadedNow: number[],
    options: ResolvedModelOptions,
    cause: unknown,
    signal: AbortSignal,
  ): Promise<void> {
    const repository = this.deps.repository;
    if (repository === undefined) return;
    const failed = selected.filter((v) => !loaded.includes(v));
    for (const version of fallbackVersions(available, selected, options.versionPolicy)) {
      if (loaded.length >= selected.length) break;
      checkpoint(signal);
      try {
        const wasReady = model.versions.get(version)?.isReady === true;
        await this.pool.acquire(model, { version, source: await repository.versionSource(model.name, version), verify: true }, options, signal);
        loaded.push(version);
        if (!wasReady) loadedNow.push(version);
        this.deps.warn(
          `model '${model.name}': v${failed.join(', v')} failed to load (${(cause as Error).message}); serving v${version}, the newest version that loads; v${failed.join(', v')} is tried again on the next repository poll or load()`,
          model.name,
          version,
          cause,
        );
      } catch {
        if (signal.aborted) throw signal.reason;
        // older and broken too: keep looking
      }
    }
  }

  /** The guard saw a breach: the rollback is an operation like any other, after what is running. */
  private autoRollback(model: NamedModel, guard: RolloutGuard, reason: string): void {
    // The next poll would apply the manifest again, and the version the guard just took out.
    model.manifestRolledBack = model.manifestApplied;
    this.timeline
      .run(model.name, { kind: 'rollback', version: guard.candidate, automatic: true }, async () => {
        if (this.deps.models.get(model.name) !== model) return;
        if (model.candidate === guard.candidate) this.rollouts.abortCandidate(model, reason, true);
        else if (model.defaultVersion === guard.candidate) await this.rollouts.rollback(model, reason, true, undefined);
      })
      .catch((error: unknown) => this.deps.warn(`automatic rollback of '${model.name}' v${guard.candidate} failed: ${(error as Error).message}`, model.name, guard.candidate, error));
  }

  private assertOpen(): void {
    if (this.deps.isClosing()) throw new ModelHostError(ErrorCode.SHUTTING_DOWN, 'the model host is shutting down');
  }
}

export function modelNotFound(name: string, loaded: readonly string[]): ModelHostError {
  if (typeof name !== 'string') return new ModelHostError(ErrorCode.INVALID_INPUT, `model name must be a string, got ${typeof name}`);
  return new ModelHostError(ErrorCode.MODEL_NOT_FOUND, `model '${name}' is not loaded (loaded: ${loaded.join(', ') || 'none'}); call host.load('${name}') first`, { model: name });
}

/** The keys `load` and `deploy` take (their interfaces above and in rollouts.ts). */
const LOAD_OPTIONS: readonly (keyof LoadOptions)[] = ['version', 'source', 'config'];
const DEPLOY_OPTIONS: readonly (keyof DeployOptions)[] = ['canary', 'shadow', 'source', 'config', 'validate'];

function invalid(model: string, option: string, expected: string, got: unknown): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, `model '${model}': \`${option}\` must be ${expected}, got ${show(got)}`, { model });
}
