import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { ErrorCode, isModelHostError, ModelHostError } from '../errors/index.js';
import { hostWorded } from '../errors/error-detail.js';
import { runTimedOut } from '../errors/run-timeout.js';
import type { BreakerState } from '../metrics/events.js';
import type { ResolvedBreakerOptions } from './breaker-options.js';
import { RollingCounts } from './rolling-counts.js';

/** Failures that are the caller's, never the version's: they must not open its breaker. */
const CALLER_ERRORS: ReadonlySet<string> = new Set([ErrorCode.INVALID_INPUT, ErrorCode.CANCELLED, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.SHUTTING_DOWN, ErrorCode.QUEUE_FULL]);

export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: string;
}

/** The errors of `bound`'s own timer. */
const EXPIRED = new WeakSet<object>();

function expiredError(bound: number): Error {
  const error = Object.assign(new Error(`Timed out after ${bound}ms`), { code: 'ETIMEDOUT' });
  EXPIRED.add(error);
  return error;
}

/** opossum's `rollingCountBuckets` default: the window is kept in this many slices. */
const WINDOW_BUCKETS = 10;

/**
 * The circuit breaker of one loaded version: an opossum breaker around its runtime calls
 * (batches, not queue waits). Caller errors never count; a failure of a bounded run comes
 * out as INFERENCE_FAILED with the original as `cause` (`translate`).
 *
 * opossum owns the states and the reset timer (`open()` starts it; its end half-opens the
 * breaker); modelhost counts the rolling window that decides to open a closed breaker
 * ({@link RollingCounts}, by opossum's rule: at a failure, at least `volumeThreshold` calls in
 * the window and a failure share above `errorThresholdPercentage`; the same slices), admits
 * the one half-open probe (`admit`) and acts on its verdict with opossum's `close()` or
 * `open()`, as opossum's `fire` would. opossum is never fired: a success of a closed breaker is
 * two additions, not a `fire` (a promise, a reaction, two clock reads, two events and a
 * latency kept per call: ~5% of a one-caller request on the MLP, docs/benchmarks.md), and
 * opossum's own window (a timer every `rollingCountTimeoutMs / 10`, 1 ms at the smallest)
 * does not run at all. test/unit/breaker/opossum-parity.test.ts feeds both the same verdicts.
 */
export class VersionBreaker {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private current: BreakerState = 'closed';
  /** A half-open probe batch is running. */
  private probing = false;
  /** The calls whose verdicts decide opening, over `rollingCountTimeoutMs`. */
  private readonly counts: RollingCounts;
  /** The half-open probe failed: the opening that follows says so. */
  private probeFailed = false;

  /**
   * @param now monotonic ms for the rolling window (`performance.now`; a test's clock)
   */
  constructor(
    private readonly options: ResolvedBreakerOptions,
    private readonly context: { model: string; version: number },
    onChange: (transition: BreakerTransition) => void,
    now: () => number = () => performance.now(),
  ) {
    this.counts = new RollingCounts(options.rollingCountTimeoutMs, WINDOW_BUCKETS, now);
    this.breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      resetTimeout: options.resetTimeoutMs,
      // opossum's window is not used (it is never fired): an emitter that never rotates it
      // spares its rotation timer (every rollingCountTimeoutMs / 10, per version).
      rotateBucketController: new EventEmitter(),
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    const move = (to: BreakerState, reason: (from: BreakerState) => string) => {
      const from = this.current;
      if (from === to) return;
      this.current = to;
      // Runs inside opossum's emit of a verdict: a report that throws (a user's logger) would
      // turn a success into a counted failure and reject the verdict's promise, which a
      // success does not catch. The transition happened all the same; the report is best effort.
      try {
        onChange({ from, to, reason: reason(from) });
      } catch {
        // nowhere left to report it: the host's listeners and warnings are already guarded
      }
    };
    this.breaker.on('open', () =>
      move('open', () => {
        if (this.probeFailed) return 'the probe failed';
        const failures = this.counts.failures;
        const calls = failures + this.counts.successes;
        return `${failures} of ${calls} runtime calls failed in the last ${options.rollingCountTimeoutMs / 1000} s (threshold ${options.errorThresholdPercentage}%)`;
      }),
    );
    this.breaker.on('halfOpen', () => move('halfOpen', () => `${options.resetTimeoutMs / 1000} s passed: one probe may run`));
    this.breaker.on('close', () => move('closed', (from) => (from === 'halfOpen' ? 'the probe succeeded' : 'closed')));
  }

