import { MAX_TIMER_MS } from '../errors/index.js';

/**
 * Time as the scheduler sees it. Injectable, so tests drive deadlines and delays without
 * sleeping (dataloader's `batchScheduleFn`, done for timers too).
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * `performance.now()` and Node timers, unref-ed so a pending deadline never keeps a process alive.
 * A delay past the longest Node timer (a caller's `timeoutMs: Infinity`) waits that longest
 * time, not 1 ms (Node's overflow): the callback re-checks the time and arms again.
 */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(callback: () => void, ms: number) {
    const timer = setTimeout(callback, Math.min(ms, MAX_TIMER_MS));
    timer.unref();
    return timer;
  },
  clearTimeout(handle: unknown) {
    clearTimeout(handle as NodeJS.Timeout);
  },
});
