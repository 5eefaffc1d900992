import { parse as parseLossless } from 'lossless-json';
import { badRequest } from './http-errors.js';
import type { HttpRequest, ResolvedHttpOptions } from './http-types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface ParseJsonOptions {
  /** Bytes to parse instead of the body (KServe binary extension: only the JSON header part). */
  readonly bytes?: Uint8Array;
  /**
   * Integer literals beyond 2^53 become bigints with all their digits (lossless-json) instead
   * of the nearest double. Only bodies for models with INT64/UINT64 inputs ask for it: the
   * others keep the native JSON.parse (docs/benchmarks.md has the cost of each).
   */
  readonly exactIntegers?: boolean;
}

/**
 * The request's JSON body, within the depth and element limits (a 10 MB body of nested
 * arrays must not cost unbounded work later). The body must be UTF-8: other bytes are refused,
 * never replaced. A body parsed ahead (a framework's parser, or the listener's for a large
 * body) is taken as it is, unless it holds an integer a double rounded: then the raw bytes,
 * when there are any, are read again digit for digit (a framework that consumed them leaves
 * its integers past 2^53 as it made them).
 */
export function parseJson(request: HttpRequest, options: ResolvedHttpOptions, parse: ParseJsonOptions = {}): unknown {
  const raw = parse.bytes ?? request.body;
  const parsedAhead = parse.bytes === undefined && request.parsedBody !== undefined;
  let value = parsedAhead ? request.parsedBody : parseText(textOf(raw), options, parse.exactIntegers === true);
  // An integer past 2^53 that a double rounded: read the bytes again with every digit, so the
  // request (and any message echoing it) is exact. Rare: the common path walks the body once.
  if (checkLimits(value, options.maxDepth, options.maxElements) && (parsedAhead || parse.exactIntegers !== true) && raw !== undefined && raw.byteLength > 0) {
    value = parseText(textOf(raw), options, true);
    checkLimits(value, options.maxDepth, options.maxElements);
  }
  return value;
}

function textOf(raw: Uint8Array | undefined): string {
  if (raw === undefined || raw.byteLength === 0) throw badRequest('the request body is empty; expected JSON');
  try {
    return utf8.decode(raw);
  } catch {
    throw badRequest('the request body is not UTF-8 text; JSON must be');
  }
}

function parseText(text: string, options: ResolvedHttpOptions, exactIntegers: boolean): unknown {
  // lossless-json recurses per level: refuse deep nesting before it does, in one linear scan.
  if (exactIntegers && nestsDeeper(text, options.maxDepth)) throw badRequest(`the JSON body nests deeper than ${options.maxDepth} levels`);
  try {
    return exactIntegers ? parseLossless(text, null, exactNumber) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Whether brackets outside strings nest deeper than `maxDepth`. */
function nestsDeeper(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const INTEGER_LITERAL = /^-?\d+$/;

/** A JSON number literal as a number, or as a bigint when it is an integer a double cannot hold. */
function exactNumber(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !INTEGER_LITERAL.test(text)) return n;
  return BigInt(text);
}

/** Refuses a body past the limits; true when it holds an integer too large for a double to hold exactly. */
function checkLimits(root: unknown, maxDepth: number, maxElements: number): boolean {
  let elements = 0;
  let rounded = false;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > maxDepth) throw badRequest(`the JSON body nests deeper than ${maxDepth} levels`);
    const items = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : [value];
    for (const item of items) {
      if (typeof item === 'object' && item !== null) stack.push([item, depth + 1]);
      else {
        if (++elements > maxElements) throw badRequest(`the JSON body holds more than ${maxElements} values`);
        // JSON has no Infinity: a literal like 1e400 overflowed the double it was parsed into.
        if (typeof item === 'number' && !Number.isFinite(item)) throw badRequest('the JSON body holds a number too large for a double (past 1.8e308)');
        if (typeof item === 'number' && Math.abs(item) > Number.MAX_SAFE_INTEGER && Number.isInteger(item)) rounded = true;
      }
    }
  }
  return rounded;
}
