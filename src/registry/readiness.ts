import type { NamedModel } from './named-model.js';

export interface ReadinessOptions {
  /**
   * `true` (default, Triton's `--strict-readiness`): the host is ready when every model it
   * was asked to serve is ready. `false`: when at least one is (a broken model does not
   * take the replica out).
   */
  strict?: boolean;
  /** Whether a host asked to serve nothing reports ready. Default false: an empty host is not ready. */
  allowEmpty?: boolean;
}

export interface ModelReadiness {
  readonly ready: boolean;
  /** Why it is not ready: the load failure, or the state it is in. */
  readonly reason?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  /** Why the host is not ready, in one line. */
  readonly reason?: string;
  /** Every model the host was asked to serve. */
  readonly models: Readonly<Record<string, ModelReadiness>>;
}

/**
 * What the host was asked to serve, and whether it can: a model counts from the moment
 * `load`, `deploy` or a repository poll takes it on until `unload` or the poll removes it;
 * a load that failed keeps counting (with its reason) until then.
 */
export class Readiness {
  /** Asked-for models that are not (or no longer) in the registry, with why. */
  private readonly failures = new Map<string, string>();
  private readonly strict: boolean;
  private readonly allowEmpty: boolean;

  constructor(options: ReadinessOptions = {}) {
    this.strict = options.strict ?? true;
    this.allowEmpty = options.allowEmpty ?? false;
  }

  /** A load of `name` failed before the model had a registry entry. */
  failed(name: string, reason: string): void {
    this.failures.set(name, reason);
  }

  /** The model is in the registry now, or was unloaded / removed on purpose. */
  settled(name: string): void {
    this.failures.delete(name);
  }

  report(models: ReadonlyMap<string, NamedModel>, closing: boolean): ReadinessReport {
    const each: Record<string, ModelReadiness> = {};
    for (const [name, reason] of this.failures) if (!models.has(name)) each[name] = { ready: false, reason };
    for (const model of models.values()) each[model.name] = model.ready ? { ready: true } : { ready: false, reason: model.notReadyReason() };
    const names = Object.keys(each).sort();
    const notReady = names.filter((n) => !each[n]!.ready);
    let reason: string | undefined;
    if (closing) reason = 'the host is shutting down';
    else if (names.length === 0) reason = this.allowEmpty ? undefined : 'no model to serve (set readiness.allowEmpty to report an empty host ready)';
    else if (this.strict && notReady.length > 0) reason = `not ready: ${notReady.map((n) => `${n} (${each[n]!.reason})`).join(', ')}`;
    else if (!this.strict && notReady.length === names.length) reason = `no model is ready: ${notReady.map((n) => `${n} (${each[n]!.reason})`).join(', ')}`;
    const sorted = Object.fromEntries(names.map((n) => [n, each[n]!]));
    return reason === undefined ? { ready: true, models: sorted } : { ready: false, reason, models: sorted };
  }
}
