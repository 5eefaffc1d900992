/**
 * What a request id may be, for every route that takes one (`x-request-id`, the KServe body
 * `id`, the feedback `id`): 1–128 visible ASCII characters (0x21–0x7E), so an id a response
 * carried is always one feedback accepts.
 */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/** How a refused id is described in a 400: the rule and what was received (cut short). */
export function requestIdProblem(name: string, value: unknown): string {
  const got = value === undefined ? 'none' : typeof value === 'string' ? `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)} (${value.length} characters)` : jsonOf(value);
  return `${name} must be 1–128 visible ASCII characters (no spaces), got ${got}`;
}

/** A non-string value from a body as JSON, cut short; the bigints of exact-integer parsing as their digits. */
function jsonOf(value: unknown): string {
  if (typeof value === 'bigint') return String(value);
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
