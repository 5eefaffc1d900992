/**
 * When a failure is its request's: it must reproduce (docs/observability.md, "Who is blamed").
 *
 * A request that failed on its own while other inputs succeed looks like an input the runtime
 * refuses, and is answered 400; but a runtime that fails at random, whatever the input, makes
 * the same picture often: at a 25% failure rate, a failure, one more failure alone and a probe
 * that succeeds line up for about one failed request in five (bench/false-blame.ts). So the
 * evidence is asked for several times over: the request runs alone again `REPRODUCTIONS` times,
 * each run must fail with the same error, and known-good inputs must succeed after each. An
 * input the runtime refuses passes every round; a failure that does not depend on the input,
 * at a rate p, passes all of them with a chance of (1 − p)^(R+1) · p^R for a request that ran
 * alone (the first probe included), (1 − p)^R · p^R for one the bisection found (its
 * batch-mates' success is the first round's): for R = 3, 0.5% and 0.7% at p = 0.25, 0.01% at
 * p = 0.05, and never above 0.8% and 1.6% whatever p (at p ≈ 0.43 and 0.5: a runtime whose
 * breaker would be open anyway).
 * Each round stops at the first run that says otherwise, so a flaky runtime costs about one
 * extra run per failure, and only a request already pinned pays every round: bounded, each run
 * within `breaker.timeoutMs`, and all rounds together within a share of the version's time
 * (judging-budget.ts: a client sending only inputs the runtime refuses must not buy 6 runs
 * of everyone's slots with each request).
 *
 * Neither Triton, TorchServe nor TF Serving re-runs a failed request to decide: they pass the
 * runtime's own verdict on (TF Serving answers 400 for TensorFlow's INVALID_ARGUMENT) or fail
 * the whole batch with 500. The SPI gives modelhost no such verdict, so it asks the runtime
 * again; when the answers disagree the failure is the model's (500, counted), never the client's.
 */

/** Extra alone runs (each followed by a probe of known-good inputs) a failure must survive to be pinned on its request. */
export const REPRODUCTIONS = 3;

/**
 * What identifies a failure across runs: the error's name, code and message (a runtime that
 * refuses an input says the same thing each time; its message names the input, not the run).
 * Undefined when the thrown value cannot be read: it then matches nothing.
 */
export function failureKey(error: unknown): string | undefined {
  try {
    if (error instanceof Error) return `${error.name}\u0000${String((error as { code?: unknown }).code ?? '')}\u0000${error.message}`;
    return `\u0000\u0000${String(error)}`;
  } catch {
    return undefined;
  }
}

/** Whether two thrown values are the same failure (`failureKey`). */
export function sameFailure(a: unknown, b: unknown): boolean {
  const key = failureKey(a);
  return key !== undefined && key === failureKey(b);
}
