// The one request-id rule lives in the host (in-process `predict`/`feedback` apply it too); every adapter shares it.
export { isRequestId, newRequestId, requestIdProblem } from 'modelhost';
