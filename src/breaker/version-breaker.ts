import CircuitBreaker from 'opossum';
import { ErrorCode, isModelHostError, ModelHostError } from '../errors/index.js';
import { hostWorded } from '../errors/error-detail.js';
import { runTimedOut } from '../errors/run-timeout.js';
import type { BreakerState } from '../metrics/events.js';
import type { ResolvedBreakerOptions } from './breaker-options.js';

/** The action a success fires: a promise already resolved, shared by every batch. */
const RESOLVED = Promise.resolve();
const SUCCEEDED = () => RESOLVED;
const IGNORE = () => undefined;

/** Failures that are the caller's, never the version's: they must not open its breaker. */
const CALLER_ERRORS: ReadonlySet<string> = new Set([ErrorCode.INVALID_INPUT, ErrorCode.CANCELLED, ErrorCode.DEADLINE_EXCEEDED, ErrorCode.SHUTTING_DOWN, ErrorCode.QUEUE_FULL]);

export interface BreakerTransition {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: string;
}

/**
 * The circuit breaker of one loaded version: an opossum breaker around its runtime calls
 * (batches, not queue waits). Caller errors never count; opossum's own errors come out as
 * CIRCUIT_OPEN or INFERENCE_FAILED with the original as `cause`.
 */
export class VersionBreaker {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private current: BreakerState = 'closed';
  /** A half-open probe batch is running. */
  private probing = false;

  constructor(
    private readonly options: ResolvedBreakerOptions,
    private readonly context: { model: string; version: number },
    onChange: (transition: BreakerTransition) => void,
  ) {
    this.breaker = new CircuitBreaker((call: () => Promise<unknown>) => call(), {
      errorThresholdPercentage: options.errorThresholdPercentage,
      volumeThreshold: options.volumeThreshold,
      resetTimeout: options.resetTimeoutMs,
      rollingCountTimeout: options.rollingCountTimeoutMs,
      // The time bound is applied around the runtime call (`bound`); opossum only counts verdicts (`record`).
      timeout: false,
      errorFilter: (error: unknown) => isModelHostError(error) && CALLER_ERRORS.has(error.code),
      // modelhost keeps its own latency statistics; opossum's would cost on every call.
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
        const s = this.breaker.stats;
        const calls = s.successes + s.failures + s.timeouts;
        return `${s.failures + s.timeouts} of ${calls} runtime calls failed in the last ${options.rollingCountTimeoutMs / 1000} s (threshold ${options.errorThresholdPercentage}%)`;
      }),
    );
    this.breaker.on('halfOpen', () => move('halfOpen', () => `${options.resetTimeoutMs / 1000} s passed: one probe may run`));
    this.breaker.on('close', () => move('closed', (from) => (from === 'halfOpen' ? 'the probe succeeded' : 'closed')));
  }

  get state(): BreakerState {
    return this.current;
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
      timer = setTimeout(() => reject(Object.assign(new Error(`Timed out after ${bound}ms`), { code: 'ETIMEDOUT' })), bound);
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
   * Counts one batch's verdict: a success, or a failure of the model (caller errors are
   * filtered out); `request` counts nothing (the failures were the requests' own). Ignored
   * while open.
   */
  record(verdict: 'success' | 'request' | { readonly failure: unknown }): void {
    this.probing = false;
    if (verdict === 'request') return;
    const { breaker } = this;
    // A success (every batch, so every request at one caller) fires a shared function and,
    // while opossum takes calls (closed, or the half-open probe's turn), cannot reject: no
    // `.catch`, one derived promise and its job less. Otherwise (open, shut down: a batch that
    // outlived the opening) opossum rejects, and that rejection is caught.
    if (verdict === 'success' && (breaker.closed || breaker.pendingClose) && !breaker.isShutdown) {
      void breaker.fire(SUCCEEDED);
      return;
    }
    breaker.fire(verdict === 'success' ? SUCCEEDED : () => Promise.reject(verdict.failure)).catch(IGNORE);
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

  /** A failure of a bounded run (`bound`) as a ModelHostError: CIRCUIT_OPEN, or INFERENCE_FAILED with the original as `cause`; a ModelHostError as is. */
  translate(error: unknown): unknown {
    if (isModelHostError(error)) return error;
    const code = (error as { code?: string } | undefined)?.code;
    if (code === 'EOPENBREAKER') return this.openError(error);
    const { model, version } = this.context;
    const reason = code === 'ETIMEDOUT' ? `the runtime call ${(error as Error).message.toLowerCase()} (breaker.timeoutMs)` : (error as Error)?.message ?? String(error);
    const translated = new ModelHostError(ErrorCode.INFERENCE_FAILED, `model '${model}' v${version}: ${reason}`, { ...this.context, cause: error });
    // A timeout is modelhost's verdict, in its words; any other message is the runtime's own text.
    return code === 'ETIMEDOUT' ? runTimedOut(hostWorded(translated)) : translated;
  }
}
