import type { Clock } from '../scheduler/clock.js';
import type { NamedModel } from './named-model.js';
import { RolloutGuard } from './rollout-guard.js';

/** How a failed request is classified (docs/observability.md, "Who is blamed"). */
export type Blame = 'request' | 'model';

/**
 * Feeds finished requests of a model under rollout to its guard, and reports a breach
 * once: the guard is detached at once, the rollback itself is an operation on the model's
 * timeline (`onBreach`).
 */
export class GuardWatcher {
  constructor(
    private readonly clock: Clock,
    private readonly onBreach: (model: NamedModel, guard: RolloutGuard, reason: string) => void,
  ) {}

  /** Watches `candidate` against `baseline` when the model's `rollout` guard is on. */
  start(model: NamedModel, candidate: number, baseline: number | undefined): void {
    model.guard = model.options.rollout.enabled ? new RolloutGuard(model.name, candidate, baseline, model.options.rollout, this.clock) : undefined;
  }

  /** A finished request; a failure pinned on the request itself (`blame: 'request'`) says nothing about the version. */
  observe(model: NamedModel, version: number, totalMs: number, code: string | undefined, blame: Blame | undefined): void {
    const guard = model.guard;
    if (guard === undefined || blame === 'request') return;
    if (!guard.active()) {
      model.guard = undefined;
      return;
    }
    const verdict = guard.record(version, totalMs, code);
    if (verdict !== undefined) this.breach(model, guard, verdict.reason);
  }

  /** Labels joined by `host.feedback` to a version's predictions (live quality). */
  observeQuality(model: NamedModel, version: number, labels: number, correct: number, absErrorSum: number): void {
    const guard = model.guard;
    if (guard === undefined || !guard.active()) return;
    const verdict = guard.recordQuality(version, labels, correct, absErrorSum);
    if (verdict !== undefined) this.breach(model, guard, verdict.reason);
  }

  /** A shadow comparison of the guarded candidate. */
  observeShadow(model: NamedModel, version: number, agrees: boolean): void {
    const guard = model.guard;
    if (guard === undefined || guard.candidate !== version || !guard.active()) return;
    const verdict = guard.recordShadow(agrees);
    if (verdict !== undefined) this.breach(model, guard, verdict.reason);
  }

  private breach(model: NamedModel, guard: RolloutGuard, reason: string): void {
    if (model.guard !== guard) return; // already handled
    model.guard = undefined;
    this.onBreach(model, guard, reason);
  }
}