  get state(): BreakerState {
    return this.current;
  }

  /** The time bound of a runtime call (`breaker.timeoutMs`), ms; undefined: none. */
  get timeoutMs(): number | undefined {
    return this.options.timeoutMs;
  }

  /** Whether requests must fail fast (open, not yet half-open). */
  get rejecting(): boolean {
    return this.current === 'open';
  }

  /**
   * Whether a batch may start now: undefined, or the CIRCUIT_OPEN error its requests fail
   * with (open; half-open while its one probe batch runs). Admitting while half-open makes
   * that batch the probe, until its verdict is recorded.
   */
  admit(): ModelHostError | undefined {
    if (this.rejecting) return this.openError();
    if (this.current === 'halfOpen') {
      if (this.probing) return this.openError();
      this.probing = true;
    }
    return undefined;
  }

  /**
   * A started runtime call within `timeoutMs`. It does not count: the scheduler first finds
   * out whom a failure is on (the request or the model) and then calls `record`. Without a
   * time bound the call's own promise comes back (no derived promise, no hop, no closure): its
   * failure is as the runtime threw it, and `translate` words it.
   */
  bound<T>(running: Promise<T>): Promise<T> {
    const bound = this.options.timeoutMs;
    if (bound === undefined) return running;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(expiredError(bound)), bound);
    });
    return Promise.race([running, expired]).then(
      (value) => {
        clearTimeout(timer);
        return value;
      },
      (error: unknown) => {
        clearTimeout(timer);
        return Promise.reject(this.translate(error));
      },
    );
  }

  /**
   * Counts one batch's verdict: a success, or a failure of the model (caller errors count as
   * successes, as opossum's `errorFilter` has them); `request` counts nothing (the failures
   * were the requests' own). Ignored while open and after shutdown. A failure that takes the
   * window past the thresholds opens the breaker now; a half-open breaker's verdict (its
   * probe's) closes it or opens it again.
   */
  record(verdict: 'success' | 'request' | { readonly failure: unknown }): void {
    this.probing = false;
    if (verdict === 'request') return;
    const { breaker } = this;
    if (!breaker.closed && !breaker.halfOpen) return; // open (a batch admitted before it opened), or shut down
    const succeeded = verdict === 'success' || (isModelHostError(verdict.failure) && CALLER_ERRORS.has(verdict.failure.code));
    if (succeeded) this.counts.success();
    else this.counts.failure();
    if (breaker.closed) {
      if (!succeeded && this.overThreshold()) breaker.open();
      return;
    }
    if (succeeded) return breaker.close();
    this.probeFailed = true;
    try {
      breaker.open();
    } finally {
      this.probeFailed = false;
    }
  }

  /** opossum's rule, on this window: enough calls, and a failure share above the threshold. */
  private overThreshold(): boolean {
    const failures = this.counts.failures;
    const calls = failures + this.counts.successes;
    if (calls < this.options.volumeThreshold) return false;
    return (failures / calls) * 100 > this.options.errorThresholdPercentage;
  }

  /** Stops opossum's timers. */
  shutdown(): void {
    this.breaker.shutdown();
  }

  openError(cause?: unknown): ModelHostError {
    const { model, version } = this.context;
    return new ModelHostError(ErrorCode.CIRCUIT_OPEN, `model '${model}' v${version}: the circuit breaker is open after repeated runtime failures; requests fail fast until a probe succeeds`, {
      ...this.context,
      cause,
    });
  }

  /** A failure of a bounded run (`bound`) as a ModelHostError: INFERENCE_FAILED with the original as `cause` (a runtime's own CIRCUIT_OPEN-like error is not this breaker's); a ModelHostError as is. */
  translate(error: unknown): unknown {
    if (isModelHostError(error)) return error;
    // Told by identity: a runtime's own error with code ETIMEDOUT (a remote call of its own) is the runtime's failure, in its words.
    const expired = typeof error === 'object' && error !== null && EXPIRED.has(error);
    const { model, version } = this.context;
    const reason = expired ? `the runtime call ${(error as Error).message.toLowerCase()} (breaker.timeoutMs)` : (error as Error)?.message ?? String(error);
    const translated = new ModelHostError(ErrorCode.INFERENCE_FAILED, `model '${model}' v${version}: ${reason}`, { ...this.context, cause: error });
    // A timeout is modelhost's verdict, in its words; any other message is the runtime's own text.
    return expired ? runTimedOut(hostWorded(translated)) : translated;
  }
}
