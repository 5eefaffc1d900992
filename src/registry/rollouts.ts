import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { SourceInput } from '../host/model-source.js';
import type { Baseline } from '../scheduler/batch-scheduler.js';
import type { Tensor } from '../tensor/index.js';
import type { GuardWatcher } from './guard-watcher.js';
import type { LoadedVersion } from './loaded-version.js';
import type { ModelOptions, ValidationSet } from './model-options.js';
import { checkpoint } from './model-timeline.js';
import type { NamedModel } from './named-model.js';
import type { RegistryDeps } from './registry-deps.js';
import type { GuardState } from './rollout-guard.js';
import { ShadowTracker, type ShadowStats } from './shadow-tracker.js';
import type { VersionPool } from './version-pool.js';

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
  /** The version traffic was taken from (or the version whose deploy the rollback cancelled). */
  readonly from: number;
}

/** What a model's rollout looks like now, for `stats()`. */
export interface RolloutStats {
  readonly candidate: number | undefined;
  readonly traffic: Readonly<Record<number, number>>;
  readonly shadow: ShadowStats | undefined;
  readonly guard: (GuardState & { readonly active: boolean }) | undefined;
}

const HISTORY_LIMIT = 20;

/**
 * Which version serves: the default, canary weights, shadow, the history rollback goes
 * back through. Every change is a synchronous pointer flip made after the last await of
 * an operation, so requests never see half of one.
 */
