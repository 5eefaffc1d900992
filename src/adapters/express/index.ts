/** `modelhost/express`: `createExpressRouter(host, options)` and `createExpressErrorHandler()`. */
export { createExpressRouter } from './express-router.js';
export { createExpressErrorHandler } from './express-error-handler.js';
export type { HttpOptions } from '../http/http-types.js';
export type { NodeListenerOptions } from '../http/node-listener.js';
export type { ListenerLimits } from '../http/listener-limits.js';
