import { ErrorCode, ModelHostError } from 'modelhost';
import { MAX_TIMER_MS } from '../../errors/option-checks.js';

/**
 * What clients can make a node:http server hold, and for how long (DESIGN §10: everything a
 * client can make the server hold is bounded). Node's own defaults (no connection limit,
 * 60 s for headers, 300 s for a request, checked every 30 s) let 20 stalled uploads hold
 * 600 MiB for five minutes; these are tighter, and each can be raised.
 */
export interface ListenerLimits {
  /**
   * Most bytes of request bodies buffered at once, across all requests: a body that would
   * pass it is refused with 503 and `Retry-After`, and its connection closed. Counted from the
   * first byte read until the response is sent. Default 128 MiB (four full 32 MiB bodies).
   */
  readonly maxBufferedBytes?: number;
  /**
   * Most time from the request's arrival to the last byte of its body, ms: a trickled body
   * gets 408 and its connection is closed. Default 30 000.
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Bodies at least this large are parsed as JSON one per event-loop turn, so a burst of big
   * bodies does not stall health probes and small requests behind one long parse. Bytes;
   * default 1 MiB.
   */
  readonly largeBodyBytes?: number;
  /**
   * After a 429 (QUEUE_FULL), the listener reads nothing more from that connection until its
   * `Retry-After` has passed: a client that ignores `Retry-After` and retries at once on the
   * same connection waits for the time it was told instead of costing the server a refusal
   * per round trip (the refusal loop that makes goodput fall as load rises). Default true.
   */
  readonly holdRefusedConnections?: boolean;
  /**
   * While a model's admission gate already has about `concurrency` requests waiting, a
   * keep-alive connection answered for that model is not read again (its next request stays
   * unparsed in the socket buffer) until the waiting ones drain, oldest connection first, and
   * at most 1 s. Default true.
   */
  readonly parkConnections?: boolean;
  /**
   * Inference requests (`POST …/infer`, `…:predict`) in flight at once per model, from
   * admission to response sent (one whose body has not arrived 20 ms after admission gives its
   * slot back, and is still served when its body ends; latency is learned from the body's end): a number, or `'adaptive'` (learned from their latency, between
   * one full batch of the model — its default version's `maxBatchSize`, at most its `queue.maxSize`, at least 8 — and 1000: it grows while
   * latency stays near the no-load latency and shrinks when requests start queueing). The next requests wait unread, in arrival order (`maxWaitingRequests`,
   * `maxWaitMs`). Probes, metadata and admin routes never wait. Default `'adaptive'`.
   */
  readonly concurrency?: number | 'adaptive';
  /**
   * Inference requests waiting for admission per model; more are refused with 429 on their
   * headers, before their body is read. Default 4096.
   */
  readonly maxWaitingRequests?: number;
  /**
   * Longest an inference request waits for admission, ms: one whose predicted wait (the
   * requests ahead ÷ the recent completion rate) passes it is refused with 429 and that
   * prediction as `Retry-After`, on its headers; one that waited that long anyway gets 429.
   * The time waited counts against the request's `timeoutMs`. Default 5000.
   */
  readonly maxWaitMs?: number;
}

/** Limits only a server can apply (they act before a request reaches a listener). */
export interface ServerLimits {
  /** Most open connections; more are closed as soon as they are accepted. Default 4096. */
  readonly maxConnections?: number;
  /** Most time to receive a request's headers, ms (Node's `headersTimeout`). Default 10 000. */
  readonly headersTimeoutMs?: number;
  /** Most time an idle keep-alive connection stays open, ms. Default 5000. */
  readonly keepAliveTimeoutMs?: number;
}

export interface ResolvedListenerLimits {
  readonly maxBufferedBytes: number;
  readonly bodyTimeoutMs: number;
  readonly largeBodyBytes: number;
  readonly holdRefusedConnections: boolean;
  readonly parkConnections: boolean;
  readonly concurrency: number | 'adaptive';
  readonly maxWaitingRequests: number;
  readonly maxWaitMs: number;
}

export interface ResolvedServerLimits extends ResolvedListenerLimits {
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ResolvedServerLimits> = Object.freeze({
  maxBufferedBytes: 128 * 1024 * 1024,
  bodyTimeoutMs: 30_000,
  largeBodyBytes: 1024 * 1024,
  holdRefusedConnections: true,
  parkConnections: true,
  concurrency: 'adaptive',
  maxWaitingRequests: 4096,
  maxWaitMs: 5000,
  maxConnections: 4096,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5000,
});

/**
 * The limits with defaults filled in.
 * @throws ModelHostError INVALID_CONFIG naming a bad or unknown limit (as every other option; it was a TypeError).
 */
export function resolveLimits(limits: ListenerLimits & ServerLimits = {}): ResolvedServerLimits {
  if (typeof limits !== 'object' || limits === null) throw invalidLimit(`limits must be an object, got ${String(limits)}`);
  const resolved = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(limits) as (keyof ResolvedServerLimits)[]) {
    const value = (limits as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) throw invalidLimit(`limits.${key} is not a listener limit (expected one of ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (key === 'holdRefusedConnections' || key === 'parkConnections') {
      if (typeof value !== 'boolean') throw invalidLimit(`limits.${key} must be a boolean, got ${String(value)}`);
    } else if (key === 'concurrency' && value === 'adaptive') {
      // the default
    } else if (key.endsWith('Ms')) {
      // A duration: at most the longest Node timer (a longer one fires after 1 ms).
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) throw invalidLimit(`limits.${key} must be an integer from 1 to ${MAX_TIMER_MS}, got ${String(value)}`);
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw invalidLimit(`limits.${key} must be an integer ≥ 1${key === 'concurrency' ? " or 'adaptive'" : ''}, got ${String(value)}`);
    }
    (resolved as Record<string, unknown>)[key] = value;
  }
  return Object.freeze(resolved);
}

function invalidLimit(message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_CONFIG, message);
}
