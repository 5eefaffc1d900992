/**
 * Who listens to `requestSampled`, as the monitor needs to know it: nobody (nothing is copied
 * and no event is built), only listeners that borrow the sample (they read it during the call
 * and copy what they keep, as the JSON-lines sink does into its ring or its line: they get the
 * request's own outputs), or at least one that may keep it (every listener then gets copies,
 * made once per sample). Inputs are copied on arrival for any listener: the caller's arrays
 * may change while the request is in flight.
 */
export type SampleListeners = 'none' | 'borrowing' | 'keeping';

const borrowing = new WeakSet<object>();

/**
 * Marks a `requestSampled` listener as one that reads each sample only during the call and
 * keeps nothing of it (its tensors may be the request's own, valid only then). Internal: a
 * listener a user adds is never marked, so it always gets copies it may keep.
 */
export function borrowsSamples<L extends object>(listener: L): L {
  borrowing.add(listener);
  return listener;
}

/** What `listeners` (a host's `requestSampled` listeners) need of a sample. */
export function sampleListeners(listeners: readonly unknown[]): SampleListeners {
  if (listeners.length === 0) return 'none';
  for (const listener of listeners) if (!borrowing.has(listener as object)) return 'keeping';
  return 'borrowing';
}
