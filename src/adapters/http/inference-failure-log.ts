/**
 * The runtime's own text of a failed inference, for the operator: a response (HTTP or gRPC)
 * gives modelhost's words only, and this puts the cause chain in the host's logger under the
 * request's id, so the two can be joined.
 */
import { ErrorCode, isModelHostError, type ModelHost } from 'modelhost';

/**
 * Logs `error` when its response leaves out a runtime's text: an INFERENCE_FAILED (a `warn`
 * line, `inference failed`), or an INVALID_INPUT that has a `cause` — the runtime itself
 * refused the request's inputs (an `info` line, `input rejected by the runtime`: the client's
 * to change, yet only the cause says what the runtime objected to). Anything else is not
 * logged here.
 */
export function logInferenceFailure(host: ModelHost, requestId: string | undefined, error: unknown): void {
  if (!isModelHostError(error)) return;
  const failed = error.code === ErrorCode.INFERENCE_FAILED;
  if (!failed && !(error.code === ErrorCode.INVALID_INPUT && error.cause !== undefined)) return;
  const detail: string[] = [];
  // Bounded: a cause chain may loop.
  for (let cause = error.cause, depth = 0; cause !== undefined && cause !== null && depth < 8; depth++, cause = (cause as { cause?: unknown }).cause) {
    detail.push(cause instanceof Error ? cause.message : String(cause));
  }
  const fields = { requestId, model: error.model, version: error.version, message: error.message, detail: detail.length === 0 ? undefined : detail };
  try {
    if (failed) host.logger?.warn('inference failed', fields);
    else host.logger?.info('input rejected by the runtime', fields);
  } catch {
    // A logger that throws must not turn an answer into a crash.
  }
}
