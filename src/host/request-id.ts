import { randomFillSync } from 'node:crypto';
import { quoted, show } from '../errors/index.js';

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
  lastGenerated = randomUuid();
  return lastGenerated;
}

/** UUIDs' random bytes are drawn this many at a time (as `crypto.randomUUID` caches them). */
const UUIDS_PER_FILL = 128;
const random = Buffer.alloc(16 * UUIDS_PER_FILL);
let nextUuid = UUIDS_PER_FILL;
/** The UUID's text is written here as ASCII bytes, then read out as one string. */
const text = Buffer.alloc(36);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A random (version 4) UUID, the text `crypto.randomUUID()` makes from the same CSPRNG, as
 * one string: `randomUUID` concatenates 20 pieces, and the cons strings and their flattening
 * were ~0.5 KB of garbage per request the HTTP adapter named (docs/benchmarks.md, issue 17's
 * sixth pass).
 */
function randomUuid(): string {
  if (nextUuid === UUIDS_PER_FILL) {
    randomFillSync(random);
    nextUuid = 0;
  }
  const at = 16 * nextUuid++;
  let out = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) text[out++] = 0x2d; // '-'
    let byte = random[at + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x40; // version 4
    else if (i === 8) byte = (byte & 0x3f) | 0x80; // RFC 9562 variant
    text[out++] = HEX_DIGITS[byte >> 4]!;
    text[out++] = HEX_DIGITS[byte & 0x0f]!;
  }
  return text.toString('latin1', 0, 36);
}

/** How a refused id is described: `name`, the rule, and what was received (cut short; integers whole). */
export function requestIdProblem(name: string, value: unknown): string {
  const got =
    value === undefined
      ? 'none'
      : typeof value === 'string'
        ? `${quoted(value)} (${value.length} character${value.length === 1 ? '' : 's'})`
        : typeof value === 'bigint'
          ? String(value)
          : show(value);
  return `${name} must be 1–128 visible ASCII characters (no spaces), got ${got}`;
}
