import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ModelHost } from 'modelhost';
import { createHttpHandler } from './http-handler.js';
import { json } from './http-errors.js';
import { resolveHttpOptions, type HttpOptions, type HttpResponse } from './http-types.js';

export type NodeListener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/**
 * A `node:http` request listener (also an Express/Connect middleware: unknown paths go to
 * `next`). It reads the body within `bodyLimitBytes` (413 beyond), and a client that
 * disconnects aborts its request: a queued inference is cancelled and frees its slot.
 */
export function createNodeListener(host: ModelHost, options: HttpOptions = {}): NodeListener {
  const handle = createHttpHandler(host, options);
  const { bodyLimitBytes } = resolveHttpOptions(options);
  return (req, res, next) => {
    const controller = new AbortController();
    // 'close' on the response before it finished: the client went away.
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
    });
    // Behind a framework's body parser (express.json()) the stream is consumed: use what it parsed.
    const parsed = (req as { body?: unknown }).body;
    const consumed = req.readableEnded && parsed !== undefined;
    const alreadyParsed = consumed && !(parsed instanceof Uint8Array);
    const body = consumed || req.method === 'GET' || req.method === 'HEAD' ? Promise.resolve(undefined) : readBody(req, bodyLimitBytes);
    body
      .then(async (bytes) => {
        const response = await handle({
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers: req.headers,
          body: bytes ?? (parsed instanceof Uint8Array ? parsed : undefined),
          parsedBody: alreadyParsed ? parsed : undefined,
          signal: controller.signal,
        });
        if (response === undefined) {
          if (next !== undefined) return next();
          return send(res, json(404, { error: `no route for ${req.method} ${req.url}` }));
        }
        send(res, response);
      })
      .catch((error: unknown) => {
        if (error instanceof BodyTooLarge) return send(res, json(413, { error: `the request body exceeds ${bodyLimitBytes} bytes` }), true);
        if (next !== undefined) return next(error);
        send(res, json(500, { error: 'internal error' }));
      });
  };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(size === 0 ? undefined : new Uint8Array(Buffer.concat(chunks, size))));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, response: HttpResponse, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...response.headers, 'content-length': typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.byteLength };
  if (close) headers['connection'] = 'close';
  res.writeHead(response.status, headers);
  res.end(response.body);
}
