import { Router } from 'express';
import type { ModelHost } from 'modelhost';
import { createNodeListener } from '../http/node-listener.js';
import type { HttpOptions } from '../http/http-types.js';

/**
 * An Express router serving the KServe v2 and TF Serving REST APIs, admin routes (with
 * `authorize`), `/metrics` and the status page for a host:
 *
 * ```ts
 * app.use('/ml', createExpressRouter(host, { timeoutMs: 1000 }));
 * ```
 *
 * Paths it does not serve go to the next middleware. Works with or without a body parser
 * in front (it reads the raw body itself when none ran).
 */
export function createExpressRouter(host: ModelHost, options: HttpOptions = {}): Router {
  const router = Router();
  const listener = createNodeListener(host, options);
  router.use((req, res, next) => listener(req, res, next));
  return router;
}
