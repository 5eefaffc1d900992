import { ErrorCode } from './error-code.js';
import { ModelHostError } from './model-host-error.js';

/**
 * Small validators for options and config files. Each throws INVALID_CONFIG with an
 * "`path` must be X, got Y" message (p-queue / undici style) and returns the value typed.
 */
/**
 * The longest duration a Node timer holds, ms (2^31 − 1, about 24.8 days): a longer one fires
 * after 1 ms (TimeoutOverflowWarning). Every duration option is at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function invalidOption(path: string, expected: string, got: unknown): ModelHostError {
  return new ModelHostError(ErrorCode.INVALID_CONFIG, `\`${path}\` must be ${expected}, got ${show(got)}`);
}

export function checkInteger(value: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(path, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function checkNumber(value: unknown, path: string, min = 0, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw invalidOption(path, max === Number.POSITIVE_INFINITY ? `a number ≥ ${min}` : `a number from ${min} to ${max}`, value);
  }
  return value;
}

export function checkBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw invalidOption(path, 'true or false', value);
  return value;
}

export function checkString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw invalidOption(path, 'a non-empty string', value);
  return value;
}

export function checkOneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalidOption(path, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

export function checkFunction<T extends (...args: never[]) => unknown>(value: unknown, path: string): T {
  if (typeof value !== 'function') throw invalidOption(path, 'a function', value);
  return value as T;
}

/** A plain object whose keys are all in `known`; a typo gets a "did you mean" hint. */
export function checkObject(value: unknown, path: string, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidOption(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const hint = closest(key, known);
      throw new ModelHostError(
        ErrorCode.INVALID_CONFIG,
        `\`${path}\` has an unknown option '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}; known options: ${known.join(', ')}`,
      );
    }
  }
  return value as Record<string, unknown>;
}

/**
 * A string from a client or a caller, for a message: JSON-quoted, cut at `max` characters (a
 * path segment or key may be kilobytes), with every invisible character escaped (`visible`).
 */
export function quoted(text: string, max = 40): string {
  return visible(JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text));
}

/**
 * Characters JSON leaves raw that a log line or a terminal must not get from a client: C1
 * controls, line and paragraph separators (a new line in many log viewers) and format
 * characters (bidi overrides that reorder the rest of a line, zero-width ones).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `json` with each `INVISIBLE` character as `\uXXXX` escapes (two past the BMP, a surrogate pair): still the same JSON string. */
function visible(json: string): string {
  return json.replace(INVISIBLE, (c) => {
    let escaped = '';
    for (let i = 0; i < c.length; i++) escaped += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return escaped;
  });
}

/**
 * A received value for a message, cut short; bigints (nested too) exactly, as `123n`, and
 * NaN and ±Infinity as themselves (JSON would say `null`).
 */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return String(value);
  try {
    const literal = (_: string, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}n` : typeof v === 'number' && !Number.isFinite(v) ? `\u0000${v}` : v);
    const json = JSON.stringify(value, literal).replace(/"\\u0000(-?\d+n|NaN|-?Infinity)"/g, '$1');
    return visible(json.length > 60 ? `${json.slice(0, 60)}…` : json);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The candidate within two edits of `word` (case aside), for a "did you mean" hint; undefined when none is. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
