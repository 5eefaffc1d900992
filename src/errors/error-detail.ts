/**
 * The messages of an error's `cause` chain below the error itself: the detail a response
 * leaves out (which file a link pointed to, what a parser choked on) and the host's logger
 * keeps. Undefined when there is none.
 */
export function causeDetail(error: unknown): string[] | undefined {
  const detail: string[] = [];
  let cause = (error as { cause?: unknown } | undefined)?.cause;
  // Bounded: a cause chain may loop.
  for (let depth = 0; cause !== undefined && cause !== null && depth < 8; depth++) {
    detail.push(cause instanceof Error ? cause.message : String(cause));
    cause = (cause as { cause?: unknown }).cause;
  }
  return detail.length === 0 ? undefined : detail;
}

const HOST_WORDED = new WeakSet<object>();

/** Marks an error whose message is modelhost's own words (safe for clients), not a runtime's text. */
export function hostWorded<E extends Error>(error: E): E {
  HOST_WORDED.add(error);
  return error;
}

/** Whether `hostWorded` marked this error. */
export function isHostWorded(error: unknown): boolean {
  return typeof error === 'object' && error !== null && HOST_WORDED.has(error);
}
