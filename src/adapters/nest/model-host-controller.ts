import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { All, Controller, Inject, Next, Req, Res, VERSION_NEUTRAL, type Type } from '@nestjs/common';
import type { ModelHost } from 'modelhost';
import { createNodeListener, unpark, type NodeListener, type NodeListenerOptions } from '../http/node-listener.js';
import { MODEL_HOST, MODEL_HOST_HTTP_OPTIONS } from './tokens.js';

/** The wildcard's parameter: the part of the path after the controller's prefix. */
const PARAM = 'modelhostPath';

/** What the controller reads of Express's request (Nest's default platform). */
type ExpressRequest = IncomingMessage & { params?: Record<string, unknown> };
type NextFunction = (error?: unknown) => void;

/**
 * The protocol controller's class for a prefix: every method on `/<prefix>` and below goes
 * to `createNodeListener(host, http)` with the prefix (and any global prefix) stripped, so
 * it serves the same URLs under the prefix as a bare `node:http` server at its root.
 * A path it does not serve goes to `next()`: the application's other routes, then Nest's
 * 404. Version-neutral under URI versioning. Needs `@nestjs/platform-express`.
 */
export function createModelHostController(prefix: string): Type<unknown> {
  class ModelHostController {
    private readonly listener: NodeListener;

    constructor(host: ModelHost, http: NodeListenerOptions) {
      this.listener = createNodeListener(host, http);
    }

    /**
     * Nest calls this before it closes the HTTP server: parked connections are resumed and no
     * more are parked, and two turns later their waiting requests have been read, so the
     * server's close does not reset them as idle (they are answered, 503 once the host drains).
     */
    async beforeApplicationShutdown(): Promise<void> {
      await unpark(this.listener);
    }

    handle(req: ExpressRequest, res: ServerResponse, next: NextFunction): void {
      if (typeof (res as Partial<ServerResponse>).writeHead !== 'function') {
        next(new Error('the modelhost protocol controller needs @nestjs/platform-express (on Fastify, mount createNodeListener(host) yourself)'));
        return;
      }
      // As Express does for a mounted router: the listener sees the path below the prefix,
      // and the original URL is back before the request goes on to other routes.
      const url = req.url ?? '/';
      req.url = servedUrl(url, req.params?.[PARAM] ?? req.params?.['0']);
      let restored = false;
      const restore = () => {
        if (restored) return;
        restored = true;
        req.url = url;
      };
      res.once('close', restore);
      this.listener(req, res, (error?: unknown) => {
        restore();
        next(error);
      });
    }
  }

  // Nest's decorators applied as functions: the build emits no decorator metadata, so
  // every constructor parameter names its token.
  Controller({ path: prefix, version: VERSION_NEUTRAL })(ModelHostController);
  Inject(MODEL_HOST)(ModelHostController, undefined, 0);
  Inject(MODEL_HOST_HTTP_OPTIONS)(ModelHostController, undefined, 1);
  const handle = Object.getOwnPropertyDescriptor(ModelHostController.prototype, 'handle')!;
  All(wildcardRoute())(ModelHostController.prototype, 'handle', handle);
  Req()(ModelHostController.prototype, 'handle', 0);
  Res()(ModelHostController.prototype, 'handle', 1);
  Next()(ModelHostController.prototype, 'handle', 2);
  return ModelHostController;
}

/**
 * The route below the prefix that also matches the prefix itself: path-to-regexp 8
 * (Express 5, Nest 11) wants a named, optional wildcard; Express 4 (Nest 10) takes `*`.
 */
function wildcardRoute(): string | string[] {
  return nestMajor() >= 11 ? `{/*${PARAM}}` : ['/', '*'];
}

function nestMajor(): number {
  try {
    const { version } = createRequire(import.meta.url)('@nestjs/core/package.json') as { version: string };
    return Number.parseInt(version, 10);
  } catch {
    return 11;
  }
}

/**
 * The request's URL without the prefix: the wildcard matched the last `n` segments of the
 * raw path (Express 5 gives them as an array; Express 4 as one decoded string).
 */
export function servedUrl(url: string, captured: unknown): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  const count = Array.isArray(captured) ? captured.length : typeof captured === 'string' && captured !== '' ? captured.split('/').length : 0;
  if (count === 0) return `/${query}`;
  const segments = path.split('/');
  return `/${segments.slice(Math.max(1, segments.length - count)).join('/')}${query}`;
}
