/**
 * `modelhost/http`: protocol handlers (KServe v2 / Open Inference Protocol, TF Serving REST,
 * admin, Prometheus metrics, a status page) over the public ModelHost API, for any server.
 *
 * ```ts
 * import { createServer } from 'node:http';
 * import { createNodeListener } from 'modelhost/http';
 * createServer(createNodeListener(host, { timeoutMs: 1000 })).listen(8080);
 * ```
 */
export { createHttpHandler } from './http-handler.js';
export { createNodeListener, resumeParkedOnClose } from './node-listener.js';
export type { NodeListener, NodeListenerOptions } from './node-listener.js';
export { applyServerLimits, createNodeServer } from './node-server.js';
export type { NodeServerOptions } from './node-server.js';
export { DEFAULT_LIMITS } from './listener-limits.js';
export type { ListenerLimits, ServerLimits } from './listener-limits.js';
export { statusFor, STATUS_BY_CODE } from './http-errors.js';
export { parseVersion } from './version-segment.js';
export { snapshot } from './status-page.js';
export { OPENAPI_DOCUMENT } from './openapi.js';
export type { StatusSnapshot } from './status-page.js';
export type { HttpOptions, HttpRequest, HttpResponse, JsonLimits } from './http-types.js';
