import type { ErrorCode } from '../errors/index.js';
import type { Tensor } from '../tensor/index.js';
import type { LoadPhase, LoadPhaseDurations } from '../registry/load-phases.js';

/** Fields every event carries. `timestamp` is milliseconds since the epoch (`Date.now()`). */
export interface EventBase {
  readonly model: string;
  readonly version: number;
  readonly timestamp: number;
}

/**
 * One per request, however it ran: a `predictBatch` larger than `maxBatchSize` runs as chunks
 * and is reported once, when its last chunk settled (docs/observability.md).
 */
export interface RequestCompletedEvent extends EventBase {
  /** The `id` the caller passed to predict, if any (for tracing; never a metric label). */
  readonly id: string | undefined;
  /** Rows this request contributed (1 for `predict`; all of a split request's rows). */
  readonly rows: number;
  /** Rows in the batch it ran in (for a split request, the largest its chunks ran in). */
  readonly batchSize: number;
  /** Arrival to its batch's start, ms (for a split request, to its first chunk's start). */
  readonly queueMs: number;
  /** Runtime time of its batch, ms (for a split request, summed over its chunks' batches). */
  readonly computeMs: number;
  /** Arrival to answer, ms. */
  readonly totalMs: number;
  /** Answered from the response cache (`cache` option): it skipped the queue and the runtime (`batchSize`, `queueMs`, `computeMs` 0). */
  readonly cached: boolean;
}

/**
 * One per failed request. A split request's first failing chunk gives its code, message and
 * blame, unless an earlier chunk failed through the version's own fault (its rollout's baseline
 * answered it) and the one that failed the request did not: then that earlier failure, so the
 * rollout guard counts it (the caller got the later error).
 */
export interface RequestFailedEvent extends EventBase {
  readonly id: string | undefined;
  readonly code: ErrorCode;
  readonly message: string;
  /** Rows of the request (0 when it was refused before its input was read). */
  readonly rows: number;
  readonly queueMs: number;
  readonly totalMs: number;
  /**
   * For INFERENCE_FAILED: `request` when the failure was pinned on this request (it failed
   * while other inputs succeeded on the version; it counts toward neither the breaker nor
   * the rollout guard), `model` when it was not (docs/observability.md). Also `request` for
   * a DEADLINE_EXCEEDED before the request ran (refused at admission, expired in the queue,
   * or no run could fit): those never count against the version.
   */
  readonly blame?: 'request' | 'model';
  /**
   * The version whose answer the caller got instead of this failure (with `breaker.fallback:
   * 'previous-version'`): the rollout's baseline, which answered the same inputs; or, for a
   * CIRCUIT_OPEN, the version the open breaker sent the request to. The failure still counts as
   * this version's.
   */
  readonly answeredBy?: number;
}

export interface BatchCompletedEvent extends EventBase {
  /** Rows in the batch. */
  readonly batchSize: number;
  /** Requests whose rows formed the batch. */
  readonly requests: number;
  readonly computeMs: number;
  /** Rows still queued when the batch finished. */
  readonly queueDepth: number;
}

export interface BatchFailedEvent extends EventBase {
  readonly batchSize: number;
  readonly requests: number;
  readonly computeMs: number;
  readonly code: ErrorCode;
  /** modelhost's words, safe to show or export: never the runtime's own text (it may hold absolute paths). */
  readonly message: string;
  /** What the runtime threw, with its own text: for the operator's logs, never for a response. */
  readonly cause: unknown;
}

export interface ModelLoadedEvent extends EventBase {
  readonly runtime: string;
  readonly loadMs: number;
  readonly warmupMs: number;
  /** ms spent in each phase of the load (`verifying`, `reading`, `compiling`, `measuring`, `warming`), the ones it went through. */
  readonly phases: LoadPhaseDurations;
}

/** A version's load entered a phase: what it is doing now, for progress displays. */
export interface LoadPhaseStartedEvent extends EventBase {
  readonly phase: LoadPhase;
  /** ms since this version's load started. */
  readonly elapsedMs: number;
}

