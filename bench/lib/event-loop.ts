import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Node only accepts whole milliseconds ≥ 1; the finest sampling catches the shortest stalls. */
export const EVENT_LOOP_RESOLUTION_MS = 1;

export interface EventLoopDelay {
  /** Intervals the histogram recorded; a handful over seconds means the loop was starved. */
  readonly samples: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Event-loop delay over one measured window, from `perf_hooks.monitorEventLoopDelay`.
 *
 * The histogram records the interval between two ticks of a libuv timer that repeats every
 * `resolution` ms, so an idle loop reads ≈ resolution; we report the excess (interval −
 * resolution), as load-shedding libraries do. Its first interval after `enable()`/`reset()`
 * is never recorded (it only sets the starting tick), so `start` and `stop` each let the
 * loop turn once: otherwise a loop starved for the whole window would read as idle.
 */
export class EventLoopMonitor {
  private readonly histogram: IntervalHistogram;
  private running = false;

  constructor(readonly resolutionMs: number = EVENT_LOOP_RESOLUTION_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  /** Clears earlier samples and starts recording once the timer has ticked. */
  async start(): Promise<void> {
    this.histogram.reset();
    this.histogram.enable();
    this.running = true;
    await sleep(this.resolutionMs + 1);
  }

  /** Stops recording after one more turn of the loop, so a stall lasting until now is counted. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await sleep(this.resolutionMs + 1);
    this.histogram.disable();
    this.running = false;
  }

  summary(): EventLoopDelay {
    const h = this.histogram;
    const excess = (ns: number) => (h.count === 0 ? Number.NaN : Math.max(0, ns / 1e6 - this.resolutionMs));
    return { samples: h.count, meanMs: excess(h.mean), p50Ms: excess(h.percentile(50)), p99Ms: excess(h.percentile(99)), maxMs: excess(h.max) };
  }
}

/** The worse of two windows (used when one cell is measured in two halves). */
export function worstDelay(a: EventLoopDelay, b: EventLoopDelay): EventLoopDelay {
  const pick = (x: number, y: number) => (Number.isNaN(x) ? y : Number.isNaN(y) ? x : Math.max(x, y));
  return { samples: a.samples + b.samples, meanMs: pick(a.meanMs, b.meanMs), p50Ms: pick(a.p50Ms, b.p50Ms), p99Ms: pick(a.p99Ms, b.p99Ms), maxMs: pick(a.maxMs, b.maxMs) };
}
