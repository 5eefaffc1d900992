/**
 * Stable error codes. Callers branch on `error.code`, never on messages.
 * The HTTP adapters map each code to a status (see docs/errors.md).
 */
export const ErrorCode = {
  /** The request does not match the model's signature, or a limit was exceeded. */
  INVALID_INPUT: 'INVALID_INPUT',
  /** An option or a `config.json` is wrong. */
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** No model with that name is known to the host. */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** The model is known, but not that version. */
  VERSION_NOT_FOUND: 'VERSION_NOT_FOUND',
  /** The model is known, but no version of it is ready to serve. */
  MODEL_NOT_READY: 'MODEL_NOT_READY',
  /** The bounded queue is full; retry after `retryAfterMs`. */
  QUEUE_FULL: 'QUEUE_FULL',
  /** The request's deadline passed before or during execution. */
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** The caller's AbortSignal fired. */
  CANCELLED: 'CANCELLED',
  /** The circuit breaker of that version is open. */
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  /** The runtime threw while running the model. */
  INFERENCE_FAILED: 'INFERENCE_FAILED',
  /** The model could not be loaded (unreadable or corrupt files, runtime refused it). */
  LOAD_FAILED: 'LOAD_FAILED',
  /** A file does not match its `SHA256SUMS` entry. */
  INTEGRITY_FAILED: 'INTEGRITY_FAILED',
  /** No runtime can load this model, or the runtime's package is not installed. */
  UNSUPPORTED_MODEL: 'UNSUPPORTED_MODEL',
  /** The host is closing or closed. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** An admin call was refused. */
  UNAUTHORIZED: 'UNAUTHORIZED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.values(ErrorCode));
