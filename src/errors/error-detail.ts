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
