import { ErrorCode, isModelHostError } from '../errors/index.js';
import { readManifest, selectVersions, type Manifest, type ManifestEntry, type ModelRepository } from '../repository/index.js';
import { validateModelOptions } from './model-options.js';
import type { NamedModel } from './named-model.js';
import type { RegistryDeps } from './registry-deps.js';
import type { Rollouts } from './rollouts.js';
import type { GuardWatcher } from './guard-watcher.js';
import type { VersionPool } from './version-pool.js';
import { LoadRetries, MAX_POLLS_BETWEEN_TRIES } from './load-retries.js';

export interface SyncResult {
  /** `model@version` loaded by this poll. */
  readonly loaded: string[];
  /** `model@version` unloaded because they left the repository. */
  readonly unloaded: string[];
  /**
   * `model@version` not served because they failed to load: on this poll, or on an earlier one
   * when their files have not changed since (tried again when they change, or after a backoff).
   */
  readonly failed: string[];
}

/** Runs one model's part of a poll on that model's timeline. */
export type OnTimeline = (name: string, work: () => Promise<void>) => Promise<void>;

/**
 * Polling: converges every repository-backed model on what the repository says now. New
 * versions the policy allows load and (unless `autoPromote: false`) become the default; a
 * model or version missing from a readable repository for `removeAfterPolls` polls in a row
 * drains and unloads (a folder renamed away for a moment is not); a version that fails to
 * load is tried again when its files change or after a backoff (`LoadRetries`), and reported
 * once per distinct failure; `manifest.json` pins default, canary and weights, and a manifest that
 * cannot be applied is reported (`warning`, `status().manifestProblem`).
 */
export class RepositorySync {
  /** Consecutive polls each `model` or `model@version` was missing. */
  private readonly missing = new Map<string, number>();
  /** Problems already reported, so a poll every second does not repeat them. */
  private readonly reported = new Map<string, string>();
  private readonly retries = new LoadRetries();

  constructor(
    private readonly deps: RegistryDeps,
    private readonly pool: VersionPool,
    private readonly rollouts: Rollouts,
    private readonly guards: GuardWatcher,
    private readonly onTimeline: OnTimeline,
    /** A model the poll unloaded completely: it stops counting for readiness. */
    private readonly removed: (name: string) => void,
  ) {}

  async sync(): Promise<SyncResult> {
    const repository = this.deps.repository;
    const result: SyncResult = { loaded: [], unloaded: [], failed: [] };
    if (repository === undefined || this.deps.isClosing()) return result;
    let manifest: Manifest | undefined;
    let manifestError: string | undefined;
    try {
      manifest = await readManifest(repository.root);
    } catch (error) {
      manifestError = `manifest.json cannot be read: ${(error as Error).message}`;
      this.reportOnce('manifest', manifestError, () => this.deps.warn(`repository poll: ${manifestError}; the manifest is ignored until it is fixed`, undefined, undefined, error));
    }
    if (manifestError === undefined) this.reported.delete('manifest');
    // Removal needs a readable root that lists the model as gone: an unreadable root proves nothing.
    const listed = await repository.listModels().then((names) => new Set(names), () => undefined);
    const names = new Set([...[...this.deps.models.values()].filter((m) => m.fromRepository).map((m) => m.name), ...Object.keys(manifest?.models ?? {})]);
    for (const name of names) {
      if (this.deps.isClosing()) break;
      try {
        await this.onTimeline(name, () => this.syncModel(repository, name, listed, manifest?.models[name], manifestError, result));
        this.reported.delete(`poll:${name}`);
      } catch (error) {
        if (isModelHostError(error, ErrorCode.CANCELLED) || isModelHostError(error, ErrorCode.SHUTTING_DOWN)) continue;
        // A broken config.json fails every poll the same way: said once, again when it changes.
        const message = `repository poll of '${name}' failed: ${(error as Error).message}`;
        this.reportOnce(`poll:${name}`, message, () => this.deps.warn(message, name, undefined, error));
      }
    }
    return result;
  }

