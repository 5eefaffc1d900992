import { describeRequestValue } from './request-value.js';

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
  const got = value === undefined ? 'none' : typeof value === 'string' ? `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)} (${value.length} characters)` : describeRequestValue(value);
  return `${name} must be 1–128 visible ASCII characters (no spaces), got ${got}`;
}
