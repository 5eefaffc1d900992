import { ErrorCode, isModelHostError, ModelHostError } from 'modelhost';
import type { HttpResponse } from './http-types.js';
import { messageFor } from './protocol-advice.js';

/** HTTP status of each error code (DESIGN §4). */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_INPUT: 400,
  INVALID_CONFIG: 400,
  MODEL_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  MODEL_NOT_READY: 503,
  QUEUE_FULL: 429,
  DEADLINE_EXCEEDED: 504,
  CANCELLED: 499,
  CIRCUIT_OPEN: 503,
  INFERENCE_FAILED: 500,
  LOAD_FAILED: 422,
  INTEGRITY_FAILED: 422,
  UNSUPPORTED_MODEL: 422,
  SHUTTING_DOWN: 503,
  UNAUTHORIZED: 403,
});

export function statusFor(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** A JSON response. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/**
 * The protocols' error shape, `{ "error": "..." }`, never a stack trace. QUEUE_FULL carries
 * Retry-After (seconds, rounded up), SHUTTING_DOWN `Connection: close`; unexpected errors
 * say only that they happened.
 */
export function errorResponse(error: unknown): HttpResponse {
  if (!isModelHostError(error)) return json(500, { error: 'internal error' });
  const headers: Record<string, string> = { 'x-modelhost-error-code': error.code };
  if (error.code === ErrorCode.QUEUE_FULL) headers['retry-after'] = String(Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000)));
  // A closing server asks the client to take its keep-alive connection elsewhere.
  if (error.code === ErrorCode.SHUTTING_DOWN) headers['connection'] = 'close';
  return json(statusFor(error.code), { error: messageFor(error, 'http') }, headers);
}

export function badRequest(message: string): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_INPUT, message);
}
