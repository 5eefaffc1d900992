import { isAscii, isUtf8 } from 'node:buffer';
import { parse as parseLossless } from 'lossless-json';
import { badRequest } from './http-errors.js';
import type { HttpRequest, ResolvedHttpOptions } from './http-types.js';

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

/**
 * The request's JSON body as {@link parseJson} reads it, except that the arrays `unread` picks
 * from the parsed value (in document order; one out of order is read as usual) are counted by
 * their length and not read: the caller converts them
 * itself in one pass (json-numbers.ts). Only valid when the caller then checks that every one
 * of them holds plain numbers within ±2^53, the values the walk would have passed (and counted
 * one each); when one does not, or when this answers undefined (a body parsed ahead, a maxDepth
 * past recursion, a refusal, an integer a double rounded), call parseJson, which decides and
 * words the answer. Throws what parseJson throws for a body that is not JSON text.
 */
export function parseJsonUnread(request: HttpRequest, options: ResolvedHttpOptions, unread: (value: object) => readonly unknown[]): { value: object; unread: readonly unknown[] } | undefined {
  if (request.parsedBody !== undefined || options.maxDepth > RECURSION_DEPTH || options.maxDepth < 1) return undefined;
  const value = parseText(textOf(request.body), options, false);
  if (typeof value !== 'object' || value === null) return undefined;
  const arrays = unread(value);
  const walk = new LimitsWalk(options.maxDepth, options.maxElements, arrays);
  try {
    walk.container(value, 1);
  } catch {
    return undefined; // counted on assumptions: parseJson finds the refusal the walk would
  }
  return walk.rounded ? undefined : { value, unread: arrays };
}

/**
 * The body as text, without a copy of its bytes: ASCII (the usual JSON body) as Latin-1, the
 * rest only when it is valid UTF-8 (checked first: refused, never replaced). A leading byte
 * order mark is dropped, as TextDecoder does.
 */
export function textOf(raw: Uint8Array | undefined): string {
  if (raw === undefined || raw.byteLength === 0) throw badRequest('the request body is empty; expected JSON');
  const bytes = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? raw.subarray(3) : raw;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isAscii(buffer)) return buffer.toString('latin1');
  if (!isUtf8(buffer)) throw badRequest('the request body is not UTF-8 text; JSON must be');
  return buffer.toString('utf8');
}

