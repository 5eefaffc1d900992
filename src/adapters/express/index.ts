/** `modelhost/express`: `createExpressRouter(host, options)`. */
export { createExpressRouter } from './express-router.js';
export type { HttpOptions } from '../http/http-types.js';