export interface ModelLoadFailedEvent extends EventBase {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ModelUnloadedEvent extends EventBase {
  /** Why: an explicit `unload`, eviction from the retained versions, host close, removal from the repository. */
  readonly reason: 'unload' | 'evicted' | 'close' | 'removed';
}

export interface VersionSwappedEvent extends EventBase {
  /** The default version before the swap, if there was one. */
  readonly previous: number | undefined;
}

export interface TrafficChangedEvent extends EventBase {
  /** Share of unpinned traffic per version; sums to 1. */
  readonly weights: Readonly<Record<number, number>>;
}

export interface VersionRolledBackEvent extends EventBase {
  /** The version traffic was taken from; `version` is the one now serving. */
  readonly from: number;
  readonly automatic: boolean;
  readonly reason: string;
}

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface BreakerStateChangedEvent extends EventBase {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: string;
  /** With `breaker.fallback: 'previous-version'`: the version serving this one's requests while it is open. */
  readonly fallback: number | undefined;
}

export interface ShadowComparedEvent extends EventBase {
  /** `version` is the shadow; `baseline` the version whose answer the caller got. */
  readonly baseline: number;
  readonly maxAbsDiff: number;
  readonly meanAbsDiff: number;
  readonly argmaxAgrees: boolean | undefined;
  readonly agrees: boolean;
  readonly primaryMs: number;
  readonly shadowMs: number;
}

export interface QueueSaturatedEvent extends EventBase {
  readonly queueDepth: number;
  readonly maxSize: number;
}

/** A sampled request (`sampling.rate`): what it asked, what it got, how long it took. */
export interface RequestSampledEvent extends EventBase {
  /** The request id (KServe `id`, `x-request-id`), or undefined when the caller gave none. */
  readonly id: string | undefined;
  /**
   * Copies of the validated inputs (with `sampling.include` 'inputs'), batch dimension included
   * when the model has one. Small copies are views into a buffer shared with other samples of
   * the same model (as Node's `Buffer` pool does): read `data` (or `byteOffset`/`byteLength` of
   * it), never `data.buffer` whole.
   */
  readonly inputs: Readonly<Record<string, Tensor>> | undefined;
  /** Copies of the outputs the caller got (with 'outputs'); shared buffers as for `inputs`. */
  readonly outputs: Readonly<Record<string, Tensor>> | undefined;
  readonly rows: number;
  /** From the request's arrival to its answer, ms. */
  readonly latencyMs: number;
  /** Answered from the response cache. */
  readonly cached: boolean;
}

/** A full drift window crossed the thresholds (docs/monitoring.md). */
export interface DriftDetectedEvent extends EventBase {
  /** Which side drifted: the model's inputs or its outputs. */
  readonly group: 'inputs' | 'outputs';
  /** Largest PSI over the group's features in the window. */
  readonly score: number;
  /** The features that drifted: name, PSI, p-value of the two-sample test. */
  readonly features: readonly { readonly name: string; readonly psi: number; readonly pValue: number }[];
  /** Sampled rows in the window. */
  readonly windowRows: number;
}

export interface WarningEvent {
  readonly model: string | undefined;
  readonly version: number | undefined;
  readonly timestamp: number;
  readonly message: string;
  readonly cause?: unknown;
}

export interface ErrorEvent {
  readonly model: string | undefined;
  readonly version: number | undefined;
  readonly timestamp: number;
  readonly error: Error;
}

/** The typed event map of ModelHost: one payload object per event. */
export interface ModelHostEvents {
  requestCompleted: [RequestCompletedEvent];
  requestFailed: [RequestFailedEvent];
  batchCompleted: [BatchCompletedEvent];
  batchFailed: [BatchFailedEvent];
  modelLoaded: [ModelLoadedEvent];
  /** A load moved on to its next phase (verifying, reading, compiling, measuring, warming). */
  loadPhaseStarted: [LoadPhaseStartedEvent];
  modelLoadFailed: [ModelLoadFailedEvent];
  modelUnloaded: [ModelUnloadedEvent];
  versionSwapped: [VersionSwappedEvent];
  trafficChanged: [TrafficChangedEvent];
  versionRolledBack: [VersionRolledBackEvent];
  breakerStateChanged: [BreakerStateChangedEvent];
  /** A mirrored (shadow) request was answered by both versions and compared. */
  shadowCompared: [ShadowComparedEvent];
  queueSaturated: [QueueSaturatedEvent];
  /** A request was sampled (`sampling.rate`); copies of its inputs and outputs ride along. */
  requestSampled: [RequestSampledEvent];
  /** Drift crossed the thresholds over a full window of sampled rows. */
  driftDetected: [DriftDetectedEvent];
  /** Something went wrong that no caller sees: a throwing listener, a failed background poll. */
  warning: [WarningEvent];
  /** A background failure (never a request's own failure: that rejects the request). */
  error: [ErrorEvent];
}

export type ModelHostEventName = keyof ModelHostEvents;
