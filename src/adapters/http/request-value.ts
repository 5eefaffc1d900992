/**
 * How a value a client sent is echoed in an error message: as JSON text, cut short, with
 * integers exactly as received. Integers past 2^53 arrive as bigints (the exact-integer
 * parse) and are written as their digits, never rounded through a double or quoted.
 */
const BIGINT_MARK = '\u0000bigint:';
const MARKED = /"\\u0000bigint:(-?\d+)"/g;

export function describeRequestValue(value: unknown, limit = 60): string {
  if (typeof value === 'bigint') return String(value);
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${BIGINT_MARK}${v}` : v))?.replace(MARKED, '$1') ?? String(value);
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}
