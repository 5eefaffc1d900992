import { ErrorCode, isModelHostError } from '../errors/index.js';
import type { InputMode, Tensor } from '../tensor/index.js';
import type { GuardWatcher } from './guard-watcher.js';
import type { NamedModel } from './named-model.js';
import { compareOutputs } from './output-comparison.js';
import type { RegistryDeps } from './registry-deps.js';

/**
 * Shadowing: mirrors a share of a model's requests to its shadow version and compares the
 * answers off the caller's path; the comparison feeds `shadowCompared` and the guard.
 */
export class ShadowMirror {
  constructor(
    private readonly deps: RegistryDeps,
    private readonly guards: GuardWatcher,
  ) {}

  /**
   * Mirrors a request to the shadow version when its share says so. `signal`: the caller's; when
   * it aborts, the mirror goes too (there is no answer left to compare it with).
   */
  mirror(model: NamedModel, inputs: unknown, mode: InputMode, primary: Promise<Record<string, Tensor>>, signal?: AbortSignal): void {
    const shadow = model.shadow;
    const tracker = model.shadowTracker;
    if (shadow === undefined || tracker === undefined || !tracker.take()) return;
    const entry = model.versions.get(shadow.version);
    if (entry === undefined || !entry.isReady) return;
    const { clock } = this.deps;
    const started = clock.now();
    let shadowed: Promise<Record<string, Tensor>>;
    try {
      // Lowest priority: a shadow never delays the requests callers wait for. A failure it is
      // judged on against the default is judged by the default's answer to the caller: the
      // default already ran these inputs, so they are not run there again.
      const mirrorOf = model.defaultVersion === undefined ? undefined : { version: model.defaultVersion, outcome: primary };
      shadowed = entry.dispatcher!.dispatch(entry.validator!.prepare(inputs, mode), { priority: Number.MIN_SAFE_INTEGER, mirrorOf, signal });
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
        this.deps.notify('shadowCompared', { model: model.name, version: shadow.version, baseline: model.defaultVersion ?? shadow.version, timestamp: Date.now(), ...comparison, primaryMs, shadowMs: ms });
        this.guards.observeShadow(model, shadow.version, comparison.agrees);
      },
      (error: unknown) => {
        // The caller's own failure is reported to the caller; a shadow's failure only counts (a
        // mirror cancelled with its caller is no failure of the shadow's).
        if (isModelHostError(error) && error.version === shadow.version && error.code !== ErrorCode.CANCELLED) {
          if (error.code === ErrorCode.QUEUE_FULL) tracker.dropped++;
          else tracker.failed++;
        }
      },
    );
  }
}
