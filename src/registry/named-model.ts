import { LRUCache } from 'lru-cache';
import { ErrorCode, ModelHostError } from '../errors/index.js';
import type { LoadedVersion, VersionStatus } from './loaded-version.js';
import type { ModelOptions, ResolvedModelOptions } from './model-options.js';
import type { RolloutGuard } from './rollout-guard.js';
import type { ShadowTracker } from './shadow-tracker.js';
import { TrafficRouter } from './traffic-router.js';

export interface ModelStatus {
  readonly name: string;
  /** The version unpinned requests go to, unless traffic weights split them. */
  readonly defaultVersion: number | undefined;
  /** A deployed version not yet promoted: it takes canary and/or shadow traffic. */
  readonly candidate: number | undefined;
  /** Share of unpinned traffic per version (sums to 1). */
  readonly traffic: Readonly<Record<number, number>>;
  /** The version that receives a mirrored share of requests, and that share. */
  readonly shadow: { readonly version: number; readonly fraction: number } | undefined;
  /** Whether the default version is ready to serve. */
  readonly ready: boolean;
  /** Why the model is not ready (a load failure's message, or the state of its versions); undefined when ready. */
  readonly reason: string | undefined;
  /** What of the repository's `manifest.json` could not be applied to this model. */
  readonly manifestProblem: string | undefined;
  /** Versions known to the host, newest first. */
  readonly versions: readonly VersionStatus[];
}

/**
 * A named model: its loaded versions, the default, traffic weights (canary), a shadow,
 * the history of defaults for rollback, and the warm versions kept for it.
 */
export class NamedModel {
  readonly versions = new Map<number, LoadedVersion>();
  defaultVersion: number | undefined;
  candidate: number | undefined;
  shadow: { version: number; fraction: number } | undefined;
  shadowTracker: ShadowTracker | undefined;
  /** Watches the newest deploy against the version before it, while it is observed. */
  guard: RolloutGuard | undefined;
  /**
   * The last rollout a rollback ended: its requests still running on the rolled-back version
   * are judged against the same baseline (`Rollouts.baselineFor`) while it has no role.
   */
  rolledBack: { readonly candidate: number; readonly baseline: number } | undefined = undefined;
  /** Earlier defaults, the most recent last: where `rollback` goes. */
  readonly history: number[] = [];
  /** Versions the version policy keeps available (for pinned requests) besides the default. */
  readonly served = new Set<number>();
  /** Whether the model was loaded from the repository (so polling manages it). */
  fromRepository = false;
  /**
   * The `config` of the `load` that set `options` (validated), undefined without one: a
   * repository poll resolves the options again with it, the same layers as that load.
   */
  loadConfig: ModelOptions | undefined;
  /** A whole-model unload is draining its versions: requests are told so, not that some version is ready. */
  unloading = false;
  /** What of `manifest.json` could not be applied, set by the repository poll. */
  manifestProblem: string | undefined;
  /** The `manifest.json` entry last applied, as JSON; undefined when the manifest does not pin the model. */
  manifestApplied: string | undefined;
  /**
   * The `manifest.json` entry whose rollout the guard rolled back, as JSON: polls do not apply
   * it again (that would undo the rollback every interval) until the entry changes.
   */
  manifestRolledBack: string | undefined;
  /** Ready versions with no traffic, kept warm for rollback; the least recently used is evicted. */
  private retainedVersions: LRUCache<number, LoadedVersion>;
  private resolved: ResolvedModelOptions;
  private weights = new Map<number, number>();
  private router = new TrafficRouter(this.weights);

  constructor(
    readonly name: string,
    options: ResolvedModelOptions,
    private readonly onEvict: (version: LoadedVersion) => void,
  ) {
    this.resolved = options;
    this.retainedVersions = this.retainedCache(options.retainVersions);
  }

  get options(): ResolvedModelOptions {
    return this.resolved;
  }

  /**
   * New options (a load, a repository poll). A changed `retainVersions` applies at once: the
   * warm versions past a lower bound are evicted (unloaded), least recently used first.
   */
  set options(options: ResolvedModelOptions) {
    this.resolved = options;
    const max = Math.max(1, options.retainVersions);
    if (this.retainedVersions.max === max && (options.retainVersions > 0 || this.retainedVersions.size === 0)) return;
    const previous = this.retainedVersions;
    this.retainedVersions = this.retainedCache(options.retainVersions);
    // None kept (the cache's least bound is 1, so 0 is `demote` unloading at once): every warm one goes.
    if (options.retainVersions === 0) {
      for (const version of [...previous.rvalues()]) if (version !== undefined) this.onEvict(version);
      return;
    }
    // Least recently used first, so a lower bound evicts those.
    for (const version of [...previous.rkeys()]) this.retainedVersions.set(version, previous.peek(version)!);
  }

