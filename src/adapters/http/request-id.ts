// The one request-id rule lives in the host (in-process `predict`/`feedback` apply it too); every adapter shares it.
import { isRequestId, newRequestId } from 'modelhost';

export { isRequestId, newRequestId, requestIdProblem } from 'modelhost';

/** The id a request names itself by in its `x-request-id` header when that is a request id (`isRequestId`); otherwise a new UUID. */
export function requestIdOfHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>): string {
  const header = headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  return isRequestId(value) ? value : newRequestId();
}