  private async syncModel(repository: ModelRepository, name: string, listed: Set<string> | undefined, pinned: ManifestEntry | undefined, manifestError: string | undefined, result: SyncResult): Promise<void> {
    let model = this.deps.models.get(name);
    if (model !== undefined && !model.fromRepository) return; // loaded from a source meanwhile: not the repository's
    let available: number[] | undefined;
    if (listed === undefined) available = undefined;
    else if (!listed.has(name)) available = [];
    else {
      available = await repository.listVersions(name).catch((error: unknown) => {
        if (isModelHostError(error, ErrorCode.MODEL_NOT_FOUND)) return [] as number[];
        throw error;
      });
    }
    if (model !== undefined && available !== undefined) await this.removeMissing(model, available, result);
    model = this.deps.models.get(name);
    if (available === undefined || available.length === 0) {
      if (available !== undefined) this.retries.retainOnly(name, []);
      if (available !== undefined && model === undefined) this.removed(name);
      return;
    }
    this.missing.delete(name);
    const raw = await repository.readConfig(name);
    // The same layers, in the same order, as the load that made the model: its `config` included.
    const options = this.pool.resolveOptions(name, raw === undefined ? undefined : validateModelOptions(raw, `${name}/config.json`, this.deps.runtimeNames), model?.loadConfig);
    const wanted = pinned !== undefined ? pinnedVersions(pinned).filter((v) => available.includes(v)) : selectVersions(available, options.versionPolicy);
    model ??= this.pool.modelFor(name, options, true, undefined);
    model.options = options;
    this.retries.retainOnly(name, wanted);
    for (const version of wanted) {
      if (model.versions.get(version)?.isReady) continue;
      const key = `${name}@${version}`;
      const fingerprint = await repository.versionFingerprint(name, version).catch(() => '');
      if (!this.retries.shouldTry(key, fingerprint)) {
        result.failed.push(key);
        continue;
      }
      try {
        await this.pool.acquire(model, { version, source: await repository.versionSource(name, version), verify: true }, options);
        this.retries.succeeded(key);
        result.loaded.push(key);
      } catch (error) {
        result.failed.push(key);
        const message = (error as Error).message;
        if (this.retries.recordFailure(key, fingerprint, message)) {
          this.deps.warn(`model '${name}' v${version} is not served: ${message}; it is tried again when its files change, and at least every ${MAX_POLLS_BETWEEN_TRIES} polls`, name, version, error);
        }
      }
    }
    if (pinned !== undefined) this.applyManifest(model, pinned, available);
    else {
      model.manifestProblem = manifestError;
      model.manifestApplied = model.manifestRolledBack = undefined;
      this.adoptNewest(model, wanted);
    }
    this.pool.forgetIfEmpty(model);
  }

  /** Unloads versions missing for `removeAfterPolls` polls in a row; a version back on disk starts over. */
  private async removeMissing(model: NamedModel, available: readonly number[], result: SyncResult): Promise<void> {
    const name = model.name;
    const threshold = this.deps.removeAfterPolls;
    if (available.length === 0) this.missing.set(name, (this.missing.get(name) ?? 0) + 1);
    for (const entry of [...model.versions.values()]) {
      const key = `${name}@${entry.version}`;
      if (available.includes(entry.version)) {
        this.missing.delete(key);
        continue;
      }
      const polls = (this.missing.get(key) ?? 0) + 1;
      if (polls < threshold) {
        this.missing.set(key, polls);
        continue;
      }
      this.missing.delete(key);
      this.pool.withdraw(model, entry.version);
      // The default moves on before the removed version drains, not after.
      const next = model.defaultVersion === undefined ? model.newestReady(new Set([entry.version])) : undefined;
      if (next !== undefined) this.rollouts.swapDefault(model, next, false);
      await this.pool.unloadVersion(model, entry, 'removed');
      result.unloaded.push(key);
    }
    if (model.defaultVersion === undefined && model.newestReady() !== undefined) this.rollouts.swapDefault(model, model.newestReady()!, false);
    if (model.versions.size === 0) {
      this.missing.delete(name);
      this.pool.forgetIfEmpty(model);
    }
  }

