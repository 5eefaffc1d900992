import type { EventBase } from './events.js';

/**
 * Internal, not a host event: the requests of one batch that succeeded (and the batch), in one payload per
 * batch (the stats recorder's feed; a payload per request cost more than the rest of a
 * request). Arrival times come as runs: `counts[i]` requests in a row arrived at `enqueuedAt[i]`.
 * No wall-clock timestamp: times are on the scheduler's clock, and `Date.now()` per batch was not free.
 */
export interface RequestsCompletedEvent extends Omit<EventBase, 'timestamp'> {
  readonly requests: number;
  readonly rows: number;
  readonly computeMs: number;
  /** When the batch started running and ended, on the scheduler's clock (ms). */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Runs of equal arrival times: the first `runs` entries of `enqueuedAt` and `counts` (reused by the scheduler for its next batch: read them at once, keep nothing). */
  readonly runs: number;
  readonly enqueuedAt: readonly number[];
  readonly counts: readonly number[];
  /**
   * Rows of the batch, when this run was a batch cut from the queue (undefined for a part of
   * a failed batch run again): the recorder counts completed batches from here, so a host
   * with no `batchCompleted` listener builds no payload for it.
   */
  readonly batchRows?: number | undefined;
}

/** Internal: one request answered from the response cache (a request served, with no queue or compute time). */
export interface CacheHitEvent {
  readonly model: string;
  readonly version: number;
  readonly rows: number;
  /** Arrival to answer, ms. */
  readonly totalMs: number;
  /** When it was answered, on the host's clock (ms). */
  readonly answeredAt: number;
}

/** Events the host's own subscribers (the stats recorder) get; never on the public emitter. */
export interface InternalEvents {
  requestsCompleted: [RequestsCompletedEvent];
  cacheHit: [CacheHitEvent];
}
