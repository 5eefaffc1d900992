const TIMED_OUT = new WeakSet<object>();

/**
 * Marks the error of a run that got no answer within its time bound (`instances.runTimeoutMs`:
 * an inline run abandoned, a worker terminated; `breaker.timeoutMs`). Such a run is not tried
 * again on the same input to decide whose fault it was: a second hang proves nothing new, and
 * holds a slot (and leaves one more abandoned run) for another whole timeout.
 */
export function runTimedOut<E extends Error>(error: E): E {
  TIMED_OUT.add(error);
  return error;
}

/** Whether `runTimedOut` marked this error. */
export function isRunTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && TIMED_OUT.has(error);
}
