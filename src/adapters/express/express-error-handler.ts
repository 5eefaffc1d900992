import type { ErrorRequestHandler } from 'express';

/** What body-parser (express.json(), express.raw(), …) passes to `next` when it refuses a body. */
interface BodyParserError {
  readonly type: string;
  readonly status: number;
  readonly expose?: boolean;
  readonly message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  const e = error as Partial<BodyParserError> | null;
  return typeof e === 'object' && e !== null && typeof e.type === 'string' && typeof e.status === 'number' && e.status >= 400 && e.status < 500;
}

/** The protocols' message for each body-parser refusal; others say what body-parser said when it may be shown. */
const MESSAGES: Readonly<Record<string, (error: BodyParserError) => string>> = {
  'entity.parse.failed': (e) => `the request body is not valid JSON: ${e.message}`,
  'entity.too.large': () => 'the request body is larger than the body parser in front of modelhost allows',
  'encoding.unsupported': (e) => `the request body's encoding is not supported: ${e.message}`,
  'charset.unsupported': (e) => `the request body's charset is not supported: ${e.message}`,
  'request.aborted': () => 'the client aborted the request body',
};

/**
 * An Express error handler that answers the refusals of a body parser mounted in front of
 * modelhost (`app.use(express.json())`: malformed JSON, a body over its `limit`, an
 * unsupported encoding) with the protocols' JSON error, `{ "error": "…" }` and the parser's
 * 4xx status, instead of Express's HTML error page with a stack trace. Anything else goes to
 * the next error handler. Mount it after the router, at the same path:
 *
 * ```ts
 * app.use(express.json());
 * app.use('/ml', createExpressRouter(host), createExpressErrorHandler());
 * ```
 */
export function createExpressErrorHandler(): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (!isBodyParserError(error) || res.headersSent) return next(error);
    const message = MESSAGES[error.type]?.(error) ?? (error.expose === true ? error.message : 'the request body was refused');
    const close = error.type === 'entity.too.large' || error.type === 'request.aborted';
    res.status(error.status).set(close ? { connection: 'close' } : {}).json({ error: message });
  };
}
