import { createServer, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { ModelHost } from 'modelhost';
import { resolveLimits, type ListenerLimits, type ServerLimits } from './listener-limits.js';
import { holdContinue } from './expect-continue.js';
import { createNodeListener, resumeParkedOnClose, type NodeListenerOptions } from './node-listener.js';

export interface NodeServerOptions extends NodeListenerOptions {
  /** The listener's limits and the server's own (connections, header and keep-alive timeouts). */
  readonly limits?: ListenerLimits & ServerLimits;
}

/**
 * A `node:http` server for a host, with every limit of docs/http.md applied: the listener's
 * (buffered bytes, body timeout, large parses, held refusals) and the server's (connections,
 * header timeout, request timeout, keep-alive), checked every second instead of Node's 30.
 * `Expect: 100-continue` is answered when the body is read, so a body refused on the request's
 * headers (413, 429) is never invited.
 *
 * ```ts
 * createNodeServer(host, { limits: { maxConnections: 1000 } }).listen(8080);
 * ```
 *
 * @throws TypeError when a limit is not valid.
 */
export function createNodeServer(host: ModelHost, options: NodeServerOptions = {}): Server {
  const limits = resolveLimits(options.limits);
  const listener = createNodeListener(host, options);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      // The listener answers a slow body with 408 first; this is the backstop Node enforces itself.
      requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 1000,
      connectionsCheckingInterval: 1000,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
    listener,
  );
  // close() reads the requests waiting on parked connections before it closes idle ones.
  return resumeParkedOnClose(holdContinue(applyServerLimits(server, limits)), listener);
}

/**
 * Sets the server limits (connections, header, request and keep-alive timeouts) on a server
 * made elsewhere (an HTTPS server, say). Node checks the timeouts every
 * `connectionsCheckingInterval`, which only the constructor sets (30 s unless given).
 */
export function applyServerLimits<S extends Server | HttpsServer>(server: S, limits: ListenerLimits & ServerLimits = {}): S {
  const resolved = resolveLimits(limits);
  server.headersTimeout = resolved.headersTimeoutMs;
  server.requestTimeout = resolved.headersTimeoutMs + resolved.bodyTimeoutMs + 1000;
  server.keepAliveTimeout = resolved.keepAliveTimeoutMs;
  server.maxConnections = resolved.maxConnections;
  return server;
}
