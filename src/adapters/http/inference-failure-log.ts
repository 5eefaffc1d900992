/**
 * The runtime's own text of a failed inference, for the operator: a response (HTTP or gRPC)
 * gives modelhost's words only, and this puts the cause chain in the host's logger under the
 * request's id, so the two can be joined.
 */
import { ErrorCode, isModelHostError, type ModelHost } from 'modelhost';

/** Logs `error` when it is an INFERENCE_FAILED (a `warn` line with its cause chain); anything else is not logged here. */
export function logInferenceFailure(host: ModelHost, requestId: string | undefined, error: unknown): void {
  if (!isModelHostError(error, ErrorCode.INFERENCE_FAILED)) return;
  const detail: string[] = [];
  // Bounded: a cause chain may loop.
  for (let cause = error.cause, depth = 0; cause !== undefined && cause !== null && depth < 8; depth++, cause = (cause as { cause?: unknown }).cause) {
    detail.push(cause instanceof Error ? cause.message : String(cause));
  }
  try {
    host.logger?.warn('inference failed', { requestId, model: error.model, version: error.version, message: error.message, detail: detail.length === 0 ? undefined : detail });
  } catch {
    // A logger that throws must not turn an answer into a crash.
  }
}
