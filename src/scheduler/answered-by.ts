import type { Tensor } from '../tensor/index.js';

/** A request's outputs that several versions made: some rows another version's (a split request whose failed chunk the baseline answered). */
export const SEVERAL_VERSIONS = 0;

/**
 * Outputs a request got from another version than the one it was sent to: the baseline's
 * answer to a canary's failed request (`breaker.fallback: 'previous-version'`). The scheduler
 * resolves the request's promise with them, so they look like its version's own; whoever files
 * answers under a version (the response cache, feedback, samples) asks here first. Weak: the
 * mark goes with the outputs.
 */
const answeredBy = new WeakMap<Readonly<Record<string, Tensor>>, number>();

/** Marks `outputs` as `version`'s answer (`SEVERAL_VERSIONS`: rows of more than one). */
export function markAnsweredBy(outputs: Readonly<Record<string, Tensor>>, version: number): void {
  answeredBy.set(outputs, version);
}

/** The version that made `outputs` when it was not the one the request was sent to (`SEVERAL_VERSIONS` for a mix); undefined when it was. */
export function answeredByOf(outputs: Readonly<Record<string, Tensor>>): number | undefined {
  return answeredBy.get(outputs);
}

/**
 * The version that made a request's outputs when it was not the version the request was sent
 * to: with `breaker.fallback: 'previous-version'`, a rollout's baseline answers a request the
 * new version failed (docs/observability.md, "Judged against the baseline"). `'several'` when
 * the rows came from more than one version (a split `predictBatch`); undefined when the version
 * the request went to made them (the usual case). Protocol adapters name it in their answer's
 * `model_version`.
 */
export function fallbackVersionOf(outputs: Readonly<Record<string, Tensor>>): number | 'several' | undefined {
  const version = answeredBy.get(outputs);
  return version === SEVERAL_VERSIONS ? 'several' : version;
}