  /** TF Serving semantics: the newest version the policy serves becomes the default (or a held candidate). */
  private adoptNewest(model: NamedModel, wanted: readonly number[]): void {
    const ready = wanted.filter((v) => model.versions.get(v)?.isReady);
    if (ready.length === 0) return;
    const newest = Math.max(...ready);
    if (wanted.length > 1) for (const v of ready) model.served.add(v);
    if (model.defaultVersion === undefined) return this.rollouts.swapDefault(model, newest, false);
    if (newest <= model.defaultVersion || model.candidate === newest || model.history.includes(newest)) return;
    if (!model.options.autoPromote) {
      model.candidate = newest;
      this.rollouts.trafficChanged(model);
      return;
    }
    const baseline = model.defaultVersion;
    this.rollouts.swapDefault(model, newest);
    this.guards.start(model, newest, baseline);
  }

  /** Applies a manifest entry when it differs from what serves, unless the guard rolled this very entry back; what it cannot apply is reported. */
  private applyManifest(model: NamedModel, pinned: ManifestEntry, available: readonly number[]): void {
    const ready = (v: number | undefined) => v !== undefined && model.versions.get(v)?.isReady === true;
    const absent = pinnedVersions(pinned).filter((v) => !available.includes(v));
    const broken = pinnedVersions(pinned).filter((v) => available.includes(v) && !ready(v));
    const problems = [
      ...(absent.length > 0 ? [`pins ${absent.map((v) => `v${v}`).join(', ')}, not in the repository (on disk: ${available.join(', ') || 'none'})`] : []),
      ...(broken.length > 0 ? [`pins ${broken.map((v) => `v${v}`).join(', ')}, which failed to load`] : []),
    ];
    const problem = problems.length === 0 ? undefined : `manifest.json ${problems.join('; ')}; that part is not applied`;
    model.manifestProblem = problem;
    if (problem === undefined) this.reported.delete(`manifest:${model.name}`);
    else this.reportOnce(`manifest:${model.name}`, problem, () => this.deps.warn(`model '${model.name}': ${problem}`, model.name, undefined));

    // The guard rolled this very entry back: applying it again every poll would undo that.
    const entry = JSON.stringify(pinned);
    if (model.manifestRolledBack === entry) return;
    model.manifestRolledBack = undefined;
    model.manifestApplied = entry;

    if (ready(pinned.default) && model.defaultVersion !== pinned.default) {
      const baseline = model.defaultVersion;
      this.rollouts.swapDefault(model, pinned.default!);
      if (baseline !== undefined) this.guards.start(model, pinned.default!, baseline);
    }
    const weights = pinned.weights !== undefined ? new Map(Object.entries(pinned.weights).map(([v, w]) => [Number(v), w] as const)) : undefined;
    if (pinned.canary !== undefined && ready(pinned.canary.version) && model.defaultVersion !== undefined) {
      const wanted = { [model.defaultVersion]: 1 - pinned.canary.weight, [pinned.canary.version]: pinned.canary.weight };
      if (model.candidate !== pinned.canary.version || !sameWeights(model.traffic(), wanted)) {
        model.candidate = pinned.canary.version;
        model.setWeights(new Map(Object.entries(wanted).map(([v, w]) => [Number(v), w] as const)));
        this.guards.start(model, pinned.canary.version, model.defaultVersion);
        this.rollouts.trafficChanged(model);
      }
    } else if (pinned.canary === undefined && model.candidate !== undefined && pinned.weights === undefined) {
      this.rollouts.abortCandidate(model, 'the repository manifest no longer pins a canary', false);
    }
    if (weights !== undefined && [...weights.keys()].every((v) => ready(v))) {
      const total = [...weights.values()].reduce((a, b) => a + b, 0);
      const wanted = Object.fromEntries([...weights].map(([v, w]) => [v, w / total]));
      if (total > 0 && !sameWeights(model.traffic(), wanted)) {
        model.setWeights(weights);
        this.rollouts.trafficChanged(model);
      }
    }
  }

  private reportOnce(key: string, problem: string, report: () => void): void {
    if (this.reported.get(key) === problem) return;
    this.reported.set(key, problem);
    report();
  }
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
