import { badRequest } from './http-errors.js';
import type { HttpRequest, ResolvedHttpOptions } from './http-types.js';

/**
 * The request's JSON body, within the depth and element limits (a 10 MB body of nested
 * arrays must not cost unbounded work later). `bytes` overrides the body (KServe binary
 * extension: only the JSON header part).
 */
export function parseJson(request: HttpRequest, options: ResolvedHttpOptions, bytes?: Uint8Array): unknown {
  let value: unknown;
  if (bytes === undefined && request.parsedBody !== undefined) {
    value = request.parsedBody;
  } else {
    const raw = bytes ?? request.body;
    if (raw === undefined || raw.byteLength === 0) throw badRequest('the request body is empty; expected JSON');
    try {
      value = JSON.parse(new TextDecoder().decode(raw));
    } catch (error) {
      throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
    }
  }
  checkLimits(value, options.maxDepth, options.maxElements);
  return value;
}

function checkLimits(root: unknown, maxDepth: number, maxElements: number): void {
  let elements = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > maxDepth) throw badRequest(`the JSON body nests deeper than ${maxDepth} levels`);
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'object' && item !== null) stack.push([item, depth + 1]);
        else if (++elements > maxElements) throw badRequest(`the JSON body holds more than ${maxElements} values`);
      }
    } else if (typeof value === 'object' && value !== null) {
      for (const item of Object.values(value)) {
        if (typeof item === 'object' && item !== null) stack.push([item, depth + 1]);
        else if (++elements > maxElements) throw badRequest(`the JSON body holds more than ${maxElements} values`);
      }
    }
  }
}
