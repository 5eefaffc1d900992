import { show } from '../errors/index.js';

/**
 * The one rule for what a request id may be, wherever one arrives (`predict`'s `id`,
 * `feedback`'s request id, `x-request-id`, the KServe body `id`, the gRPC `id`): 1–128
 * visible ASCII characters (0x21–0x7E), so an id a response carried is always one feedback
 * accepts, and an id is safe to put in a header or a log line.
 */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export function isRequestId(value: unknown): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

/** How a refused id is described: `name`, the rule, and what was received (cut short; integers whole). */
export function requestIdProblem(name: string, value: unknown): string {
  const got =
    value === undefined
      ? 'none'
      : typeof value === 'string'
        ? `${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)} (${value.length} characters)`
        : typeof value === 'bigint'
          ? String(value)
          : show(value);
  return `${name} must be 1–128 visible ASCII characters (no spaces), got ${got}`;
}
