import { systemClock, type Clock } from './clock.js';

const SETTLED = Promise.resolve();

/**
 * Arrival times of requests, read once per burst: every request admitted before the
 * microtask queue drains (callers woken by one promise, requests parsed in one I/O
 * callback) shares the first one's clock read.
 *
 * Why: stats keep each request's queue and total latency, and requests with distinct
 * arrival times cost two histogram records each, per request; requests of one burst share
 * them (one record per batch), and the clock is read once. A shared arrival is earlier
 * than a request's own by the synchronous work done since the burst's first request
 * (typically µs): its queue time reads that much longer, never shorter. Requests with a
 * deadline do not use it: the scheduler reads the clock for each of them, so synchronous work
 * between two calls of one burst (converting a large input) never shortens a deadline.
 *
 * Only the system clock is read per burst: an injected clock (tests) is read per request,
 * so time a test moves between two requests of one tick is seen.
 */
export class ArrivalClock {
  private burst: number | undefined = undefined;
  private readonly endBurst = () => {
    this.burst = undefined;
  };
  private readonly perBurst: boolean;

  constructor(
    private readonly clock: Clock,
    { perBurst = clock === systemClock }: { perBurst?: boolean } = {},
  ) {
    this.perBurst = perBurst;
  }

  /** Milliseconds on the clock: the current burst's arrival time. */
  now(): number {
    if (!this.perBurst) return this.clock.now();
    if (this.burst !== undefined) return this.burst;
    const now = this.clock.now();
    this.burst = now;
    // A reaction on a settled promise, not queueMicrotask: Node's wraps each callback in an
    // AsyncResource and a bound function (~0.1 µs), per burst (per request at one caller).
    void SETTLED.then(this.endBurst);
    return now;
  }
}
