/**
 * The handler reads a plain request path as it is, without a URL object: for any target it
 * must find the very path `new URL` does (dot segments, percent-encoding, backslashes and
 * all), and refuse what `new URL` refuses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathOf } from '../../../src/adapters/http/http-handler.js';

function viaUrl(target: string): string | undefined {
  try {
    return new URL(target.startsWith('/') ? `http://localhost${target}` : target, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

const piece = fc.oneof(
  fc.constantFrom('v2', 'models', 'mlp', 'infer', 'versions', '1', '.', '..', '%2e', '%2E%2e', '', 'a b', 'x\\y', 'é', '%', '%zz', '~', "a'b", 'm:predict', '#f', '?q=1', '[', '|', '^', '`'),
  fc.string({ maxLength: 6 }),
);
const target = fc.tuple(fc.constantFrom('/', '//', 'http://h/', '', '*'), fc.array(piece, { maxLength: 6 }), fc.option(fc.string({ maxLength: 6 }), { nil: undefined })).map(([head, parts, query]) => `${head}${parts.join('/')}${query === undefined ? '' : `?${query}`}`);

describe('pathOf', () => {
  it('is the pathname new URL finds, for any target', () => {
    fc.assert(fc.property(target, (t) => {
        expect(pathOf(t)).toBe(viaUrl(t));
      }), { numRuns: 3000 });
  });

  it.each([
    ['/v2/models/mlp-onnx/infer', '/v2/models/mlp-onnx/infer'],
    ['/v1/models/m:predict?x=1', '/v1/models/m:predict'],
    ['/v2/models/../health/live', '/v2/health/live'],
    ['/v2/models/%2e%2e/x', '/v2/x'],
    ['/v2\\models', '/v2/models'],
    ['/v2/models/a b', '/v2/models/a%20b'],
    ['/v2/./models/m/', '/v2/models/m/'],
  ])('%s → %s', (t, expected) => {
    expect(pathOf(t)).toBe(expected);
  });
});
