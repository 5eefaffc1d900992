import { randomUUID } from 'node:crypto';
import { show } from '../errors/index.js';

/**
 * The one rule for what a request id may be, wherever one arrives (`predict`'s `id`,
 * `feedback`'s request id, `x-request-id`, the KServe body `id`, the gRPC `id`): 1–128
 * visible ASCII characters (0x21–0x7E), so an id a response carried is always one feedback
 * accepts, and an id is safe to put in a header or a log line.
 */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The id {@link newRequestId} made last: known to follow the rule, so the check of it is one comparison. */
let lastGenerated: string | undefined;

export function isRequestId(value: unknown): value is string {
  // An adapter names a request with a fresh id, then hands that same id to `predict` in the same turn.
  return typeof value === 'string' && (value === lastGenerated || REQUEST_ID.test(value));
}

/**
 * A fresh request id (a UUID: 36 characters, unique across processes without coordination),
 * for a request the client did not name. `isRequestId` accepts the last one made without reading
 * it again; every other id is read as before.
 */
export function newRequestId(): string {
  lastGenerated = randomUUID();
  return lastGenerated;
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
