import { ErrorCode, isModelHostError } from 'modelhost';
import { messageFor } from '../http/protocol-advice.js';

/**
 * gRPC status codes (the numbers of the gRPC spec, `grpc.status` in @grpc/grpc-js), so this
 * table needs no import of the optional peer.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * The gRPC status of each modelhost error code, as Triton maps its own: a full queue is
 * UNAVAILABLE (Triton's "Exceeds maximum queue size" is TRITONSERVER_ERROR_UNAVAILABLE, and
 * gRPC clients retry UNAVAILABLE), as are a model without a ready version, an open breaker
 * and a host shutting down; bad input is INVALID_ARGUMENT; unknown names NOT_FOUND; a model
 * that cannot be loaded INTERNAL (Triton's load failures). An admin call that was refused is
 * PERMISSION_DENIED; one without (valid) credentials UNAUTHENTICATED (decided by the caller,
 * see `grpcStatusOf`).
 */
export const GRPC_STATUS_BY_CODE: Readonly<Record<ErrorCode, GrpcStatus>> = Object.freeze({
  INVALID_INPUT: GrpcStatus.INVALID_ARGUMENT,
  INVALID_CONFIG: GrpcStatus.INVALID_ARGUMENT,
  MODEL_NOT_FOUND: GrpcStatus.NOT_FOUND,
  VERSION_NOT_FOUND: GrpcStatus.NOT_FOUND,
  MODEL_NOT_READY: GrpcStatus.UNAVAILABLE,
  QUEUE_FULL: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  CANCELLED: GrpcStatus.CANCELLED,
  CIRCUIT_OPEN: GrpcStatus.UNAVAILABLE,
  INFERENCE_FAILED: GrpcStatus.INTERNAL,
  LOAD_FAILED: GrpcStatus.INTERNAL,
  INTEGRITY_FAILED: GrpcStatus.INTERNAL,
  UNSUPPORTED_MODEL: GrpcStatus.INTERNAL,
  SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
  UNAUTHORIZED: GrpcStatus.PERMISSION_DENIED,
});

/** What a failed call answers: a status, a message (never a stack), and trailers. */
export interface GrpcError {
  readonly code: GrpcStatus;
  readonly details: string;
  /** Trailing metadata: `x-modelhost-error-code`, and `retry-after-ms` for QUEUE_FULL. */
  readonly trailers: Readonly<Record<string, string>>;
}

/** The answer for `error`; anything that is not a ModelHostError is INTERNAL "internal error". */
export function grpcErrorOf(error: unknown): GrpcError {
  if (error instanceof GrpcCallError) return { code: error.status, details: error.message, trailers: {} };
  if (!isModelHostError(error)) return { code: GrpcStatus.INTERNAL, details: 'internal error', trailers: {} };
  const trailers: Record<string, string> = { 'x-modelhost-error-code': error.code };
  if (error.code === ErrorCode.QUEUE_FULL && error.retryAfterMs !== undefined) trailers['retry-after-ms'] = String(Math.ceil(error.retryAfterMs));
  return { code: GRPC_STATUS_BY_CODE[error.code] ?? GrpcStatus.INTERNAL, details: messageFor(error, 'grpc'), trailers };
}

/** A refusal with a gRPC status that no ModelHostError code names (UNAUTHENTICATED, RESOURCE_EXHAUSTED). */
export class GrpcCallError extends Error {
  constructor(
    readonly status: GrpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcCallError';
  }
}