function parseText(text: string, options: ResolvedHttpOptions, exactIntegers: boolean): unknown {
  // lossless-json recurses per level: refuse deep nesting before it does, in one linear scan.
  if (exactIntegers && nestsDeeper(text, options.maxDepth)) throw badRequest(`the JSON body nests deeper than ${options.maxDepth} levels`);
  try {
    return exactIntegers ? parseLossless(text, null, LOSSLESS_OPTIONS) : JSON.parse(text);
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A key given twice keeps its last value, as JSON.parse does: the same body means the same request whichever parser reads it. */
const LOSSLESS_OPTIONS = { parseNumber: exactNumber, onDuplicateKey: ({ newValue }: { newValue: unknown }) => newValue };

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
const NUMBER_LITERAL = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * A JSON number literal as a number, or as a bigint when it is an integer a double cannot
 * hold, however it is written (`9007199254740993`, `9007199254740993.0`, `1e18`).
 */
function exactNumber(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !Number.isInteger(n)) return n;
  if (INTEGER_LITERAL.test(text)) return BigInt(text);
  const match = NUMBER_LITERAL.exec(text);
  if (match === null) return n;
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  // The literal's digits and the power of ten they are scaled by (finite: |n| < 1.8e308).
  const digits = whole! + fraction;
  const scale = Number(exponent) - fraction.length;
  if (scale >= 0) return BigInt(sign + digits + '0'.repeat(scale));
  // A fraction: an integer only when every digit it drops is 0 (9007199254740993.5 stays a number, and is refused as one).
  const kept = digits.length + scale;
  if (kept <= 0 || !/^0*$/.test(digits.slice(kept))) return n;
  return BigInt(sign + digits.slice(0, kept));
}

/**
 * Refuses a body past the limits (depth, count, a number past a double); true when it holds an
 * integer too large for a double to hold exactly. One walk that allocates nothing per value.
 */
function checkLimits(root: unknown, maxDepth: number, maxElements: number): boolean {
  const walk = new LimitsWalk(maxDepth, maxElements);
  if (typeof root === 'object' && root !== null) {
    // Recursion is bounded by maxDepth; past what the stack surely holds, the iterative walk.
    if (maxDepth <= RECURSION_DEPTH) walk.container(root, 1);
    else walk.iterative(root);
  } else {
    if (maxDepth < 1) throw tooDeep(maxDepth);
    walk.leaf(root);
  }
  return walk.rounded;
}

/** The deepest `maxDepth` walked by recursion (each level is one small frame). */
const RECURSION_DEPTH = 1000;

/**
 * The limits walk. Every container's values are checked before the containers it holds, which
 * are then walked last first: the order (and so the error, when a body breaks two limits) of the
 * stack walk this replaced. Arrays of numbers, the bulk of a tensor body, are checked in a loop
 * of their own (V8 still boxes the doubles it reads there, since the loop also sees arrays of
 * small integers: docs/benchmarks.md, issue 17's third pass).
 */
class LimitsWalk {
  elements = 0;
  rounded = false;

  constructor(
    private readonly maxDepth: number,
    private readonly maxElements: number,
    /**
     * Arrays counted by their length, unread (parseJsonUnread), in the order the walk meets
     * them (document order). Matched by a cursor, not searched: a search per array met made
     * the walk quadratic in the count of inputs (200,000 one-value inputs took a minute).
     */
    private readonly unread: readonly unknown[] = [],
  ) {}

  /** The next array of `unread` the walk will meet. */
  private nextUnread = 0;

  container(value: object, depth: number): void {
    if (depth > this.maxDepth) throw tooDeep(this.maxDepth);
    if (Array.isArray(value)) {
      if (this.nextUnread < this.unread.length && value === this.unread[this.nextUnread]) {
        this.nextUnread++;
        if ((this.elements += value.length) > this.maxElements) throw tooMany(this.maxElements);
        return;
      }
      if (this.numbers(value)) return;
      this.values(value, depth);
    } else this.values(Object.values(value), depth);
  }

  /** A whole array of numbers checked in one loop; false (nothing counted) when it holds anything else. */
  private numbers(list: readonly unknown[]): boolean {
    let rounded = false;
    for (let i = 0; i < list.length; i++) {
      const item = list[i];
      if (typeof item !== 'number') return false;
      // JSON has no Infinity: a literal like 1e400 overflowed the double it was parsed into.
      if (item - item !== 0) {
        // Counted up to it first, as the value-by-value walk would have.
        if (this.elements + i + 1 > this.maxElements) throw tooMany(this.maxElements);
        throw notADouble();
      }
      if (item > Number.MAX_SAFE_INTEGER || item < -Number.MAX_SAFE_INTEGER) rounded ||= Number.isInteger(item);
    }
    if ((this.elements += list.length) > this.maxElements) throw tooMany(this.maxElements);
    this.rounded ||= rounded;
    return true;
  }

  private values(items: readonly unknown[], depth: number): void {
    let containers = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item === 'object' && item !== null) containers++;
      else this.leaf(item);
    }
    for (let i = items.length - 1; containers > 0; i--) {
      const item = items[i];
      if (typeof item !== 'object' || item === null) continue;
      containers--;
      this.container(item, depth + 1);
    }
  }

  leaf(item: unknown): void {
    if (++this.elements > this.maxElements) throw tooMany(this.maxElements);
    if (typeof item !== 'number') return;
    if (item - item !== 0) throw notADouble();
    if (item > Number.MAX_SAFE_INTEGER || item < -Number.MAX_SAFE_INTEGER) this.rounded ||= Number.isInteger(item);
  }

  /** The same walk on two explicit stacks, for a `maxDepth` deeper than recursion may go. */
  iterative(root: object): void {
    const pending: object[] = [root];
    const depths: number[] = [1];
    while (pending.length > 0) {
      const value = pending.pop()!;
      const depth = depths.pop()!;
      if (depth > this.maxDepth) throw tooDeep(this.maxDepth);
      const items: readonly unknown[] = Array.isArray(value) ? value : Object.values(value);
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item === 'object' && item !== null) {
          pending.push(item);
          depths.push(depth + 1);
        } else this.leaf(item);
      }
    }
  }
}

function tooDeep(maxDepth: number): Error {
  return badRequest(`the JSON body nests deeper than ${maxDepth} levels`);
}

function tooMany(maxElements: number): Error {
  return badRequest(`the JSON body holds more than ${maxElements} values`);
}

function notADouble(): Error {
  return badRequest('the JSON body holds a number too large for a double (past 1.8e308)');
}
