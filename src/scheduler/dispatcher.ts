import type { PreparedInputs, Tensor } from '../tensor/index.js';

export interface DispatchOptions {
  readonly signal?: AbortSignal | undefined;
  /** Deadline relative to now; undefined for the version's default. */
  readonly timeoutMs?: number | undefined;
  readonly priority?: number | undefined;
  /** The caller's request id, carried into request events. */
  readonly id?: string | undefined;
  /** The version the caller named: a pinned request is never run on another version (no baseline check). */
  readonly version?: number | undefined;
  /**
   * A run of another version's failed request, to judge that failure (this version is its
   * baseline): its own failure here never counts against this version, and its request event
   * is not fed to the rollout guard (it is not this version's traffic); stats() still count it.
   */
  readonly check?: boolean | undefined;
  /**
   * A shadow's mirror of a request another version (the default) is answering for its caller:
   * a failure here is judged by that answer when that version is this one's baseline, never by
   * running the inputs there again, and a mirror is never answered with it.
   */
  readonly mirrorOf?: MirroredRequest | undefined;
}

/** A request `version` is answering for its caller, as a shadow's mirror of it sees it. */
export interface MirroredRequest {
  readonly version: number;
  /** The caller's outcome: its outputs, or the error it got. */
  readonly outcome: Promise<unknown>;
}

/**
 * The seam between the host and execution: everything above it (routing, validation) is
 * the same whether requests run one by one or are batched, inline or on worker threads.
 */
export interface Dispatcher {
  /** Runs one request's rows; resolves with exactly its rows of every output. */
  dispatch(prepared: PreparedInputs, options: DispatchOptions): Promise<Record<string, Tensor>>;
  /** Requests accepted and not yet settled. */
  readonly pending: number;
  /** Rows waiting to run. */
  readonly queuedRows: number;
  /** Resolves once nothing is pending. */
  drain(): Promise<void>;
  /** Stops accepting requests; pending ones still settle. */
  close(): void;
  /** Rejects everything pending with `error` now (host destroy). */
  abort(error: Error): void;
}
