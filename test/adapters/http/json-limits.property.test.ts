/**
 * The JSON limits walk (depth, value count, numbers past a double, integers a double rounded)
 * is recursive, with arrays of numbers checked in a loop of their own: for any body and any
 * limits it must refuse with the very message the stack walk it replaced did (the first limit
 * that walk met), and accept what it accepted. The reference below is that walk, as it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../../src/adapters/http/json-body.js';
import { resolveHttpOptions, type HttpRequest } from '../../../src/adapters/http/http-types.js';

/** The walk before issue 17's third pass: two stacks, a container's values before its containers, containers last first. */
function referenceWalk(root: unknown, maxDepth: number, maxElements: number): string | undefined {
  const pending: object[] = [];
  const depths: number[] = [];
  let elements = 0;
  if (typeof root === 'object' && root !== null) {
    pending.push(root);
    depths.push(1);
  } else {
    if (maxDepth < 1) return `the JSON body nests deeper than ${maxDepth} levels`;
    if (++elements > maxElements) return `the JSON body holds more than ${maxElements} values`;
    if (typeof root === 'number' && root - root !== 0) return 'the JSON body holds a number too large for a double (past 1.8e308)';
  }
  while (pending.length > 0) {
    const value = pending.pop()!;
    const depth = depths.pop()!;
    if (depth > maxDepth) return `the JSON body nests deeper than ${maxDepth} levels`;
    const items: readonly unknown[] = Array.isArray(value) ? value : Object.values(value);
    for (const item of items) {
      if (typeof item === 'object' && item !== null) {
        pending.push(item);
        depths.push(depth + 1);
        continue;
      }
      if (++elements > maxElements) return `the JSON body holds more than ${maxElements} values`;
      if (typeof item === 'number' && item - item !== 0) return 'the JSON body holds a number too large for a double (past 1.8e308)';
    }
  }
  return undefined;
}

function request(text: string): HttpRequest {
  return { method: 'POST', url: '/v2/models/m/infer', headers: {}, body: Buffer.from(text), signal: new AbortController().signal };
}

/**
 * What parseJson answers: the refusal's message, or undefined when the body passes. The limits
 * go straight to the walk, past the options' range checks (0, or deeper than JSON_MAX_DEPTH_LIMIT).
 */
function refusal(text: string, maxDepth: number, maxElements: number): string | undefined {
  try {
    parseJson(request(text), { ...resolveHttpOptions(), maxDepth, maxElements });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// Numbers of every kind the walk tells apart: small, fractional, past 2^53, overflowing a double.
const number = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('9007199254740993', '-1e300', '1e400', '-1e400', '0.5'));
const leaf = fc.oneof(number, fc.constantFrom('"a"', 'true', 'null'));
const { json } = fc.letrec<{ json: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf.map(String),
    fc.array(number, { maxLength: 8 }).map((list) => `[${list.join(',')}]`),
    fc.array(tie('json'), { maxLength: 4 }).map((list) => `[${list.join(',')}]`),
    fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'inputs', 'data', '0', '12'), tie('json')), { maxLength: 4, selector: ([key]) => key }).map((entries) => `{${entries.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
  ),
}));

describe('the JSON limits walk', () => {
  it('refuses with the message the stack walk did, and passes what it passed, for any body and limits', () => {
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 40 }), (text, maxDepth, maxElements) => {
        expect(refusal(text, maxDepth, maxElements)).toBe(referenceWalk(JSON.parse(text), maxDepth, maxElements));
      }),
      { numRuns: 5000 },
    );
  });

  it('a body breaking two limits is refused for the one the stack walk met first', () => {
    // Values of a container come before the containers it holds: the overflow, not the depth.
    expect(refusal('{"deep":[[[[1]]]],"big":1e400}', 3, 100)).toBe('the JSON body holds a number too large for a double (past 1.8e308)');
    // In an array of numbers, the count passes its bound before the overflowing number is reached.
    expect(refusal('[1,2,3,1e400]', 5, 3)).toBe('the JSON body holds more than 3 values');
    expect(refusal('[1,2,3,1e400]', 5, 4)).toBe('the JSON body holds a number too large for a double (past 1.8e308)');
    // Containers are walked last first: the later sibling's refusal is the one given.
    expect(refusal('[[[[[1]]]],[1e400]]', 3, 100)).toBe('the JSON body holds a number too large for a double (past 1.8e308)');
  });

  it('a maxDepth deeper than recursion goes is walked without recursion', () => {
    const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    expect(refusal(nested(5000), 6000, 100)).toBeUndefined();
    expect(refusal(nested(5000), 4999, 100)).toBe('the JSON body nests deeper than 4999 levels');
    expect(refusal(nested(900), 1000, 100)).toBeUndefined();
    expect(refusal(nested(1001), 1000, 100)).toBe('the JSON body nests deeper than 1000 levels');
  });

  it('an integer a double rounded is read again with every digit (the walk tells it apart)', () => {
    const value = parseJson(request('{"a":[1,9007199254740993]}'), resolveHttpOptions({}));
    expect(value).toEqual({ a: [1, 9007199254740993n] });
  });
});
