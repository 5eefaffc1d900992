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
