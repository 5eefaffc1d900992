/**
 * Request bodies are read as sent: a body under a content coding (gzip, deflate, br…) is
 * refused with 415 naming the coding, never parsed as if it were JSON ("not UTF-8"). Not
 * decoded on purpose: inflating would let a few KB claim gigabytes (a zip bomb) past the
 * body limit, and clients that compress can send identity at no cost on a local network.
 * A body a framework already decoded and parsed (Express's `express.json()` inflates) passes.
 */
import { quoted } from '../../errors/option-checks.js';
import { json } from './http-errors.js';
import type { HttpRequest, HttpResponse } from './http-types.js';

/** The content codings a request's body is under, `identity` left out (`[]`: read as sent). */
export function contentCodings(headers: HttpRequest['headers']): string[] {
  const header = headers['content-encoding'];
  if (header === undefined) return [];
  return (typeof header === 'string' ? header : header.join(','))
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
}

/** The 415 for a body under a content coding other than `identity`; undefined when it is read as sent. */
export function unsupportedContentEncoding(request: HttpRequest): HttpResponse | undefined {
  if (request.parsedBody !== undefined || request.body === undefined || request.body.byteLength === 0) return undefined;
  const codings = contentCodings(request.headers);
  if (codings.length === 0) return undefined;
  const named = codings.map((c) => quoted(c)).join(', ');
  // RFC 7694 §3: a 415 for a content coding lists the codings the server does accept.
  return json(415, { error: `the request body has Content-Encoding ${named}, which this server does not decode: send it uncompressed (identity)` }, { 'accept-encoding': 'identity' });
}