export class Rollouts {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly pool: VersionPool,
    private readonly guards: GuardWatcher,
  ) {}

  /** Loads (unless ready), validates and routes to `version` on an existing model with a default. */
  async deploy(model: NamedModel, version: number, options: DeployOptions, validation: ValidationSet | undefined, signal: AbortSignal): Promise<RolloutResult> {
    const { canary, shadow } = options;
    const name = model.name;
    if (version === model.defaultVersion && (canary !== undefined || shadow !== undefined)) {
      throw new ModelHostError(ErrorCode.INVALID_INPUT, `model '${name}': \`version\` must be a version other than the default (v${version}) for a canary or shadow, got ${version}`, { model: name });
    }
    const wasLoaded = model.versions.get(version)?.isReady === true;
    await this.undoOnCancel(model, version, !wasLoaded, signal, async () => {
      const { targets, resolved } = await this.pool.resolveTargets(name, { version, source: options.source, config: options.config }, model.loadConfig);
      checkpoint(signal);
      await this.pool.acquire(model, targets[0]!, resolved, signal);
      checkpoint(signal);
      await this.validateOrUndo(model, version, validation, !wasLoaded);
    });

    const previousCandidate = model.candidate;
    if (canary === undefined && shadow === undefined) {
      const baseline = model.defaultVersion;
      this.swapDefault(model, version);
      this.guards.start(model, version, baseline);
    } else {
      model.candidate = version;
      const def = model.defaultVersion!;
      model.setWeights(canary === undefined ? new Map([[def, 1]]) : new Map([[def, 1 - canary], [version, canary]]));
      model.shadow = shadow === undefined ? undefined : { version, fraction: shadow };
      model.shadowTracker = shadow === undefined ? undefined : new ShadowTracker(version, shadow);
      this.guards.start(model, version, def);
      this.trafficChanged(model);
    }
    if (previousCandidate !== undefined && previousCandidate !== version) this.pool.demote(model, previousCandidate);
    this.deps.log('info', 'deployed', { model: name, version, canary, shadow });
    return this.summary(model);
  }

  /**
   * Runs the awaiting part of an operation that brings `version` in; when it is cancelled
   * (or fails) midway, a version it loaded and that took no role is unloaded again.
   */
  async undoOnCancel(model: NamedModel, version: number, loadedNow: boolean, signal: AbortSignal, work: () => Promise<void>): Promise<void> {
    try {
      await work();
      checkpoint(signal);
    } catch (error) {
      const entry = model.versions.get(version);
      if (signal.aborted && entry !== undefined && !model.isInService(version)) {
        if (loadedNow) await this.pool.unloadVersion(model, entry, 'unload').catch(() => undefined);
        else this.pool.demote(model, version);
      }
      throw signal.aborted ? signal.reason : error;
    }
  }

  promote(model: NamedModel): RolloutResult {
    const candidate = model.candidate;
    if (candidate === undefined) throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${model.name}' has no candidate to promote (deploy one with { canary } or { shadow })`, { model: model.name });
    this.swapDefault(model, candidate);
    return this.summary(model);
  }

  setTraffic(model: NamedModel, weights: ReadonlyMap<number, number>): RolloutResult {
    for (const version of weights.keys()) {
      const entry = model.versions.get(version);
      if (entry === undefined || !entry.isReady) {
        throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${model.name}' has no ready version ${version} to send traffic to`, { model: model.name, version });
      }
    }
    const before = Object.keys(model.traffic()).map(Number);
    for (const version of weights.keys()) model.retained.delete(version);
    model.setWeights(weights);
    for (const version of before) if (!weights.has(version)) this.pool.demote(model, version);
    this.trafficChanged(model);
    return this.summary(model);
  }

  /** Back to the previous default (or, during a canary, all traffic back to the default). */
  async rollback(model: NamedModel, reason: string, automatic: boolean, signal: AbortSignal | undefined): Promise<RollbackResult> {
    const name = model.name;
    if (model.candidate !== undefined) return this.abortCandidate(model, reason, automatic);
    let target = model.history.pop();
    while (target !== undefined && target === model.defaultVersion) target = model.history.pop();
    if (target === undefined) {
      throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${name}' has no previous version to roll back to`, { model: name });
    }
    const from = model.defaultVersion!;
    const wasLoaded = model.versions.get(target)?.isReady === true;
    try {
      if (!wasLoaded) {
        // Past what was retained: load it again from the repository.
        const version = target;
        await this.undoOnCancel(model, version, true, signal ?? new AbortController().signal, async () => {
          const { targets, resolved } = await this.pool.resolveTargets(name, { version });
          checkpoint(signal);
          await this.pool.acquire(model, targets[0]!, resolved, signal);
        });
      }
    } catch (error) {
      model.history.push(target);
      throw error;
    }
    this.swapDefault(model, target, false);
    model.guard = undefined;
    model.rolledBack = { candidate: from, baseline: target };
    this.deps.notify('versionRolledBack', { model: name, version: target, from, timestamp: Date.now(), automatic, reason });
    this.deps.log('warn', 'rolled back', { model: name, version: target, from, automatic, reason });
    return { model: name, version: target, from };
  }

  /** Ends a canary or shadow: all traffic back to the default; the candidate is demoted. */
  abortCandidate(model: NamedModel, reason: string, automatic: boolean): RollbackResult {
    const from = model.candidate!;
    const version = model.defaultVersion!;
    model.candidate = undefined;
    model.shadow = undefined;
    model.shadowTracker = undefined;
    model.guard = undefined;
    model.rolledBack = { candidate: from, baseline: version };
    model.routeAllTo(version);
    this.pool.demote(model, from);
    this.trafficChanged(model);
    this.deps.notify('versionRolledBack', { model: model.name, version, from, timestamp: Date.now(), automatic, reason });
    this.deps.log('warn', 'rolled back', { model: model.name, version, from, automatic, reason });
    return { model: model.name, version, from };
  }

  /** Makes `version` the default with all unpinned traffic; the old default goes to history and stays warm. */
  swapDefault(model: NamedModel, version: number, pushHistory = true): void {
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
      this.pool.demote(model, previous);
    }
    if (previousCandidate !== undefined && previousCandidate !== version) this.pool.demote(model, previousCandidate);
    if (previous !== version) this.deps.notify('versionSwapped', { model: model.name, version, previous, timestamp: Date.now() });
    this.trafficChanged(model);
  }

  /** Runs the golden set on `version`; on a mismatch unloads it (when this deploy loaded it) and refuses. */
  async validateOrUndo(model: NamedModel, version: number, set: ValidationSet | undefined, loadedNow: boolean): Promise<void> {
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
        if (loadedNow && model.defaultVersion !== version) await this.pool.unloadVersion(model, model.versions.get(version)!, 'unload').catch(() => undefined);
        throw new ModelHostError(ErrorCode.LOAD_FAILED, `model '${model.name}' v${version} failed validation on example ${i}: ${problem}; the deploy was refused`, { model: model.name, version });
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

  /**
   * The version `version` is judged against while a rollout watches it — the default, for a
   * canary or shadow candidate; the previous default, for a new default its guard still
   * observes; the version a rollback went back to, for a rolled-back one that has no role since
   * (its unpinned requests were routed there during the rollout) — while it is loaded, ready or
   * not (undefined otherwise: no rollout, or a guard that is off or done). A failure on
   * `version` that other inputs survive is the request's only if the baseline fails on its
   * input too, and judged by nobody when the baseline cannot run it (not ready, its breaker
   * open: its own admission says so; docs/observability.md).
   */
  baselineFor(model: NamedModel, version: number): LoadedVersion | undefined {
    let baseline: number | undefined;
    if (version === model.candidate) baseline = model.defaultVersion;
    else if (model.guard !== undefined && model.guard.candidate === version && model.guard.active()) baseline = model.guard.baseline;
    else if (model.rolledBack?.candidate === version && !model.isInService(version)) baseline = model.rolledBack.baseline;
    if (baseline === undefined || baseline === version) return undefined;
    return model.versions.get(baseline);
  }

  /** `baselineFor` as the failing version's scheduler runs it (`BatchSchedulerConfig.baseline`). */
  baseline(entry: LoadedVersion): Baseline | undefined {
    const model = this.deps.models.get(entry.model);
    const baseline = model === undefined ? undefined : this.baselineFor(model, entry.version);
    if (model === undefined || baseline === undefined) return undefined;
    // The failing version's prepared inputs: with a leading batch dimension when it has one.
    const mode = entry.batched ? 'batch' : 'instance';
    return {
      version: baseline.version,
      answers: model.options.breaker.fallback === 'previous-version',
      run: (inputs, options) => {
        // Not ready (loading, draining, its runs stalled): refused here, as its breaker's open state is by its queue.
        if (!baseline.canAnswer || baseline.dispatcher === undefined || baseline.validator === undefined) {
          throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${model.name}' v${baseline.version} is not ready`, { model: model.name, version: baseline.version });
        }
        return baseline.dispatcher.dispatch(baseline.validator.prepare(inputs, mode), options);
      },
    };
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

  trafficChanged(model: NamedModel): void {
    if (model.defaultVersion === undefined) return;
    this.deps.notify('trafficChanged', { model: model.name, version: model.defaultVersion, timestamp: Date.now(), weights: model.traffic() });
  }

  summary(model: NamedModel): RolloutResult {
    return { model: model.name, version: model.defaultVersion!, candidate: model.candidate, traffic: model.traffic() };
  }
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

function flatten(value: unknown): unknown[] {
  if (typeof value === 'object' && value !== null && 'data' in value) return Array.from((value as { data: ArrayLike<unknown> }).data);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>);
  if (Array.isArray(value)) return value.flat(Number.POSITIVE_INFINITY);
  return [value];
}
