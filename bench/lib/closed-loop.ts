import { cpuShareSince, cpuSnapshot, mergeCpuShares, type CpuShare } from './cpu-contention.js';
import { EventLoopMonitor, worstDelay, type EventLoopDelay } from './event-loop.js';
import { summarize, type Summary } from './stats.js';

/** How long a phase lasts: until `ms` have passed or `requests` were sent, whichever comes first. */
export interface Budget {
  readonly ms?: number;
  readonly requests?: number;
}

export interface ClosedLoopOptions {
  /** Callers, each with at most one request outstanding. */
  readonly concurrency: number;
  /** One request of caller `caller`; may return a value or a promise (a sync runtime call is fine). */
  readonly request: (caller: number) => unknown;
  readonly warmup: Budget;
  readonly measure: Budget;
  /** Rows one request carries, for rows/s (1 for single-row callers, the batch size for batches). */
  readonly rowsPerRequest?: number;
  /** Called right before / after the measured phase, e.g. to count only measured batches. */
  readonly onMeasureStart?: () => void;
  readonly onMeasureEnd?: () => void;
  /**
   * Let the event loop turn once (setImmediate) between sending a request and running it,
   * as if every request arrived by I/O; the wait counts in its latency. Without it, callers
   * of a synchronous runtime (tfjs) chain their calls through promises and never yield:
   * timers, I/O and the event-loop monitor starve for the whole window. Default true.
   */
  readonly yieldBetween?: boolean;
  /** Give up waiting for outstanding requests after this long (a hung request must not hang the bench). */
  readonly drainTimeoutMs?: number;
}

export interface ClosedLoopResult {
  readonly concurrency: number;
  /** Requests that completed in the measured phase (failures excluded). */
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** From the first measured request sent to the last one settled. */
  readonly elapsedMs: number;
  readonly requestsPerSec: number;
  readonly rowsPerSec: number;
  /** Per-request latency (send → result) in ms. */
  readonly latency: Summary;
  readonly eventLoop: EventLoopDelay;
  /** CPU other processes took during the measured phase (undefined off Linux). */
  readonly cpu: CpuShare | undefined;
  /** Raw latencies, kept so two halves of one cell can be merged; left out of JSON. */
  readonly samples: readonly number[];
}

const now = () => performance.now();

/**
 * Closed-loop load: `concurrency` callers each send a request, await its result, and send
 * the next, so the offered load adapts to the server (no coordinated-omission queue of
 * requests that were never sent). Warmup and measurement are separate runs with a drain
 * between them: nothing from warmup leaks into the measured numbers, and the event-loop
 * monitor starts on an idle loop.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  if (!(options.concurrency >= 1)) throw new Error(`concurrency must be ≥ 1, got ${options.concurrency}`);
  await runPhase(options, options.warmup);
  const monitor = new EventLoopMonitor();
  await monitor.start();
  options.onMeasureStart?.();
  const cpuStart = cpuSnapshot();
  const phase = await runPhase(options, options.measure);
  const cpu = cpuShareSince(cpuStart);
  options.onMeasureEnd?.();
  await monitor.stop();
  const rows = options.rowsPerRequest ?? 1;
  const seconds = phase.elapsedMs / 1000;
  return {
    concurrency: options.concurrency,
    requests: phase.samples.length,
    errors: phase.errors,
    firstError: phase.firstError,
    elapsedMs: phase.elapsedMs,
    requestsPerSec: phase.samples.length / seconds,
    rowsPerSec: (phase.samples.length * rows) / seconds,
    latency: summarize(phase.samples),
    eventLoop: monitor.summary(),
    cpu,
    samples: phase.samples,
  };
}

/** Runs the load without measuring it: JIT, wasm tier-up and runtime caches settle first. */
export async function warmUp(options: Pick<ClosedLoopOptions, 'concurrency' | 'request' | 'drainTimeoutMs' | 'yieldBetween'>, budget: Budget): Promise<void> {
  await runPhase({ ...options, warmup: budget, measure: budget }, budget);
}

/** One side of a cell measured in several runs (interleaved with the other sides, so drift hits all alike). */
export function mergeResults(parts: readonly ClosedLoopResult[], rowsPerRequest = 1): ClosedLoopResult {
  const first = parts[0];
  if (first === undefined) throw new Error('mergeResults needs at least one result');
  const samples = parts.flatMap((p) => p.samples);
  const elapsedMs = parts.reduce((sum, p) => sum + p.elapsedMs, 0);
  const seconds = elapsedMs / 1000;
  return {
    concurrency: first.concurrency,
    requests: samples.length,
    errors: parts.reduce((sum, p) => sum + p.errors, 0),
    firstError: parts.find((p) => p.firstError !== undefined)?.firstError,
    elapsedMs,
    requestsPerSec: samples.length / seconds,
    rowsPerSec: (samples.length * rowsPerRequest) / seconds,
    latency: summarize(samples),
    eventLoop: parts.slice(1).reduce((worst, p) => worstDelay(worst, p.eventLoop), first.eventLoop),
    cpu: mergeCpuShares(parts.map((p) => ({ share: p.cpu, ms: p.elapsedMs }))),
    samples,
  };
}

interface PhaseResult {
  samples: number[];
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

async function runPhase(options: ClosedLoopOptions, budget: Budget): Promise<PhaseResult> {
  const { request, concurrency } = options;
  const maxRequests = budget.requests ?? Number.POSITIVE_INFINITY;
  const maxMs = budget.ms ?? Number.POSITIVE_INFINITY;
  if (maxRequests === Number.POSITIVE_INFINITY && maxMs === Number.POSITIVE_INFINITY) throw new Error('a budget needs ms or requests');
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  let lastSettled = 0;
  const started = now();
  const deadline = started + maxMs;

  const yieldBetween = options.yieldBetween ?? true;
  // Callers that send in the same tick share one turn, like requests read in one I/O poll:
  // one setImmediate per wave instead of one per request keeps the harness's own cost low.
  let nextTurn: Promise<void> | undefined;
  const turn = () =>
    (nextTurn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        nextTurn = undefined;
        resolve();
      }),
    ));
  const caller = async (id: number): Promise<void> => {
    // Two clock reads per request: a request is sent when the previous one settled (its t1).
    let t0 = now();
    while (sent < maxRequests && t0 < deadline) {
      sent++;
      try {
        // The request is sent at t0 and picked up on the next turn, as if it came in by I/O.
        if (yieldBetween) await turn();
        await request(id);
        const t1 = now();
        samples.push(t1 - t0);
        lastSettled = t1;
      } catch (error) {
        errors++;
        firstError ??= (error as Error)?.message ?? String(error);
        lastSettled = now();
      }
      t0 = lastSettled;
    }
  };
  const callers = Promise.all(Array.from({ length: concurrency }, (_, id) => caller(id)));
  // A request-count budget has no natural end time: cap it anyway (setTimeout(Infinity) fires at once).
  const limit = Number.isFinite(maxMs) ? maxMs + (options.drainTimeoutMs ?? 30_000) : 10 * 60_000;
  await withTimeout(callers, limit);
  return { samples, errors, firstError, elapsedMs: Math.max(lastSettled, started) - started };
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`requests still outstanding after ${Math.round(ms)} ms`)), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
