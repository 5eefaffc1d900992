/**
 * "Who blocks the event loop": one caller runs a raw runtime call back to back, awaiting
 * each, and lets the loop turn once (setImmediate) between calls, as a service handling one
 * request after another would. `monitorEventLoopDelay` (1 ms timer, Node's finest) records
 * how late the loop's timers fire meanwhile: a call that runs synchronously on the main
 * thread for X ms delays them by ~X ms; one that runs elsewhere (a thread pool) does not.
 */
import { runClosedLoop, type Budget, type ClosedLoopResult } from '../lib/closed-loop.js';
import type { CpuShare } from '../lib/cpu-contention.js';
import type { EventLoopDelay } from '../lib/event-loop.js';
import { summarize, type Summary } from '../lib/stats.js';

export interface BlockingProbe {
  /** What ran: runtime, backend, model, batch. */
  readonly label: string;
  readonly runtime: string;
  readonly model: string;
  readonly batch: number;
}

export interface BlockingResult extends BlockingProbe {
  readonly calls: number;
  /** Duration of one call as its caller sees it (ms): from calling it to its result. */
  readonly callMs: Summary;
  /** Event-loop delay beyond the 1 ms sampling interval while the calls ran. */
  readonly loop: EventLoopDelay;
  /** Timer ticks expected in the window (elapsed ÷ 1 ms) vs recorded: few recorded = loop starved. */
  readonly expectedTicks: number;
  readonly elapsedMs: number;
  readonly cpu: CpuShare | undefined;
  /** Where it ran: the main process, or a child process of its own (tfjs cpu). */
  readonly where: string;
}

const now = () => performance.now();

/** Runs `call` back to back for the budget, after an unmeasured warmup, and reports call time and loop delay. */
export async function probeBlocking(
  probe: BlockingProbe,
  call: () => unknown,
  budget: { warmup: Budget; measure: Budget },
  where = 'main process',
): Promise<BlockingResult> {
  let durations: number[] = [];
  const result: ClosedLoopResult = await runClosedLoop({
    concurrency: 1,
    // The closed loop awaits a setImmediate turn before each call: the timer and the
    // monitor get their chance between calls, never during one.
    yieldBetween: true,
    request: async () => {
      const t0 = now();
      await call();
      durations.push(now() - t0);
    },
    warmup: budget.warmup,
    measure: budget.measure,
    onMeasureStart: () => {
      durations = [];
    },
  });
  if (result.errors > 0) throw new Error(`${probe.label}: ${result.errors} calls failed, first: ${result.firstError}`);
  return {
    ...probe,
    calls: durations.length,
    callMs: summarize(durations),
    loop: result.eventLoop,
    expectedTicks: result.elapsedMs,
    elapsedMs: result.elapsedMs,
    cpu: result.cpu,
    where,
  };
}
