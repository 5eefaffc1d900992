/**
 * The lifecycle of a loaded version (Triton's and TF Serving's model lifecycle):
 *
 *   loading → warming → ready → draining → unloaded
 *      └──────────┴─────→ failed
 *
 * `draining` finishes in-flight work and accepts none; `failed` and `unloaded` are final.
 */
export type VersionState = 'loading' | 'warming' | 'ready' | 'draining' | 'unloaded' | 'failed';

const TRANSITIONS: Readonly<Record<VersionState, readonly VersionState[]>> = Object.freeze({
  loading: ['warming', 'failed', 'draining'],
  warming: ['ready', 'failed', 'draining'],
  ready: ['draining'],
  draining: ['unloaded'],
  unloaded: [],
  failed: [],
});

export function canTransition(from: VersionState, to: VersionState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(from: VersionState, to: VersionState, what: string) {
    super(`${what}: illegal lifecycle transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}