  /** Ready versions with no traffic, kept warm for rollback (LRU of `retainVersions`). */
  get retained(): LRUCache<number, LoadedVersion> {
    return this.retainedVersions;
  }

  private retainedCache(retainVersions: number): LRUCache<number, LoadedVersion> {
    return new LRUCache<number, LoadedVersion>({
      max: Math.max(1, retainVersions),
      // Only an eviction unloads: taking a version back into service deletes it from here too.
      dispose: (version, _key, reason) => {
        if (reason === 'evict') this.onEvict(version);
      },
    });
  }

  /** The version a request goes to: the pinned one, else by traffic weights. Throws when none can serve. */
  route(pinned: number | undefined, routingKey: string | undefined): LoadedVersion {
    if (pinned !== undefined) {
      const version = this.versions.get(pinned);
      if (version === undefined) {
        throw new ModelHostError(ErrorCode.VERSION_NOT_FOUND, `model '${this.name}' has no loaded version ${pinned} (loaded: ${this.describeVersions()})`, {
          model: this.name,
          version: pinned,
        });
      }
      if (!version.canAnswer) throw version.notReady();
      return version;
    }
    const picked = this.router.sole ?? this.router.pick(routingKey) ?? this.defaultVersion;
    const version = picked === undefined ? undefined : this.versions.get(picked);
    if (version !== undefined && version.canAnswer) return version;
    // A weighted version that is not ready (being replaced, unloaded, stalled): fall back to the default.
    const fallback = this.defaultVersion === undefined ? undefined : this.versions.get(this.defaultVersion);
    if (fallback !== undefined && fallback.canAnswer) return fallback;
    if (fallback?.isReady === true) throw fallback.notReady(); // loaded, but its runs stopped returning: say so
    if (this.unloading) throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${this.name}' is being unloaded`, { model: this.name });
    throw new ModelHostError(ErrorCode.MODEL_NOT_READY, `model '${this.name}' has no ready version (${this.describeVersions()})`, { model: this.name });
  }

  /** Sets traffic weights of unpinned requests (versions without weight get none). */
  setWeights(weights: ReadonlyMap<number, number>): void {
    this.weights = new Map([...weights].filter(([, w]) => w > 0));
    this.router = new TrafficRouter(this.weights);
  }

  /** All unpinned traffic to one version. */
  routeAllTo(version: number | undefined): void {
    this.setWeights(version === undefined ? new Map() : new Map([[version, 1]]));
  }

  /** Normalized share of unpinned traffic per version. */
  traffic(): Record<number, number> {
    return this.router.shares();
  }

  /** Whether a version receives any traffic or role (default, weighted, candidate, shadow). */
  isInService(version: number): boolean {
    return (
      version === this.defaultVersion ||
      version === this.candidate ||
      this.shadow?.version === version ||
      this.served.has(version) ||
      (this.weights.get(version) ?? 0) > 0
    );
  }

  /** The newest ready version (other than `except`, being withdrawn), or undefined. */
  newestReady(except?: ReadonlySet<number>): number | undefined {
    let newest: number | undefined;
    for (const v of this.versions.values()) if (v.isReady && !except?.has(v.version) && (newest === undefined || v.version > newest)) newest = v.version;
    return newest;
  }

  get ready(): boolean {
    return this.defaultVersion !== undefined && this.versions.get(this.defaultVersion)?.canAnswer === true;
  }

  /** Why the model cannot serve: the newest failed load's message, else the state of its versions. */
  notReadyReason(): string {
    const versions = [...this.versions.values()].sort((a, b) => b.version - a.version);
    const stalled = this.defaultVersion === undefined ? undefined : this.versions.get(this.defaultVersion)?.stalled;
    if (stalled !== undefined) return `v${this.defaultVersion} cannot answer: ${stalled}`;
    const failed = versions.find((v) => v.error !== undefined);
    if (failed !== undefined) return `v${failed.version} failed to load: ${failed.error!.message}`;
    return versions.length === 0 ? 'no version loaded' : `no ready default version (${this.describeVersions()})`;
  }

  status(): ModelStatus {
    return {
      name: this.name,
      defaultVersion: this.defaultVersion,
      candidate: this.candidate,
      traffic: this.traffic(),
      shadow: this.shadow === undefined ? undefined : { ...this.shadow },
      ready: this.ready,
      reason: this.ready ? undefined : this.notReadyReason(),
      manifestProblem: this.manifestProblem,
      versions: [...this.versions.values()].sort((a, b) => b.version - a.version).map((v) => v.status()),
    };
  }

  private describeVersions(): string {
    if (this.versions.size === 0) return 'none loaded';
    return [...this.versions.values()].map((v) => `v${v.version} ${v.state}`).join(', ');
  }
}
