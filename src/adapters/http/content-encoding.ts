/**
 * Request bodies are read as sent: a body under a content coding (gzip, deflate, br…) is
 * refused with 415 naming the coding, never parsed as if it were JSON ("not UTF-8"). Not
 * decoded on purpose: inflating would let a few KB claim gigabytes (a zip bomb) past the
 * body limit, and clients that compress can send identity at no cost on a local network.
 * A body a framework already decoded and parsed (Express's `express.json()` inflates) passes.
 * A transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`: Node's parser
 * removes the chunking and hands on the gzip) is refused the same way, with RFC 9112's 501.
 */
import { quoted } from '../../errors/option-checks.js';
import { json } from './http-errors.js';
import type { HttpRequest, HttpResponse } from './http-types.js';

/** No coding: shared, since nearly every request's headers name none. */
const NONE: readonly string[] = Object.freeze([]);

/** The codings a coding header lists, lower-cased, without `skip` (the one that changes nothing). */
function codingsOf(header: string | readonly string[] | undefined, skip: string): readonly string[] {
  if (header === undefined) return NONE;
  return (typeof header === 'string' ? header : header.join(','))
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== skip);
}

/** The content codings a request's body is under, `identity` left out (`[]`: read as sent). */
export function contentCodings(headers: HttpRequest['headers']): readonly string[] {
  return codingsOf(headers['content-encoding'], 'identity');
}

/** The transfer codings a request's body is under besides `chunked` (which Node's parser removes): `[]` when none. */
export function transferCodings(headers: HttpRequest['headers']): readonly string[] {
  return codingsOf(headers['transfer-encoding'], 'chunked');
}

/** Whether the body is under any coding (content or transfer) this server does not decode. */
export function bodyIsEncoded(headers: HttpRequest['headers']): boolean {
  return contentCodings(headers).length > 0 || transferCodings(headers).length > 0;
}

/**
 * The 501 for a body under a transfer coding other than `chunked` (RFC 9112 §6.1: a server that
 * receives a transfer coding it does not understand responds 501), or the 415 for one under a
 * content coding other than `identity`; undefined when the body is read as sent.
 */
export function unsupportedBodyEncoding(request: HttpRequest): HttpResponse | undefined {
  if (request.parsedBody !== undefined || request.body === undefined || request.body.byteLength === 0) return undefined;
  const transfer = transferCodings(request.headers);
  if (transfer.length > 0) {
    const named = listed(transfer);
    return json(501, { error: `the request body has Transfer-Encoding ${named}, which this server does not decode: send it with chunked alone or a Content-Length` });
  }
  return unsupportedContentEncoding(request);
}

/** The 415 for a body under a content coding other than `identity`; undefined when it is read as sent. */
export function unsupportedContentEncoding(request: HttpRequest): HttpResponse | undefined {
  if (request.parsedBody !== undefined || request.body === undefined || request.body.byteLength === 0) return undefined;
  const codings = contentCodings(request.headers);
  if (codings.length === 0) return undefined;
  const named = listed(codings);
  // RFC 7694 §3: a 415 for a content coding lists the codings the server does accept.
  return json(415, { error: `the request body has Content-Encoding ${named}, which this server does not decode: send it uncompressed (identity)` }, { 'accept-encoding': 'identity' });
}

/** The first few codings, quoted, for a message: a header may list thousands. */
function listed(codings: readonly string[]): string {
  const named = codings.slice(0, 4).map((c) => quoted(c)).join(', ');
  return codings.length > 4 ? `${named} and ${codings.length - 4} more` : named;
}
