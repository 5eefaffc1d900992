/**
 * How a documented answer (the `# …` lines under a command in the docs) is compared with the
 * real one, and its one placeholder rule for values no one can know in advance (a generated
 * request id): in a JSON answer, the string value `"…"` matches any string, and a string
 * ending in `…` (`"3f0c…"`) matches any string starting with what comes before it. Nothing
 * else is loose: the key must be there and its value a string, so a placeholder cannot hide
 * a missing field, a number, or an answer of another shape. Text answers are compared as
 * written (whitespace runs count as one space), without placeholders.
 */
import { expect } from 'vitest';

export const PLACEHOLDER = '…';

/** `expected` (parsed JSON) with each placeholder string replaced by the matcher it stands for. */
export function withPlaceholders(expected: unknown): unknown {
  if (typeof expected === 'string') {
    if (!expected.endsWith(PLACEHOLDER)) return expected;
    const prefix = expected.slice(0, -PLACEHOLDER.length);
    return prefix === '' ? expect.any(String) : expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  }
  if (Array.isArray(expected)) return expected.map(withPlaceholders);
  if (expected !== null && typeof expected === 'object') return Object.fromEntries(Object.entries(expected).map(([key, value]) => [key, withPlaceholders(value)]));
  return expected;
}
