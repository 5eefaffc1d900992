import { Router, type ErrorRequestHandler } from 'express';
import type { ModelHost } from 'modelhost';
import { createNodeListener, type NodeListenerOptions } from '../http/node-listener.js';
import { createExpressErrorHandler } from './express-error-handler.js';

/**
 * An Express router serving the KServe v2 and TF Serving REST APIs, admin routes (with
 * `authorize`), `/metrics` and the status page for a host:
 *
 * ```ts
 * app.use('/ml', createExpressRouter(host, { timeoutMs: 1000 }));
 * ```
 *
 * Paths it does not serve go to the next middleware. Works with or without a body parser
 * in front (it reads the raw body itself when none ran). Express skips a router when an
 * earlier middleware failed, so a body parser's refusals (malformed JSON, too large) reach
 * the router's error handler only when it is mounted after it: see
 * `createExpressErrorHandler`. Errors inside the router are answered in JSON (500 without
 * details), never with Express's HTML page.
 *
 * While the host drains, every answer to a request the router saw carries `Connection: close`,
 * also the ones given after it passed the request on (Express's 404 and error page, later routes).
 *
 * Shutdown: `router.stopParking()` resumes the connections parked while a model's gate is
 * busy (their next request is unread, so `server.close()` would reset them);
 * `resumeParkedOnClose(server, router)` (`modelhost/http`) makes the server's `close()` do it.
 */
export function createExpressRouter(host: ModelHost, options: NodeListenerOptions = {}): Router & { stopParking(): void } {
  const router = Router();
  const listener = createNodeListener(host, options);
  const bodyErrors = createExpressErrorHandler();
  router.use((req, res, next) => listener(req, res, next));
  const answerInJson: ErrorRequestHandler = (error, req, res, next) => {
    bodyErrors(error, req, res, (unhandled?: unknown) => {
      if (res.headersSent) return next(unhandled);
      res.status(500).json({ error: 'internal error' });
    });
  };
  router.use(answerInJson);
  return Object.assign(router, { stopParking: listener.stopParking });
}
