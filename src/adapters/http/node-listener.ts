import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ModelHost } from 'modelhost';
import { ByteBudget } from './byte-budget.js';
import { ConnectionHold } from './connection-hold.js';
import { requestSignal } from './connection-signal.js';
import { contentCodings } from './content-encoding.js';
import { createHttpHandler } from './http-handler.js';
import { badRequest, errorResponse, json } from './http-errors.js';
import { resolveHttpOptions, type HttpOptions, type HttpResponse } from './http-types.js';
import { resolveLimits, type ListenerLimits } from './listener-limits.js';
import { ParseTurns } from './parse-turns.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

export interface NodeListenerOptions extends HttpOptions {
  /** Bounds on what requests make this listener hold (docs/http.md, "Limits"). */
  readonly limits?: ListenerLimits;
}

/** Longest a refused connection is held unread, ms: below Node's keep-alive and socket timeouts. */
const MAX_HOLD_MS = 10_000;

/**
 * A `node:http` request listener (also an Express/Connect middleware: unknown paths go to
 * `next`). It reads the body within `bodyLimitBytes` (413 beyond), `limits.bodyTimeoutMs`
 * (408) and the listener-wide `limits.maxBufferedBytes` (503); large JSON bodies are parsed
 * one per event-loop turn. A client that disconnects aborts its request: a queued inference
 * is cancelled and frees its slot. After a 429, the connection is not read again before its
 * `Retry-After` (`limits.holdRefusedConnections`).
 *
 * @throws TypeError when a limit is not a positive integer (or a boolean where one is expected).
 */
export function createNodeListener(host: ModelHost, options: NodeListenerOptions = {}): NodeListener {
  const handle = createHttpHandler(host, options);
  const { bodyLimitBytes } = resolveHttpOptions(options);
  const limits = resolveLimits(options.limits);
  const budget = new ByteBudget(limits.maxBufferedBytes);
  const hold = limits.holdRefusedConnections ? new ConnectionHold() : undefined;
  const parses = new ParseTurns();
  return (req, res, next) => {
    const signal = requestSignal(req, res);
    let taken = 0;
    // 'close' on the response: sent, or the client went away before it was.
    res.once('close', () => {
      budget.give(taken);
      taken = 0;
    });
    // Behind a framework's body parser (express.json()) the stream is consumed: use what it parsed.
    const parsed = (req as { body?: unknown }).body;
    const consumed = req.readableEnded && parsed !== undefined;
    const alreadyParsed = consumed && !(parsed instanceof Uint8Array);
    const reading =
      consumed || req.method === 'GET' || req.method === 'HEAD'
        ? Promise.resolve(undefined)
        : readBody(req, bodyLimitBytes, limits.bodyTimeoutMs, (bytes) => {
            if (!budget.take(bytes)) return false;
            taken += bytes;
            return true;
          });
    reading
      .then(async (bytes) => {
        let parsedBody = alreadyParsed ? parsed : undefined;
        // A large JSON body (not KServe's binary extension) is parsed here, one per turn.
        if (bytes !== undefined && bytes.byteLength >= limits.largeBodyBytes && req.headers['inference-header-content-length'] === undefined && contentCodings(req.headers).length === 0) {
          parsedBody = await parses.run(() => decodeJson(bytes));
        }
        const response = await handle({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          body: bytes ?? (parsed instanceof Uint8Array ? parsed : undefined),
          parsedBody,
          signal,
        });
        if (response === undefined) {
          if (next !== undefined) return next();
          return send(res, json(404, { error: `no route for ${req.method} ${req.url}` }));
        }
        send(res, response);
        if (hold !== undefined && response.status === 429) {
          const seconds = Number(response.headers['retry-after']);
          if (seconds > 0) hold.hold(req.socket, Math.min(seconds * 1000, MAX_HOLD_MS));
        }
      })
      .catch((error: unknown) => {
        if (error instanceof BodyRefused) return send(res, error.response(bodyLimitBytes, limits), true);
        if (error instanceof BadJson) return send(res, errorResponse(badRequest(error.message)));
        if (next !== undefined) return next(error);
        send(res, json(500, { error: 'internal error' }));
      });
  };
}

/** Why a body was not read to its end. */
class BodyRefused extends Error {
  constructor(readonly reason: 'too-large' | 'too-slow' | 'budget') {
    super(reason);
  }

  response(bodyLimitBytes: number, limits: { maxBufferedBytes: number; bodyTimeoutMs: number }): HttpResponse {
    if (this.reason === 'too-large') return json(413, { error: `the request body exceeds ${bodyLimitBytes} bytes` });
    if (this.reason === 'too-slow') return json(408, { error: `the request body did not arrive within ${limits.bodyTimeoutMs} ms` });
    return json(503, { error: `the server holds its limit of request bodies (${limits.maxBufferedBytes} bytes); retry later` }, { 'retry-after': '1' });
  }
}

class BadJson extends Error {}

function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (error) {
    throw new BadJson(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The body, within `limit` bytes and `timeoutMs`; `take` reserves each chunk's bytes in the
 * listener's budget (false: refused). A declared Content-Length that cannot fit is refused
 * before a byte is read.
 */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number, take: (bytes: number) => boolean): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new BodyRefused('too-large'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (reason: BodyRefused['reason']) => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.resume();
      reject(new BodyRefused(reason));
    };
    const timer = setTimeout(() => stop('too-slow'), timeoutMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) return stop('too-large');
      if (!take(chunk.byteLength)) return stop('budget');
      chunks.push(chunk);
    });
    req.once('end', () => {
      clearTimeout(timer);
      // One chunk (a small body) is used as it is; more are joined once.
      resolve(size === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function send(res: ServerResponse, response: HttpResponse, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...response.headers, 'content-length': typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.byteLength };
  if (close) headers['connection'] = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
